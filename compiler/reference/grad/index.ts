// The executable definition of every gradient op (ir/grad-ops.ts), float64, one sample:
// the oracle the backends' training kernels are held to, itself held to central finite
// differences of the forward reference (tests/train).

import type { WeightRole } from "../../ir/graph.js";
import { assertNever } from "../../ir/ops.js";
import type { GradOp } from "../../ir/grad-ops.js";
import type { Tensor } from "../tensor.js";
import { tensor } from "../tensor.js";
import { biasGrad, convGradInput, convGradKernel, deconvGradInput, deconvGradKernel, unsharedGradInput, unsharedGradKernel } from "./conv-grad.js";
import { lossAndGrad } from "./loss.js";
import { accumulate, activationGrad, batchnormBatchGradInput, batchnormGradGamma, batchnormGradInput, denseGradInput, denseGradKernel, logSoftmaxGrad, mulGrad, sliceChannels, softmaxGrad, unbroadcast } from "./pointwise-grad.js";
import { adaptivePoolGrad, maxoutGrad, poolGrad } from "./pool-grad.js";
import { padGrad, resizeGrad, sliceGrad } from "./move-grad.js";

export { lossAndGrad } from "./loss.js";

export type GradWeights = Readonly<Partial<Record<WeightRole, Tensor>>>;

function need(t: Tensor | undefined, what: string, op: GradOp): Tensor {
  if (!t) throw new Error(`${op.kind} needs ${what}`);
  return t;
}

/** Evaluates one gradient op on its inputs (in the order ir/grad-ops.ts gives) and the forward weights it reads. */
export function evalGrad(op: GradOp, xs: readonly Tensor[], w: GradWeights): Tensor {
  switch (op.kind) {
    case "conv_grad_input":
      return convGradInput(xs[0], op, need(w.weight, "the kernel", op));
    case "conv_grad_kernel":
      return convGradKernel(xs[0], xs[1], op.conv);
    case "deconv_grad_input":
      return deconvGradInput(xs[0], op.deconv, need(w.weight, "the kernel", op));
    case "deconv_grad_kernel":
      return deconvGradKernel(xs[0], xs[1], op);
    case "local_grad_input":
    case "tiled_grad_input":
      return unsharedGradInput(xs[0], op, need(w.weight, "the kernel", op));
    case "local_grad_kernel":
      return unsharedGradKernel(xs[0], xs[1], op.local);
    case "tiled_grad_kernel":
      return unsharedGradKernel(xs[0], xs[1], op.tiled);
    case "bias_grad":
      return biasGrad(xs[0], op.bias, op.tiles);
    case "batchnorm_grad_input":
      return batchnormGradInput(xs[0], need(w.weight, "gamma", op), need(w.running_var, "the running variance", op), op.eps);
    case "batchnorm_batch_grad_input":
      throw new Error(`${op.kind} reads the whole batch: evaluate it with evalBatchGrad`);
    case "batchnorm_grad_gamma":
      return batchnormGradGamma(xs[0], xs[1], need(w.running_mean, "the running mean", op), need(w.running_var, "the running variance", op), op.eps);
    case "pool_grad":
      return poolGrad(xs[0], xs[1], op.pool);
    case "adaptive_pool_grad":
      return adaptivePoolGrad(xs[0], xs[1], op.pool);
    case "maxout_grad":
      return maxoutGrad(xs[0], xs[1], op.k);
    case "activation_grad":
      return activationGrad(xs[0], xs[1], op.fn, op.alpha, op.beta);
    case "softmax_grad":
      return softmaxGrad(xs[0], xs[1]);
    case "dense_grad_input":
      return denseGradInput(xs[0], need(w.weight, "the kernel", op), op.inShape);
    case "dense_grad_kernel":
      return denseGradKernel(xs[0], xs[1]);
    case "reshape_grad":
      return tensor(op.shape, xs[0].data);
    case "unbroadcast":
      return unbroadcast(xs[0], op.shape);
    case "mul_grad":
      return mulGrad(xs[0], xs[1], op.shape);
    case "move_grad":
      if (op.op.kind === "slice") return sliceGrad(xs[0], op.op, op.inShape);
      return op.op.kind === "pad" ? padGrad(xs[0], op.op, op.inShape) : resizeGrad(xs[0], op.op, op.inShape);
    case "log_softmax_grad":
      return logSoftmaxGrad(xs[0], xs[1]);
    case "slice_channels":
      return sliceChannels(xs[0], op.start, op.count);
    case "accumulate":
      return accumulate(xs);
    case "loss":
      return tensor([1], [lossAndGrad(op.loss, xs[0], xs[1]).loss]);
    case "loss_grad":
      return lossAndGrad(op.loss, xs[0], xs[1]).grad;
    default:
      return assertNever(op);
  }
}

/** The batch-level gradient ops, on every sample's inputs at once. */
export function isBatchGrad(op: GradOp): boolean {
  return op.kind === "batchnorm_batch_grad_input";
}

export function evalBatchGrad(op: GradOp, xs: readonly (readonly Tensor[])[], w: GradWeights): Tensor[] {
  if (op.kind !== "batchnorm_batch_grad_input") throw new Error(`${op.kind} is evaluated one sample at a time`);
  return batchnormBatchGradInput(
    xs.map((s) => s[0]),
    xs.map((s) => s[1]),
    need(w.weight, "gamma", op),
    need(w.running_mean, "the batch mean", op),
    need(w.running_var, "the batch variance", op),
    op.eps,
  );
}
