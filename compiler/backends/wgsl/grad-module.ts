// The training step as WGSL kernels (compiler/train/webgpu-trainer.ts runs them): the forward
// graph, the loss, the backward graph (compiler/train/autodiff.ts's GradOps) and the optimiser
// update, each kernel over the whole batch at once, over one arena that keeps the weights,
// the batch's gradient sums and the optimiser state on the device across steps
// (grad-layout.ts). Phases, in dispatch order:
//   forward   every forward node, every sample (batch norm in training mode: the batch's
//             statistics first, a workgroup per channel)
//   loss      each sample's loss; `correct` each sample's correctly classified positions
//   backward  the GradOps; a weight's gradient kernels write the batch's sum directly
//   stats     one workgroup: the squared global norm of g = sum / B and a flag set when any
//             gradient or loss is not finite
//   update    the optimiser (compiler/train/optim.ts, as PyTorch defines it) on every trained
//             element; it does nothing when the flag is set, so a bad step changes nothing,
//             and it clips to the global norm itself, so no read-back sits between the
//             backward pass and the update.
//   running   batch norm in training mode: the running statistics follow the batch's,
//             unless the check failed
// Evaluation runs `evaluate` (the forward on the running statistics) and the loss.
// Ops without a kernel are listed by `unsupportedOps` so that the caller says so first.

import type { Node, Weight } from "../../ir/graph.js";
import { deconvAsConv, type Op } from "../../ir/ops.js";
import type { OptimiserConfig } from "../../train/optim.js";
import type { GradNode, TrainGraph } from "../../train/graph.js";
import { unsupportedStepOps } from "../../train/step-coverage.js";
import { GradContext, items, single, u, WG, type WgslKernel } from "./grad-kernel.js";
import { gradLayout, type GradLayout, weightSideValues } from "./grad-layout.js";
import { broadcastBinary, reduceTo } from "./grad-broadcast.js";
import { tiledBiasGrad, unsharedForward, unsharedGradInput, unsharedGradKernel } from "./grad-unshared.js";
import { activationForward, activationGrad, activationTrainable, batchnormBatchGradInput, batchnormForward, batchnormRunning, batchStatistics, statsIndex, batchnormGradGamma, batchnormGradInput, biasGradChannel, biasGradLocation, concat, correct, denseForward, denseGradInput, denseGradKernel, loss, lossGrad, maxoutForward, maxoutGrad, product, sliceRun, softmaxForward, softmaxGrad, sum } from "./grad-pointwise.js";
import { convForward, convGradInput, convGradKernel, poolForward, poolGrad, poolTrainable } from "./grad-window.js";
import { f32Lit } from "./prelude.js";
import { logSoftmaxGrad, moveForward, moveGrad } from "./grad-move.js";

const size = (shape: readonly unknown[]): number => (shape as number[]).reduce((a, b) => a * b, 1);

export interface TrainingWgsl {
  readonly layout: GradLayout;
  readonly tables: Int32Array;
  readonly forward: readonly WgslKernel[];
  /** How many of `forward`'s kernels each forward node has, in order. */
  readonly forwardCounts: readonly number[];
  /** The forward for evaluation: batch norm on its running statistics (else the same kernels). */
  readonly evaluate: readonly WgslKernel[];
  /** The loss, then (for classifiers) the correct counts. */
  readonly loss: readonly WgslKernel[];
  readonly backward: readonly WgslKernel[];
  readonly stats: WgslKernel;
  readonly update: WgslKernel;
  readonly running: readonly WgslKernel[];
}

/** The ops of a training graph that the WebGPU step has no kernel for (empty: it runs). */
export function unsupportedOps(tg: TrainGraph): string[] {
  return unsupportedStepOps(tg, {
    pool: poolTrainable,
    activation: activationTrainable,
    batchStatistics: true,
    forward: (op: Op) => (op.kind === "conv" && op.bias !== "channel" && op.bias !== "location" && op.bias !== "none" ? `conv with ${op.bias} bias` : undefined),
  });
}

export function slotCount(c: OptimiserConfig): number {
  return c.kind === "sgd" ? (c.momentum > 0 ? 1 : 0) : 2;
}

export function emitTrainingWgsl(tg: TrainGraph, optimiser: OptimiserConfig): TrainingWgsl {
  const missing = unsupportedOps(tg);
  if (missing.length) throw new Error(`internal error: the WebGPU training step has no kernel for ${missing.join(", ")}`);
  const layout = gradLayout(tg, slotCount(optimiser));
  const ctx = new GradContext(layout);
  const perNode = tg.forward.nodes.map((n) => [emitForward(ctx, tg, n, false)].flat());
  const forward = perNode.flat();
  const forwardCounts = perNode.map((ks) => ks.length);
  // Only a training-mode batch norm differs in evaluation; every other node's kernels are shared.
  const evaluate = layout.batchStats.size ? tg.forward.nodes.flatMap((n, j) => (n.op.kind === "batchnorm" ? emitForward(ctx, tg, n, true) : perNode[j])) : forward;
  const running = tg.forward.nodes.flatMap((n) => {
    const at = n.op.kind === "batchnorm" ? layout.batchStats.get(n.weights.running_mean as Weight) : undefined;
    if (at === undefined) return [];
    const shape = shapeOf(tg, n.inputs[0]);
    return [batchnormRunning(ctx, shape[0], size(shape.slice(1)), at, n.weights.running_mean as Weight, n.weights.running_var as Weight)];
  });
  const lossNode = tg.nodes.find((n) => n.op.kind === "loss") as GradNode;
  const pred = shapeOf(tg, tg.prediction);
  const lossKind = tg.lossKind;
  const lossKernels = [loss(ctx, lossKind, pred[0], size(pred.slice(1)), tg.prediction, tg.target, lossNode.output)];
  if (lossKind === "softmax_cross_entropy" || lossKind === "cross_entropy") {
    const out = shapeOf(tg, tg.output.value);
    lossKernels.push(correct(ctx, out[0], size(out.slice(1)), tg.output.value, tg.target, layout.correct));
  }
  const side = weightSideValues(tg);
  const backward = tg.nodes.filter((n) => n.op.kind !== "loss").flatMap((n) => emitGrad(ctx, tg, n, side));
  return { layout, tables: ctx.tables(), forward, forwardCounts, evaluate, loss: lossKernels, backward, stats: stats(ctx, lossNode.output), update: update(ctx, optimiser), running };
}

function shapeOf(tg: TrainGraph, v: number): number[] {
  return tg.values[v].shape as number[];
}

/** `running`: batch norm on its running statistics even in training mode (evaluation). */
function emitForward(ctx: GradContext, tg: TrainGraph, n: Node, running: boolean): WgslKernel | WgslKernel[] {
  const op = n.op;
  const x = n.inputs[0];
  const shape = shapeOf(tg, x);
  switch (op.kind) {
    case "conv":
      return convForward(ctx, op, shape, { x, y: n.output, weight: n.weights.weight as Weight, bias: op.bias === "none" ? undefined : n.weights.bias });
    case "pool":
    case "adaptive_pool":
      return poolForward(ctx, op, shape, x, n.output);
    case "deconv":
      // The transpose of the conv that maps the output's size to the input's: that conv's input gradient.
      return convGradInput(ctx, deconvAsConv(op, shape[0]), shapeOf(tg, n.output), x, n.weights.weight as Weight, n.output, op.bias === "none" ? undefined : n.weights.bias);
    case "local":
    case "tiled":
      return unsharedForward(ctx, op, shape, x, n.weights.weight as Weight, op.bias === "none" ? undefined : n.weights.bias, n.output);
    case "dense":
      return denseForward(ctx, op.units, size(shape), x, n.weights.weight as Weight, op.bias === "none" ? undefined : n.weights.bias, n.output);
    case "activation":
      return activationForward(ctx, op.fn, op.alpha, op.beta, size(shape), x, n.output);
    case "softmax":
      return softmaxForward(ctx, shape[0], size(shape.slice(1)), x, n.output);
    case "add":
    case "mul": {
      const out = shapeOf(tg, n.output);
      if (n.inputs.some((v) => size(shapeOf(tg, v)) !== size(out))) {
        return broadcastBinary(ctx, op.kind, out, n.inputs.map((v) => ({ v, shape: shapeOf(tg, v) })), n.output);
      }
      return op.kind === "add" ? sum(ctx, size(out), true, n.inputs, n.output) : product(ctx, size(out), n.inputs[0], n.inputs[1], n.output);
    }
    case "flatten":
    case "reshape":
      return sum(ctx, size(shapeOf(tg, n.output)), true, n.inputs, n.output);
    case "batchnorm": {
      const { weight: gamma, bias: beta, running_mean: mean, running_var: variance } = n.weights;
      if (!gamma || !beta || !mean || !variance) throw new Error(`internal error: batch norm ${n.layer} lacks its parameters`);
      const at = running ? undefined : ctx.layout.batchStats.get(mean);
      const per = size(shape.slice(1));
      if (at === undefined) return batchnormForward(ctx, op.eps, shape[0], per, x, { gamma, beta, mean: (i) => ctx.w(mean, i), variance: (i) => ctx.w(variance, i) }, n.output);
      return [...batchStatistics(ctx, shape[0], per, x, at), batchnormForward(ctx, op.eps, shape[0], per, x, { gamma, beta, mean: statsIndex(at, shape[0], 0), variance: statsIndex(at, shape[0], 1) }, n.output)];
    }
    case "maxout":
      return maxoutForward(ctx, shape[0], size(shape.slice(1)), op.k, x, n.output);
    case "concat":
      return concat(ctx, n.inputs.map((v) => [v, size(shapeOf(tg, v))] as const), n.output);
    case "slice":
    case "pad":
    case "resize":
      return moveForward(ctx, op, shape, x, n.output);
    case "log_softmax":
      return softmaxForward(ctx, shape[0], size(shape.slice(1)), x, n.output, true);
    default:
      throw new Error(`internal error: no WebGPU training kernel for ${op.kind}`);
  }
}

function emitGrad(ctx: GradContext, tg: TrainGraph, n: GradNode, side: ReadonlySet<number>): WgslKernel | WgslKernel[] {
  const op = n.op;
  const [a, b] = n.inputs;
  const out = n.output;
  const outShape = shapeOf(tg, out);
  const w = n.weights.weight as Weight;
  switch (op.kind) {
    case "conv_grad_input":
      return convGradInput(ctx, op.conv, op.inShape, a, w, out);
    case "conv_grad_kernel":
      return convGradKernel(ctx, op.conv, shapeOf(tg, a), a, b, out);
    case "dense_grad_input":
      return denseGradInput(ctx, size(shapeOf(tg, a)), size(op.inShape), a, w, out);
    case "dense_grad_kernel":
      return denseGradKernel(ctx, size(shapeOf(tg, b)), size(shapeOf(tg, a)), a, b, out);
    case "deconv_grad_input":
      return convForward(ctx, deconvAsConv(op.deconv, outShape[0]), shapeOf(tg, a), { x: a, y: out, weight: w, bias: undefined });
    case "deconv_grad_kernel":
      return convGradKernel(ctx, deconvAsConv(op.deconv, shapeOf(tg, a)[0]), shapeOf(tg, b), b, a, out);
    case "local_grad_input":
      return unsharedGradInput(ctx, op.local, op.inShape, a, w, out);
    case "tiled_grad_input":
      return unsharedGradInput(ctx, op.tiled, op.inShape, a, w, out);
    case "local_grad_kernel":
      return unsharedGradKernel(ctx, op.local, shapeOf(tg, a), a, b, out);
    case "tiled_grad_kernel":
      return unsharedGradKernel(ctx, op.tiled, shapeOf(tg, a), a, b, out);
    case "bias_grad": {
      const dy = shapeOf(tg, a);
      if (op.bias === "tiled") return tiledBiasGrad(ctx, dy[0], dy.slice(1), op.tiles, a, out);
      return op.bias === "channel" ? biasGradChannel(ctx, dy[0], size(dy.slice(1)), a, out) : biasGradLocation(ctx, size(dy), a, out);
    }
    case "pool_grad":
    case "adaptive_pool_grad":
      return poolGrad(ctx, op.pool, shapeOf(tg, a), a, b, out);
    case "activation_grad":
      return activationGrad(ctx, op.fn, op.alpha, op.beta, size(outShape), a, b, out);
    case "softmax_grad":
      return softmaxGrad(ctx, outShape[0], size(outShape.slice(1)), a, b, out);
    case "reshape_grad":
      return sum(ctx, size(outShape), true, [a], out);
    case "unbroadcast": {
      const dy = shapeOf(tg, a);
      return size(dy) === size(op.shape) ? sum(ctx, size(outShape), true, [a], out) : reduceTo(ctx, dy, a, op.shape, out);
    }
    case "move_grad":
      return moveGrad(ctx, op.op, op.inShape, a, out);
    case "log_softmax_grad":
      return logSoftmaxGrad(ctx, outShape[0], size(outShape.slice(1)), a, b, out);
    case "slice_channels": {
      const count = size(outShape);
      return sliceRun(ctx, count, a, op.start * (count / op.count), out);
    }
    case "mul_grad": {
      const dy = shapeOf(tg, a);
      const other = shapeOf(tg, b);
      if (size(dy) === size(op.shape) && size(dy) === size(other)) return product(ctx, size(outShape), a, b, out);
      return reduceTo(ctx, dy, a, op.shape, out, { v: b, shape: other });
    }
    case "batchnorm_grad_input": {
      const variance = n.weights.running_var;
      if (!variance) throw new Error("internal error: a batch norm gradient lacks the running variance");
      return batchnormGradInput(ctx, op.eps, outShape[0], size(outShape.slice(1)), a, w, variance, out);
    }
    case "batchnorm_grad_gamma": {
      const { running_mean: mean, running_var: variance } = n.weights;
      if (!mean || !variance) throw new Error("internal error: a batch norm gradient lacks the running statistics");
      const xs = shapeOf(tg, a);
      // In training mode the statistics are the batch's.
      const at = ctx.layout.batchStats.get(mean);
      const [m, v] = at === undefined ? [(i: string) => ctx.w(mean, i), (i: string) => ctx.w(variance, i)] : [statsIndex(at, xs[0], 0), statsIndex(at, xs[0], 1)];
      return batchnormGradGamma(ctx, op.eps, xs[0], size(xs.slice(1)), a, b, m, v, out);
    }
    case "batchnorm_batch_grad_input": {
      const at = ctx.layout.batchStats.get(n.weights.running_mean as Weight);
      if (at === undefined) throw new Error("internal error: a training-mode batch norm has no place for its statistics");
      const xs = shapeOf(tg, a);
      return batchnormBatchGradInput(ctx, op.eps, xs[0], size(xs.slice(1)), a, b, w, at, out);
    }
    case "maxout_grad":
      return maxoutGrad(ctx, outShape[0], size(outShape.slice(1)), op.k, a, b, out);
    case "accumulate":
      return sum(ctx, size(outShape), !side.has(out), n.inputs, out);
    case "loss_grad": {
      const pred = shapeOf(tg, a);
      return lossGrad(ctx, op.loss, pred[0], size(pred.slice(1)), a, b, out);
    }
    default:
      throw new Error(`internal error: no WebGPU training kernel for ${op.kind}`);
  }
}

/** One workgroup: stats[0] = sum of (g / B)^2 over every trained element, stats[1] = 1 when a gradient or a loss is not finite. */
function stats(ctx: GradContext, lossValue: number): WgslKernel {
  const { gradBase, gradCount } = ctx.layout;
  return single(
    "stats",
    `var<workgroup> part: array<f32, ${WG}>;\nvar<workgroup> flags: array<u32, ${WG}>;`,
    `  var sq = 0.0;
  var bad = 0u;
  for (var i = lid; i < ${u(gradCount)}; i += ${u(WG)}) {
    let g = A[${u(gradBase)} + i] * U.scale;
    if (not_finite(g)) { bad = 1u; } else { sq += g * g; }
  }
  for (var b = lid; b < U.nb; b += ${u(WG)}) {
    if (not_finite(A[${ctx.at(lossValue, "b", "0u")}])) { bad = 1u; }
  }
  part[lid] = sq;
  flags[lid] = bad;
  workgroupBarrier();
  for (var s = ${u(WG / 2)}; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; flags[lid] = flags[lid] | flags[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { A[0] = part[0]; A[1] = f32(flags[0]); }`,
  );
}

/** The optimiser on every trained element: w, grads, slots line up (grad-layout.ts). */
function update(ctx: GradContext, c: OptimiserConfig): WgslKernel {
  const { gradBase, gradCount, slotBases } = ctx.layout;
  const wBase = ctx.layout.trained.length ? (ctx.layout.weights.get(ctx.layout.trained[0]) as number) : 0;
  const f = f32Lit;
  const W = `A[${u(wBase)} + e]`;
  const S = (k: number) => `A[${u(slotBases[k])} + e]`;
  let body: string;
  if (c.kind === "sgd") {
    const momentum =
      c.momentum > 0
        ? `  let buf = select(${f(c.momentum)} * ${S(0)} + d, d, U.first != 0u);
  ${S(0)} = buf;
  ${c.nesterov ? `d = d + ${f(c.momentum)} * buf;` : "d = buf;"}\n`
        : "";
    body = `  var d = g + ${f(c.weightDecay)} * w;\n${momentum}  ${W} = w - U.lr * d;`;
  } else {
    body = `  ${c.kind === "adamw" ? `w = w - U.lr * ${f(c.weightDecay)} * w;` : ""}
  let d = ${c.kind === "adam" ? `g + ${f(c.weightDecay)} * w` : "g"};
  let m = ${f(c.beta1)} * ${S(0)} + ${f(1 - c.beta1)} * d;
  let v = ${f(c.beta2)} * ${S(1)} + ${f(1 - c.beta2)} * d * d;
  ${S(0)} = m;
  ${S(1)} = v;
  ${W} = w - (U.lr * (m / U.bc1)) / (sqrt(v / U.bc2) + ${f(c.eps)});`;
  }
  const clip = c.clip > 0 ? `  let norm = sqrt(A[0]);\n  let clip = select(1.0, ${f(c.clip)} / (norm + 1e-6), norm > ${f(c.clip)});\n` : "  let clip = 1.0;\n";
  return items(
    "update",
    Math.max(gradCount, 1),
    false,
    `  if (A[1] != 0.0 || e >= ${u(gradCount)}) { return; }
${clip}  let g = A[${u(gradBase)} + e] * U.scale * clip;
  var w = ${W};
${body}`,
  );
}
