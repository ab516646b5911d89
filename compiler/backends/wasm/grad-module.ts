// The training step as one WebAssembly module: the forward graph, the loss, the backward graph
// (compiler/train/autodiff.ts's GradOps) and the optimiser update, over one memory that holds
// the weights, the batch's gradient sums and the optimiser state, so that a step copies in a
// sample and calls once; nothing but the images, labels and losses crosses to JavaScript.
//
// Memory (bytes, every region 16-aligned and static: training specialises every size):
//   [0, 1024)      unused
//   params         f64 x 8: the update's run-time numbers (learning rate, 1/B and clip scale,
//                  first step, Adam's bias corrections), written by the trainer before `update`
//   weights        every forward weight, f32, trained in place
//   grads          per trained weight: the sum over the batch's samples of dJ/dW (a kernel
//                  or bias gradient that nothing else reads adds into it directly)
//   slots          per trained weight: momentum, or Adam's two moments
//   values         one sample's forward and backward values (the step runs sample by sample
//                  and sums the weight gradients, so one sample's activations are all it keeps),
//                  planned: values whose lives do not meet share places (train/value-plan.ts)
//   chunks         per dense layer whose kernel gradient is summed straight: the x and dy of
//                  up to CHUNK samples, which one GEMM adds to the sum when the chunk fills
//                  (and at `flush()`), and the count of samples in the chunk
//   tables         the window ops' tap tables and avg divisors (copied in by the trainer),
//                  the convolutions' im2col columns (written by the forward, read
//                  again by the kernel gradient: the sample's input is unchanged in between),
//                  and the max pools' arg-max per output (written by the forward, read by
//                  the pool gradient)
//   samples        batch mode only (below): one region per sample of the batch, after
//                  everything else, each holding that sample's planned values
//
// Batch mode (batch norm in training mode): a batch norm needs the whole batch's statistics
// before any sample goes past it, and its input gradient sums over the batch. The values then
// live in per-sample regions (train/value-plan.ts keeps only what later kernels read; each
// kernel addresses its sample's region from the `sample_base` global), and `batch(count)`
// runs phases: a sample phase runs its kernels for each sample in turn, a batch phase is one
// kernel over every sample (a batch norm's statistics and normalisation, its input gradient,
// and at the end the dense kernel gradients as one GEMM over the batch). `running()` moves
// the running statistics after a good update; `select(b)` points `evaluate()` at a region;
// `forward_k()` reruns forward node k over the batch for a failed step's report. Emitted for
// threads, batch mode also has `begin(count, total)` and stages `stage_0` to `stage_E`: the
// same phases over this thread's share of the batch, each batch norm cut in two at an
// exchange (grad-batchnorm-parts.ts), where the stage stops with the share's per-channel sums
// in memory for the trainer to combine with the other threads' (train/batch-exchange.ts).
//
// The memory is imported (env.memory): its size is known only once the kernels have asked for
// their tables. Exports: `sample()` runs forward, loss, backward and adds the weight gradients
// to the sums; `evaluate()` runs forward and loss; `zero()` clears the sums and runs
// `prepare()`, which makes the Winograd layers' transformed kernels from the weights
// (grad-winograd.ts); `flush()` adds the partly filled chunks, and the Winograd layers' kernel
// gradients, to the sums (the trainer calls it after a batch's samples); `norm()` writes the
// squared norm of the scaled sums to params[5]; `update()` applies the
// optimiser to every trained weight with g = sum * params[1] (compiler/train/optim.ts's
// definitions, which follow PyTorch). Ops without a kernel here are listed by
// `unsupportedOps` so that the caller can say so before emitting (training falls back to the
// reference then).

import type { Node, Weight } from "../../ir/graph.js";
import { type ConvOp, deconvAsConv } from "../../ir/ops.js";
import type { OptimiserConfig } from "../../train/optim.js";
import type { GradNode, TrainGraph } from "../../train/graph.js";
import { unsupportedStepOps } from "../../train/step-coverage.js";
import { type PlanStep, planValues } from "../../train/value-plan.js";
import { binaryen, binaryenLoaded } from "./binaryen.js";
import { Fn, Int, View } from "./builder.js";
import { emitBroadcastBinary, emitReduceTo } from "./grad-broadcast.js";
import { emitTiledBiasGrad, emitUnsharedForward, emitUnsharedGradInput, emitUnsharedGradKernel } from "./grad-unshared.js";
import { copy, flatView, type GradKernelContext, when, zero } from "./grad-context.js";
import { rowGemm } from "./grad-gemm.js";
import { emitBatchNormApply, emitBatchNormGradApply, emitBatchNormGradPartials, emitBatchNormPartials } from "./grad-batchnorm-parts.js";
import { activationTrainable, emitActivationForward, emitBatchNormBatchGradInput, emitBatchNormRunningUpdate, emitBatchNormTrainForward, emitAddChannelBias, emitBatchNormForward, emitBatchNormGradGamma, emitBatchNormGradInput, emitActivationGrad, emitBiasGradChannel, emitDenseForward, emitDenseGradInput, emitDenseGradKernel, emitLoss, emitMaxoutForward, emitMaxoutGrad, emitSoftmaxForward, emitSoftmaxGrad, emitSum } from "./grad-pointwise.js";
import { accumulate } from "./grad-simd.js";
import { emitLogSoftmaxGrad, emitMoveForward, emitMoveGrad } from "./grad-move.js";
import { emitConvForward, emitConvGradInput, emitConvGradKernel, emitPoolForward, emitPoolGrad, poolTrainable } from "./grad-window.js";
import { MathImports } from "./math.js";
import { chooseTrainConv, type TrainAlgorithmSetting, type TrainConvChoice } from "./grad-algorithms.js";
import { emitWinogradForward, emitWinogradGradInput, emitWinogradGradKernel, emitWinogradKernelGradient, emitWinogradKernelTransform, type WinogradBuffers, winogradFloats } from "./grad-winograd.js";

const LOW = 1024;
const align = (n: number) => Math.ceil(n / 16) * 16;

export interface TrainingLayout {
  readonly memoryBytes: number;
  /** Byte address of every value's buffer (one sample). */
  readonly values: ReadonlyMap<number, number>;
  readonly weights: ReadonlyMap<Weight, number>;
  /** The batch's gradient sums, per trained weight. */
  readonly grads: ReadonlyMap<Weight, number>;
  /** Optimiser state per trained weight (0, 1 or 2 tensors of the weight's size). */
  readonly slots: ReadonlyMap<Weight, readonly number[]>;
  /** f64 x 8: [lr, gradient scale, first step (1/0), 1 - beta1^t, 1 - beta2^t, squared norm (`norm`'s output)]. */
  readonly params: number;
  readonly tables: readonly { readonly offset: number; readonly data: Uint8Array }[];
  /**
   * Batch norm in training mode: every sample of the batch has its own region of `stride`
   * bytes from `start` (the memory must reach start + count * stride), and `values` are offsets
   * within a region. Absent: one sample's values, at the addresses in `values`.
   */
  readonly samples?: { readonly start: number; readonly stride: number; readonly exchanges: readonly BatchExchange[] };
}

/**
 * Batch mode on several threads: where the stages stop for the batch's per-channel sums
 * (grad-batchnorm-parts.ts), in the order the stages reach them. `offset`: the f64 x 2C area
 * that holds this thread's partials after stage j and the combined values before stage j + 1;
 * `per`: elements per channel of one sample.
 */
export interface BatchExchange {
  readonly kind: "statistics" | "gradient";
  readonly offset: number;
  readonly channels: number;
  readonly per: number;
}

export interface TrainingWasmOptions {
  readonly convAlgorithm?: TrainAlgorithmSetting;
  readonly relaxed?: boolean;
  readonly threads?: boolean;
}

export interface TrainingWasm {
  readonly binary: Uint8Array;
  readonly layout: TrainingLayout;
  /** Each convolution's algorithm, and why (grad-algorithms.ts). */
  readonly algorithms: readonly TrainConvChoice[];
}

const size = (shape: readonly unknown[]): number => (shape as number[]).reduce((a, b) => a * b, 1);

/** The ops of a training graph that the WebAssembly step has no kernel for (empty: it runs). */
export function unsupportedOps(tg: TrainGraph): string[] {
  return unsupportedStepOps(tg, { pool: poolTrainable, activation: activationTrainable, batchStatistics: true });
}

class Allocator {
  end = LOW;
  take(bytes: number): number {
    const at = this.end;
    this.end = align(this.end + bytes);
    return at;
  }
}


/**
 * Options. `convAlgorithm`: each convolution's algorithm (grad-algorithms.ts; `auto`, the
 * cost model, by default). `relaxed`: vector multiply-adds as `f32x4.relaxed_madd` (fused
 * where the CPU has FMA), for an engine that runs relaxed SIMD: the step is compiled where it
 * runs, so the trainer asks the engine rather than shipping two builds as a bundle does.
 * `threads`: batch mode also gets the stages that threads run (`begin`, `stage_j`, and the
 * batch norms cut at their exchanges). Without it they are left out, so that the one-thread
 * module is what it was: its kernels then have no other caller than `batch` (binaryen inlines
 * a function called once) and the memory no exchange areas.
 */
export function emitTrainingWasm(tg: TrainGraph, optimiser: OptimiserConfig, options: TrainingWasmOptions = {}): TrainingWasm {
  const { convAlgorithm = "auto", relaxed = false, threads = false } = options;
  if (!binaryenLoaded()) throw new Error("internal error: binaryen is not loaded; await loadBinaryen() before emitting");
  const missing = unsupportedOps(tg);
  if (missing.length) throw new Error(`internal error: the WebAssembly training step has no kernel for ${missing.join(", ")}`);
  const a = new Allocator();
  const params = a.take(64);
  // Tables are placed as the kernels ask for them: after everything else.
  const tableList: { offset: number; data: Uint8Array }[] = [];
  const tableAt = new Map<string, number>();
  const table = (key: string, data: () => Int32Array | Float32Array): number => {
    const hit = tableAt.get(key);
    if (hit !== undefined) return hit;
    const d = data();
    const at = a.take(d.byteLength + 16);
    tableList.push({ offset: at, data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) });
    tableAt.set(key, at);
    return at;
  };

  const weights = new Map<Weight, number>();
  for (const w of tg.forward.weights) weights.set(w, a.take(4 * size(w.shape)));
  const trained = [...new Set(tg.gradients.map((g) => g.weight))];
  const grads = new Map<Weight, number>();
  for (const w of trained) grads.set(w, a.take(4 * size(w.shape)));
  const slotCount = optimiser.kind === "sgd" ? (optimiser.momentum > 0 ? 1 : 0) : 2;
  const slots = new Map<Weight, number[]>();
  for (const w of trained) slots.set(w, Array.from({ length: slotCount }, () => a.take(4 * size(w.shape))));
  // Each convolution's algorithm (grad-algorithms.ts). A Winograd layer keeps its transformed
  // kernel U (made by `prepare`, at the start of every step) and the batch's kernel gradient
  // in the transform domain, dU (taken back into its sum by `flush`).
  const algorithms: TrainConvChoice[] = [];
  const fusedSums = fusedGradients(tg);
  const wino = new Map<Weight, WinogradBuffers & { op: ConvOp; C: number }>();
  const chosen = new Set<Weight>();
  for (const n of tg.forward.nodes) {
    const w = n.weights.weight;
    // One choice per weight: a weight used by several layers (repeat) has one U and one dU.
    if (n.op.kind !== "conv" || !w || chosen.has(w)) continue;
    chosen.add(w);
    const shape = inShape(tg, n.inputs[0]);
    // A weight shared by several layers (repeat) must see one input shape for one U.
    const uses = tg.forward.nodes.filter((o) => o.weights.weight === w);
    const same = uses.every((o) => JSON.stringify(inShape(tg, o.inputs[0])) === JSON.stringify(shape));
    const products = {
      input: tg.nodes.some((g) => g.op.kind === "conv_grad_input" && g.weights.weight === w),
      kernel: tg.nodes.some((g) => g.op.kind === "conv_grad_kernel" && fusedSums.get(g.output) === w),
    };
    const choice = same ? chooseTrainConv(n.op, shape, convAlgorithm, n.layer, products) : { layer: n.layer, algorithm: "gemm" as const, why: "its weights are shared by layers of different input sizes" };
    algorithms.push(choice);
    if (choice.algorithm !== "winograd") continue;
    const floats = winogradFloats(n.op, shape[0]);
    wino.set(w, { op: n.op, C: shape[0], u: a.take(4 * floats), du: a.take(4 * floats) });
  }
  // Batch norm in training mode: its statistics are the batch's, so no sample's forward can go
  // past it before every sample has reached it, and its input gradient sums over the batch.
  // The step then keeps every sample's values, each sample in a region of its own (addressed
  // from the `sample_base` global), and runs in phases (see `phases` below).
  const batchNorms = tg.batchStatistics ? tg.forward.nodes.filter((n) => n.op.kind === "batchnorm") : [];
  const batchMode = batchNorms.length > 0;
  const values = new Map<number, number>();
  let perSampleBytes = 0;
  {
    // A sample's values keep only what later kernels read (train/value-plan.ts), in the order
    // the kernels are built below; every place 16-aligned (sizes in whole f32x4 lanes). In
    // batch mode each sample has such a region; else the one sample's is a static block.
    const plan = planValues(stepOrder(tg, batchMode), new Set([...tg.forward.inputs.map((i) => i.value), tg.target, tg.loss, tg.output.value, ...tg.inputGradients.values()]), (v) => 4 * Math.ceil(size(tg.values[v].shape) / 4));
    const base = batchMode ? 0 : a.take(4 * plan.span);
    // A value no kernel reads or writes (a weight gradient added straight into its sum) needs
    // no place: it gets the block's start, which nothing addresses through it.
    for (const v of tg.values) values.set(v.id, base + 4 * (plan.at.get(v.id) ?? 0));
    perSampleBytes = 4 * plan.span;
  }
  // Each batch norm's batch statistics (f32 x 2C: means, then biased variances); the
  // gradients read them where the running statistics are read on fixed statistics.
  const stats = new Map<Node, number>();
  const statsOf = new Map<Weight, { at: number; count: number }>();
  for (const n of batchNorms) {
    const C = inShape(tg, n.inputs[0])[0];
    const at = a.take(8 * C);
    stats.set(n, at);
    statsOf.set(n.weights.running_mean as Weight, { at, count: C });
    statsOf.set(n.weights.running_var as Weight, { at: at + 4 * C, count: C });
  }

  const m = new binaryen.Module();
  try {
    m.setFeatures(binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt | binaryen.Features.SIMD128 | (relaxed ? binaryen.Features.RelaxedSIMD : 0));
    const math = new MathImports(m);
    const fnNames: { forward: string[]; loss: string[]; backward: string[] } = { forward: [], loss: [], backward: [] };
    let counter = 0;
    // A buffer shared by the forward and the backward of one sample (im2col columns, arg-max)
    // stays valid only while that sample's kernels run back to back: in phases, within one.
    const sharedAt = new Map<string, number>();
    let phase = 0;
    const shared = (key: string, floats: number): { at: number; fresh: boolean } => {
      const full = batchMode ? `${phase} ${key}` : key;
      const hit = sharedAt.get(full);
      if (hit !== undefined) return { at: hit, fresh: false };
      const at = a.take(4 * floats);
      sharedAt.set(full, at);
      return { at, fresh: true };
    };
    const i32 = binaryen.i32;
    /** Sample b's region: sample_start + b * sample_stride (globals: the stride is known last). */
    const regionOf = (fn: Fn, b: Int): Int => fn.let(Int.of(m, () => m.i32.add(m.global.get("sample_start", i32), m.i32.mul(b.expr(), m.global.get("sample_stride", i32))), true));
    const valueIn = (fn: Fn, base: Int, id: number): View => new View(fn, base, [fn.const(size(tg.values[id].shape))], values.get(id) as number, `v${id}`);
    const batchCount = (fn: Fn): Int => fn.atEntry("batch count", () => Int.of(m, () => m.global.get("batch_count", i32), true));
    /** `running`: batch norm's running statistics are read as they are (evaluation), not the batch's. */
    const kernel = (body: (k: GradKernelContext) => void, running = false): string => {
      const fn = new Fn(m, [], relaxed);
      const k: GradKernelContext = {
        fn,
        math,
        value: batchMode
          ? (id) => valueIn(fn, fn.atEntry("sample base", () => Int.of(m, () => m.global.get("sample_base", i32), true)), id)
          : (id) => flatView(fn, values.get(id) as number, size(tg.values[id].shape)),
        weight: (w) => {
          const st = running ? undefined : statsOf.get(w);
          return st ? flatView(fn, st.at, st.count) : flatView(fn, weights.get(w) as number, size(w.shape));
        },
        table,
        scratch: (floats) => a.take(4 * floats),
        shared,
      };
      body(k);
      const name = `k${counter++}`;
      fn.finish(name);
      return name;
    };
    // Memory must exist before any load or store is built, and the tables' sizes are known only
    // once the kernels are: the memory is imported (env.memory), and the trainer makes it
    // `memoryBytes` large.
    m.setMemory(1, 32768, "memory", [], false, false, "memory");
    m.addMemoryImport("memory", "env", "memory", false);
    // Phases (batch mode): a sample phase runs its kernels for each sample in turn; a batch
    // phase is one kernel over every sample (a batch norm's forward or input gradient). A batch
    // norm's phase also has its two halves for threads (`split`), which exchange the batch's
    // sums between them (see the stages below).
    const phases: { batch: boolean; names: string[]; split: { partial: string; apply: string } | false }[] = [];
    const exchanges: BatchExchange[] = [];
    const exchange = (kind: BatchExchange["kind"], channels: number, per: number): number => {
      const offset = a.take(16 * channels);
      exchanges.push({ kind, offset, channels, per });
      return offset;
    };
    const batchTotal = (fn: Fn): Int => fn.atEntry("batch total", () => Int.of(m, () => m.global.get("batch_total", i32), true));
    const toSamplePhase = () => {
      if (phases.length === 0 || phases[phases.length - 1].batch) phases.push({ batch: false, names: [], split: false });
      phase = phases.length - 1;
    };
    const inSamples = (name: string) => {
      if (batchMode) phases[phase].names.push(name);
      return name;
    };
    /** Sample b's buffer of value `id`, in a kernel over the batch. */
    const across = (fn: Fn, id: number) => (b: Int) => valueIn(fn, regionOf(fn, b), id);
    const evaluateNames: string[] = [];
    const forwardNames: string[] = [];
    for (const n of tg.forward.nodes) {
      const at = stats.get(n);
      if (at !== undefined) {
        const shape = inShape(tg, n.inputs[0]);
        const { weight: gamma, bias: beta } = n.weights;
        if (!gamma || !beta) throw new Error(`internal error: batch norm ${n.layer} lacks its parameters`);
        if (n.op.kind !== "batchnorm") throw new Error(`internal error: ${n.layer} is not a batch norm`);
        const { eps } = n.op;
        const [C, per] = [shape[0], size(shape.slice(1))];
        const ex = threads ? exchange("statistics", C, per) : 0;
        phases.push({
          batch: true,
          names: [kernel((k) => emitBatchNormTrainForward(k, eps, C, per, batchCount(k.fn), across(k.fn, n.inputs[0]), across(k.fn, n.output), { gamma: k.weight(gamma), beta: k.weight(beta) }, flatView(k.fn, at, 2 * C)))],
          split: threads && {
            partial: kernel((k) => emitBatchNormPartials(k, C, per, batchCount(k.fn), across(k.fn, n.inputs[0]), ex)),
            apply: kernel((k) => emitBatchNormApply(k, eps, C, per, batchCount(k.fn), across(k.fn, n.inputs[0]), across(k.fn, n.output), { gamma: k.weight(gamma), beta: k.weight(beta) }, flatView(k.fn, at, 2 * C), ex)),
          },
        });
        forwardNames.push(phases[phases.length - 1].names[0]);
        evaluateNames.push(kernel((k) => emitForward(k, tg, n, wino), true));
        continue;
      }
      toSamplePhase();
      const name = inSamples(kernel((k) => emitForward(k, tg, n, wino)));
      forwardNames.push(name);
      fnNames.forward.push(name);
      evaluateNames.push(name);
    }
    const fused = fusedGradients(tg);
    const deferred: { weight: Weight; units: number; n: number; x: number; dy: number }[] = [];
    // Dense kernel gradients over the batch: each sample's x and dy go into a chunk, and every
    // CHUNK samples (and at `flush`) one GEMM adds dY^T X to the sum, so that fc1's 48,000
    // sums are read and written once a chunk instead of once a sample.
    const chunkCount = a.take(16);
    const chunks: { weight: Weight; units: number; n: number; xs: number; dys: number }[] = [];
    for (const n of tg.nodes) {
      const w = fused.get(n.output);
      if (n.op.kind === "batchnorm_batch_grad_input") {
        const forward = tg.forward.nodes.find((f) => f.weights.running_mean === n.weights.running_mean && stats.has(f)) as Node;
        const at = stats.get(forward) as number;
        const shape = inShape(tg, n.output);
        const eps = n.op.eps;
        const [C, per] = [shape[0], size(shape.slice(1))];
        const gamma = n.weights.weight as Weight;
        const ex = threads ? exchange("gradient", C, per) : 0;
        phases.push({
          batch: true,
          names: [kernel((k) => emitBatchNormBatchGradInput(k, eps, C, per, batchCount(k.fn), across(k.fn, n.inputs[0]), across(k.fn, n.inputs[1]), across(k.fn, n.output), k.weight(gamma), flatView(k.fn, at, 2 * C)))],
          split: threads && {
            partial: kernel((k) => emitBatchNormGradPartials(k, C, per, batchCount(k.fn), across(k.fn, n.inputs[0]), across(k.fn, n.inputs[1]), flatView(k.fn, at, 2 * C), ex)),
            apply: kernel((k) => emitBatchNormGradApply(k, eps, C, per, batchTotal(k.fn), batchCount(k.fn), across(k.fn, n.inputs[0]), across(k.fn, n.inputs[1]), across(k.fn, n.output), k.weight(gamma), flatView(k.fn, at, 2 * C), ex)),
          },
        });
        continue;
      }
      // In phases a dense kernel gradient added straight into its sum waits for the end: one
      // GEMM over the whole batch (dY^T X, the rows read from every sample's region) after the
      // last sample phase, instead of a chunk (which would mix samples across phases).
      if (w && n.op.kind === "dense_grad_kernel" && batchMode) {
        deferred.push({ weight: w, units: size(inShape(tg, n.inputs[1])), n: size(inShape(tg, n.inputs[0])), x: n.inputs[0], dy: n.inputs[1] });
        continue;
      }
      toSamplePhase();
      if (w && n.op.kind === "dense_grad_kernel" && !batchMode) {
        const chunk = { weight: w, units: size(inShape(tg, n.inputs[1])), n: size(inShape(tg, n.inputs[0])), xs: 0, dys: 0 };
        chunk.xs = a.take(4 * CHUNK * chunk.n);
        chunk.dys = a.take(4 * CHUNK * chunk.units);
        chunks.push(chunk);
        fnNames.backward.push(kernel((k) => emitChunkStore(k, chunkCount, chunk, k.value(n.inputs[0]), k.value(n.inputs[1]))));
        continue;
      }
      const name = inSamples(kernel((k) => emitGrad(k, tg, n, wino, w ? { view: flatView(k.fn, grads.get(w) as number, size(w.shape)), weight: w } : undefined)));
      if (n.op.kind === "loss") {
        fnNames.loss.push(name);
        evaluateNames.push(name);
      } else fnNames.backward.push(name);
    }
    const flushName = kernel((k) => {
      const { fn } = k;
      const count = fn.let(Int.of(m, () => m.i32.load(chunkCount, 4, m.i32.const(0)), true));
      for (const c of chunks) {
        const dys = flatView(fn, c.dys, CHUNK * c.units);
        const xs = flatView(fn, c.xs, CHUNK * c.n);
        rowGemm(fn, { I: c.units, U: count, n: c.n, add: true, A: dys, aAt: (u, s) => s.mul(c.units).add(u), B: xs, bRow: (s) => s.mul(c.n), out: flatView(fn, grads.get(c.weight) as number, size(c.weight.shape)), outRow: (u) => u.mul(c.n) });
      }
      fn.emit(m.i32.store(chunkCount, 4, m.i32.const(0), m.i32.const(0)));
    });
    // The batch's sums: grads[w] += the sample's dJ/dw.
    toSamplePhase();
    fnNames.backward.push(
      inSamples(kernel((k) => {
        if (chunks.length) {
          const next = m.i32.add(m.i32.load(chunkCount, 4, m.i32.const(0)), m.i32.const(1));
          k.fn.emit(m.i32.store(chunkCount, 4, m.i32.const(0), next));
          when(k.fn, m.i32.ge_u(m.i32.load(chunkCount, 4, m.i32.const(0)), m.i32.const(CHUNK)), () => k.fn.emit(m.call(flushName, [], binaryen.none)));
        }
        for (const g of tg.gradients) {
          if (fused.has(g.value)) continue;
          const sum = flatView(k.fn, grads.get(g.weight) as number, size(g.weight.shape));
          const v = k.value(g.value);
          accumulate(k.fn, size(g.weight.shape), sum, v);
        }
      })),
    );
    if (deferred.length) {
      phases.push({
        batch: true,
        split: false,
        names: [
          kernel((k) => {
            const { fn } = k;
            const count = batchCount(fn);
            // Element offsets from address 0: sample u's region starts at element (start + u * stride) / 4.
            const at0 = flatView(fn, 0, 1);
            const row = (u: Int, id: number) => Int.of(m, () => m.i32.shr_u(m.i32.add(m.global.get("sample_start", i32), m.i32.mul(u.expr(), m.global.get("sample_stride", i32))), m.i32.const(2)), true).add((values.get(id) as number) / 4);
            for (const d of deferred) {
              rowGemm(fn, { I: d.units, U: count, n: d.n, add: true, A: at0, aAt: (i, u) => row(u, d.dy).add(i), B: at0, bRow: (u) => row(u, d.x), out: flatView(fn, grads.get(d.weight) as number, size(d.weight.shape)), outRow: (i) => i.mul(d.n) });
            }
          }),
        ],
      });
    }
    // Winograd layers: U from the weights (the step's first call, and evaluate's), and the
    // batch's kernel gradients back from the transform domain into their sums (a layer whose
    // kernel gradient is not added straight into its sum ran it by im2col: nothing to take back).
    const prepareName = kernel((k) => {
      for (const [w, b] of wino) emitWinogradKernelTransform(k, b.op, b.C, k.weight(w), b);
    });
    // (A kernel gradient node has no weight of its own: the sum it is fused into names it.)
    const winoSums = [...wino].filter(([w]) => tg.nodes.some((n) => n.op.kind === "conv_grad_kernel" && fused.get(n.output) === w));
    const winoFlushName = kernel((k) => {
      for (const [w, b] of winoSums) emitWinogradKernelGradient(k, b.op, b.C, b, flatView(k.fn, grads.get(w) as number, size(w.shape)));
    });
    if (batchMode && winoSums.length) phases.push({ batch: true, names: [winoFlushName], split: false });
    const zeroName = kernel((k) => {
      for (const b of wino.values()) zero(k.fn, flatView(k.fn, b.du, winogradFloats(b.op, b.C)), winogradFloats(b.op, b.C));
      k.fn.emit(m.i32.store(chunkCount, 4, m.i32.const(0), m.i32.const(0)));
      for (const w of trained) {
        const sum = flatView(k.fn, grads.get(w) as number, size(w.shape));
        k.fn.for(0, size(w.shape), (i) => k.fn.emit(sum.store(i, m.f64.const(0))));
      }
    });
    const updateName = kernel((k) => emitUpdate(k, optimiser, trained, weights, grads, slots, params));
    const normName = kernel((k) => emitNorm(k, trained, grads, params));
    const call = (names: string[]) => (names.length ? m.block(null, names.map((n) => m.call(n, [], binaryen.none))) : m.nop());
    const exported = ["evaluate", "zero", "update", "norm", "flush", "prepare"];
    m.addFunction("evaluate", binaryen.none, binaryen.none, [], call(evaluateNames));
    m.addFunction("zero", binaryen.none, binaryen.none, [], call([zeroName, prepareName]));
    m.addFunction("prepare", binaryen.none, binaryen.none, [], call([prepareName]));
    m.addFunction("update", binaryen.none, binaryen.none, [], call([updateName]));
    m.addFunction("norm", binaryen.none, binaryen.none, [], call([normName]));
    m.addFunction("flush", binaryen.none, binaryen.none, [], call(batchMode ? [flushName] : [flushName, winoFlushName]));
    let samples: { start: number; stride: number; exchanges: readonly BatchExchange[] } | undefined;
    if (batchMode) {
      const runningName = kernel((k) => {
        for (const n of batchNorms) {
          const shape = inShape(tg, n.inputs[0]);
          const { running_mean: mean, running_var: variance } = n.weights;
          emitBatchNormRunningUpdate(k, shape[0], size(shape.slice(1)), batchTotal(k.fn), flatView(k.fn, stats.get(n) as number, 2 * shape[0]), k.weight(mean as Weight), k.weight(variance as Weight));
        }
      }, true);
      m.addFunction("running", binaryen.none, binaryen.none, [], call([runningName]));
      // batch(count): every phase in order, each sample phase once per sample.
      const driver = new Fn(m, ["count"]);
      const count = driver.symbol("count");
      driver.emit(m.global.set("batch_count", count.expr()), m.global.set("batch_total", count.expr()));
      for (const p of phases) {
        if (p.batch) driver.emit(call(p.names));
        else
          driver.for(0, count, (b) => {
            driver.emit(m.global.set("sample_base", regionOf(driver, b).expr()));
            driver.emit(call(p.names));
          });
      }
      driver.finish("batch");
      // Threads: begin(count, total) (this thread's samples, the batch's), then stage_0 to
      // stage_E in turn, E = exchanges.length: stage j stops after the partial sums of
      // exchange j (its area), and stage j + 1 starts from the combined values written there.
      if (threads) {
        const begin = new Fn(m, ["count", "total"]);
        begin.emit(m.global.set("batch_count", begin.symbol("count").expr()), m.global.set("batch_total", begin.symbol("total").expr()));
        begin.finish("begin");
        exported.push("begin");
        let stage = new Fn(m, []);
        let stages = 0;
        const finishStage = () => {
          stage.finish(`stage_${stages}`);
          exported.push(`stage_${stages++}`);
        };
        for (const p of phases) {
          if (!p.batch) {
            const fn = stage;
            fn.for(0, batchCount(fn), (b) => {
              fn.emit(m.global.set("sample_base", regionOf(fn, b).expr()));
              fn.emit(call(p.names));
            });
          } else if (!p.split) stage.emit(call(p.names));
          else {
            stage.emit(call([p.split.partial]));
            finishStage();
            stage = new Fn(m, []);
            stage.emit(call([p.split.apply]));
          }
        }
        finishStage();
      }
      // forward_k(): forward node k over the whole batch of the last batch(count), so that a
      // failed step's report can read each layer's output as it is made (the plan reuses them).
      tg.forward.nodes.forEach((n, k) => {
        const one = new Fn(m, []);
        const name = forwardNames[k];
        if (stats.has(n)) one.emit(m.call(name, [], binaryen.none));
        else
          one.for(0, batchCount(one), (b) => {
            one.emit(m.global.set("sample_base", regionOf(one, b).expr()));
            one.emit(m.call(name, [], binaryen.none));
          });
        one.finish(`forward_${k}`);
        exported.push(`forward_${k}`);
      });
      // select(b): the sample whose region `evaluate` and the trainer's reads address.
      const select = new Fn(m, ["b"]);
      select.emit(m.global.set("sample_base", regionOf(select, select.symbol("b")).expr()));
      select.finish("select");
      exported.push("running", "batch", "select");
      samples = { start: align(a.end + 64), stride: align(perSampleBytes + 16), exchanges };
      m.addGlobal("sample_start", i32, false, m.i32.const(samples.start));
      m.addGlobal("sample_stride", i32, false, m.i32.const(samples.stride));
      m.addGlobal("sample_base", i32, true, m.i32.const(samples.start));
      m.addGlobal("batch_count", i32, true, m.i32.const(0));
      m.addGlobal("batch_total", i32, true, m.i32.const(0));
    } else {
      m.addFunction("sample", binaryen.none, binaryen.none, [], call([...fnNames.forward, ...fnNames.loss, ...fnNames.backward]));
      exported.push("sample");
      // forward_k(): forward node k of the one sample, for a failed step's report (the plan
      // reuses the places of forward values that later kernels do not read).
      forwardNames.forEach((name, k) => {
        m.addFunction(`forward_${k}`, binaryen.none, binaryen.none, [], m.call(name, [], binaryen.none));
        exported.push(`forward_${k}`);
      });
    }
    for (const e of exported) m.addFunctionExport(e, e);
    const memoryBytes = samples ? samples.start : align(a.end + 64);
    if (!m.validate()) throw new Error(`internal error: the WebAssembly training module for ${tg.forward.name} is invalid (binaryen printed why above)`);
    m.optimize();
    const binary = m.emitBinary();
    return { binary, layout: { memoryBytes, values, weights, grads, slots, params, tables: tableList, samples }, algorithms };
  } finally {
    m.dispose();
  }
}

/**
 * The weight gradients whose kernel can add the sample's dJ/dW straight into the batch's sum
 * (value id -> weight): made by one kernel-gradient or bias-gradient node, read by no other
 * node, the weight's only gradient. The sample's dW is then never written out and read back
 * (fc1's is 48,000 floats a sample).
 */
function fusedGradients(tg: TrainGraph): Map<number, Weight> {
  const fused = new Map<number, Weight>();
  const read = new Set(tg.nodes.flatMap((n) => n.inputs));
  for (const g of tg.gradients) {
    const producer = tg.nodes.find((n) => n.output === g.value);
    const kind = producer?.op.kind;
    if (kind !== "conv_grad_kernel" && kind !== "dense_grad_kernel" && kind !== "bias_grad") continue;
    if (read.has(g.value) || tg.gradients.filter((o) => o.weight === g.weight || o.value === g.value).length !== 1) continue;
    fused.set(g.value, g.weight);
  }
  return fused;
}

/**
 * The kernels' reads and writes in the order the step builds them: the forward nodes, the
 * backward nodes (the loss among them), then the sums of the weight gradients that were not
 * added straight into them.
 */
export function stepOrder(tg: TrainGraph, batchMode: boolean): PlanStep[] {
  const fused = fusedGradients(tg);
  // In batch mode a fused dense kernel gradient runs last, over the whole batch (see the batch
  // phases); else its chunk store reads x and dy in its place.
  const last = (n: GradNode) => batchMode && n.op.kind === "dense_grad_kernel" && fused.has(n.output);
  return [
    ...tg.forward.nodes.map((n) => ({ reads: n.inputs, writes: [n.output] })),
    ...tg.nodes.filter((n) => !last(n)).map((n) => ({ reads: n.inputs, writes: [n.output] })),
    { reads: tg.gradients.filter((g) => !fused.has(g.value)).map((g) => g.value), writes: [] },
    { reads: tg.nodes.filter(last).flatMap((n) => n.inputs), writes: [] },
  ];
}

/** Samples per chunk of the dense kernel gradients' GEMM. */
const CHUNK = 16;

/** Copies the sample's x and dy of a dense layer into the chunk's slot (the count so far). */
function emitChunkStore(k: GradKernelContext, chunkCount: number, c: { units: number; n: number; xs: number; dys: number }, x: View, dy: View): void {
  const { fn } = k;
  const m = fn.m;
  const slot = fn.let(Int.of(m, () => m.i32.load(chunkCount, 4, m.i32.const(0)), true));
  const xs = flatView(fn, c.xs, CHUNK * c.n);
  const dys = flatView(fn, c.dys, CHUNK * c.units);
  const xAt = fn.let(slot.mul(c.n));
  const dyAt = fn.let(slot.mul(c.units));
  fn.for(0, c.n, (i) => fn.emit(xs.store(xAt.add(i), x.load(i))));
  fn.for(0, c.units, (i) => fn.emit(dys.store(dyAt.add(i), dy.load(i))));
}

/** Elements [from, from + count) of a value, as a view of their own. */
function part(k: GradKernelContext, v: View, from: number, count: number): View {
  return new View(k.fn, v.base, [k.fn.const(count)], v.offset + 4 * from);
}

/** out = a * b, elementwise (a mul's forward, and its gradient: dy times the other operand). */
function emitProduct(k: GradKernelContext, count: number, a: View, b: View, out: View): void {
  const m = k.fn.m;
  k.fn.for(0, count, (i) => k.fn.emit(out.store(i, m.f64.mul(a.load(i), b.load(i)))));
}

function inShape(tg: TrainGraph, v: number): number[] {
  return tg.values[v].shape as number[];
}

/** Winograd layers' buffers by weight (grad-winograd.ts); the other convolutions run im2col GEMMs. */
type WinogradLayers = ReadonlyMap<Weight, WinogradBuffers>;

function emitForward(k: GradKernelContext, tg: TrainGraph, n: Node, wino: WinogradLayers): void {
  const op = n.op;
  const x = k.value(n.inputs[0]);
  const y = k.value(n.output);
  const w = n.weights.weight ? k.weight(n.weights.weight) : undefined;
  const b = n.weights.bias ? k.weight(n.weights.bias) : undefined;
  const shape = inShape(tg, n.inputs[0]);
  switch (op.kind) {
    case "conv": {
      const buffers = n.weights.weight && wino.get(n.weights.weight);
      if (buffers) return emitWinogradForward(k, op, shape, buffers, x, op.bias === "none" ? undefined : b, y);
      return emitConvForward(k, op, shape, x, w as View, op.bias === "none" ? undefined : b, y);
    }
    case "pool":
    case "adaptive_pool":
      return emitPoolForward(k, op, shape, x, y);
    case "deconv": {
      // The transpose of the conv that maps the output's size to the input's: that conv's input gradient.
      const out = inShape(tg, n.output);
      emitConvGradInput(k, deconvAsConv(op, shape[0]), out, x, w as View, y);
      if (op.bias !== "none") emitAddChannelBias(k, out[0], size(out.slice(1)), b as View, y);
      return;
    }
    case "local":
    case "tiled":
      return emitUnsharedForward(k, op, shape, x, w as View, op.bias === "none" ? undefined : b, y);
    case "dense":
      return emitDenseForward(k, op.units, size(shape), x, w as View, op.bias === "none" ? undefined : b, y);
    case "activation":
      return emitActivationForward(k, op.fn, op.alpha, op.beta, size(shape), x, y);
    case "softmax":
      return emitSoftmaxForward(k, shape[0], size(shape.slice(1)), x, y);
    case "add":
    case "mul": {
      const out = inShape(tg, n.output);
      if (n.inputs.some((v) => size(inShape(tg, v)) !== size(out))) {
        return emitBroadcastBinary(k, op.kind, out, n.inputs.map((v) => ({ view: k.value(v), shape: inShape(tg, v) })), y);
      }
      if (op.kind === "add") return emitSum(k, size(shape), n.inputs.map((v) => k.value(v)), y);
      return emitProduct(k, size(shape), k.value(n.inputs[0]), k.value(n.inputs[1]), y);
    }
    case "batchnorm": {
      const { running_mean: mean, running_var: variance } = n.weights;
      if (!w || !b || !mean || !variance) throw new Error(`internal error: batch norm ${n.layer} lacks its parameters`);
      return emitBatchNormForward(k, op.eps, shape[0], size(shape.slice(1)), x, { gamma: w, beta: b, mean: k.weight(mean), variance: k.weight(variance) }, y);
    }
    case "maxout":
      return emitMaxoutForward(k, shape[0], size(shape.slice(1)), op.k, x, y);
    case "concat": {
      // Channels are a sample's outermost axis: each input is one run of the output.
      let at = 0;
      for (const v of n.inputs) {
        const count = size(inShape(tg, v));
        copy(k.fn, part(k, y, at, count), k.value(v), count);
        at += count;
      }
      return;
    }
    case "flatten":
    case "reshape":
      return copy(k.fn, y, x, size(shape));
    case "slice":
    case "pad":
    case "resize":
      return emitMoveForward(k, op, shape, x, y);
    case "log_softmax":
      return emitSoftmaxForward(k, shape[0], size(shape.slice(1)), x, y, true);
    default:
      throw new Error(`internal error: no training kernel for ${op.kind}`);
  }
}

/** One backward node; `sum` given: the node's output is added to it (the batch's gradient sum) instead. */
function emitGrad(k: GradKernelContext, tg: TrainGraph, n: GradNode, wino: WinogradLayers, sum?: { readonly view: View; readonly weight: Weight }): void {
  const op = n.op;
  const ins = n.inputs.map((v) => k.value(v));
  const out = sum?.view ?? k.value(n.output);
  const add = sum !== undefined;
  const outShape = inShape(tg, n.output);
  const w = n.weights.weight ? k.weight(n.weights.weight) : undefined;
  const buffers = n.weights.weight && wino.get(n.weights.weight);
  switch (op.kind) {
    case "conv_grad_input":
      if (buffers) return emitWinogradGradInput(k, op.conv, op.inShape, buffers, ins[0], out);
      return emitConvGradInput(k, op.conv, op.inShape, ins[0], w as View, out);
    case "conv_grad_kernel":
      // Winograd's kernel gradient is the batch's, in the transform domain: only where the
      // sample's dK is added straight into its sum.
      if (sum && wino.has(sum.weight)) return emitWinogradGradKernel(k, op.conv, inShape(tg, n.inputs[0]), wino.get(sum.weight) as WinogradBuffers, ins[0], ins[1]);
      return emitConvGradKernel(k, op.conv, inShape(tg, n.inputs[0]), ins[0], ins[1], out, add);
    case "dense_grad_input":
      return emitDenseGradInput(k, size(inShape(tg, n.inputs[0])), size(op.inShape), ins[0], w as View, out);
    case "dense_grad_kernel":
      return emitDenseGradKernel(k, size(inShape(tg, n.inputs[1])), size(inShape(tg, n.inputs[0])), ins[0], ins[1], out, add);
    case "deconv_grad_input":
      // The conv it is the transpose of, applied to dy.
      return emitConvForward(k, deconvAsConv(op.deconv, outShape[0]), inShape(tg, n.inputs[0]), ins[0], w as View, undefined, out);
    case "deconv_grad_kernel":
      // Eq. 9.11 on that conv, whose input is dy and whose output gradient is x.
      return emitConvGradKernel(k, deconvAsConv(op.deconv, inShape(tg, n.inputs[0])[0]), inShape(tg, n.inputs[1]), ins[1], ins[0], out, add);
    case "local_grad_input":
      return emitUnsharedGradInput(k, op.local, op.inShape, ins[0], w as View, out);
    case "tiled_grad_input":
      return emitUnsharedGradInput(k, op.tiled, op.inShape, ins[0], w as View, out);
    case "local_grad_kernel":
      return emitUnsharedGradKernel(k, op.local, inShape(tg, n.inputs[0]), ins[0], ins[1], out, size(outShape));
    case "tiled_grad_kernel":
      return emitUnsharedGradKernel(k, op.tiled, inShape(tg, n.inputs[0]), ins[0], ins[1], out, size(outShape));
    case "bias_grad": {
      const dy = inShape(tg, n.inputs[0]);
      if (op.bias === "channel") return emitBiasGradChannel(k, dy[0], size(dy.slice(1)), ins[0], out, add);
      if (op.bias === "tiled") return emitTiledBiasGrad(k, dy[0], dy.slice(1), op.tiles, ins[0], out, add);
      return add ? accumulate(k.fn, size(dy), out, ins[0]) : copy(k.fn, out, ins[0], size(dy));
    }
    case "pool_grad":
    case "adaptive_pool_grad":
      return emitPoolGrad(k, op.pool, inShape(tg, n.inputs[0]), ins[0], ins[1], out);
    case "activation_grad":
      return emitActivationGrad(k, op.fn, op.alpha, op.beta, size(outShape), ins[0], ins[1], out);
    case "softmax_grad":
      return emitSoftmaxGrad(k, outShape[0], size(outShape.slice(1)), ins[0], ins[1], out);
    case "reshape_grad":
      return copy(k.fn, out, ins[0], size(outShape));
    case "unbroadcast": {
      const dy = inShape(tg, n.inputs[0]);
      return size(dy) === size(op.shape) ? copy(k.fn, out, ins[0], size(outShape)) : emitReduceTo(k, dy, ins[0], op.shape, out);
    }
    case "slice_channels": {
      const count = size(outShape);
      return copy(k.fn, out, part(k, ins[0], op.start * (count / op.count), count), count);
    }
    case "move_grad":
      return emitMoveGrad(k, op.op, op.inShape, ins[0], out);
    case "log_softmax_grad":
      return emitLogSoftmaxGrad(k, outShape[0], size(outShape.slice(1)), ins[0], ins[1], out);
    case "mul_grad": {
      const dy = inShape(tg, n.inputs[0]);
      const other = inShape(tg, n.inputs[1]);
      if (size(dy) === size(op.shape) && size(dy) === size(other)) return emitProduct(k, size(outShape), ins[0], ins[1], out);
      return emitReduceTo(k, dy, ins[0], op.shape, out, { view: ins[1], shape: other });
    }
    case "batchnorm_grad_input": {
      const variance = n.weights.running_var;
      if (!w || !variance) throw new Error("internal error: a batch norm gradient lacks gamma or the running variance");
      return emitBatchNormGradInput(k, op.eps, outShape[0], size(outShape.slice(1)), ins[0], w, k.weight(variance), out);
    }
    case "batchnorm_grad_gamma": {
      const { running_mean: mean, running_var: variance } = n.weights;
      if (!mean || !variance) throw new Error("internal error: a batch norm gradient lacks the running statistics");
      const xs = inShape(tg, n.inputs[0]);
      return emitBatchNormGradGamma(k, op.eps, xs[0], size(xs.slice(1)), ins[0], ins[1], k.weight(mean), k.weight(variance), out);
    }
    case "maxout_grad":
      return emitMaxoutGrad(k, outShape[0], size(outShape.slice(1)), op.k, ins[0], ins[1], out);
    case "accumulate":
      return emitSum(k, size(outShape), ins, out);
    case "loss":
    case "loss_grad": {
      const pred = inShape(tg, n.inputs[0]);
      return emitLoss(k, op.loss, pred[0], size(pred.slice(1)), ins[0], ins[1], out, op.kind === "loss_grad");
    }
    default:
      throw new Error(`internal error: no training kernel for ${op.kind}`);
  }
}

/**
 * params[5] = the sum over every trained weight's elements of (sum * params[1])^2, in f64 and
 * in the trainer's order: the squared global norm that clipping needs, and a finiteness check
 * of every gradient in one number (finite f32 values squared cannot overflow f64).
 */
function emitNorm(k: GradKernelContext, trained: readonly Weight[], grads: ReadonlyMap<Weight, number>, params: number): void {
  const { fn } = k;
  const m = fn.m;
  const scale = fn.f64(m.f64.load(params + 8, 8, m.i32.const(0)));
  const sq = fn.f64(m.f64.const(0));
  for (const wt of trained) {
    const g = flatView(fn, grads.get(wt) as number, size(wt.shape));
    fn.for(0, size(wt.shape), (i) => {
      const v = fn.f64(m.f64.mul(g.load(i), scale.get()));
      fn.emit(sq.set(m.f64.add(sq.get(), m.f64.mul(v.get(), v.get()))));
    });
  }
  fn.emit(m.f64.store(params + 40, 8, m.i32.const(0), sq.get()));
}

/** The optimiser (compiler/train/optim.ts) on every trained weight, g = grads * params[1]. */
function emitUpdate(k: GradKernelContext, c: OptimiserConfig, trained: readonly Weight[], weights: ReadonlyMap<Weight, number>, grads: ReadonlyMap<Weight, number>, slots: ReadonlyMap<Weight, readonly number[]>, params: number): void {
  const { fn } = k;
  const m = fn.m;
  const param = (i: number) => m.f64.load(params + 8 * i, 8, m.i32.const(0));
  const lr = fn.f64(param(0));
  const scale = fn.f64(param(1));
  const first = fn.f64(param(2));
  const bc1 = fn.f64(param(3));
  const bc2 = fn.f64(param(4));
  const f = (v: number) => m.f64.const(v);
  for (const wt of trained) {
    const n = size(wt.shape);
    const w = flatView(fn, weights.get(wt) as number, n);
    const g = flatView(fn, grads.get(wt) as number, n);
    const s = (slots.get(wt) as number[]).map((at) => flatView(fn, at, n));
    fn.for(0, n, (i) => {
      const wi = fn.f64(w.load(i));
      const gi = fn.f64(m.f64.mul(g.load(i), scale.get()));
      if (c.kind === "sgd") {
        const d = fn.f64(m.f64.add(gi.get(), m.f64.mul(f(c.weightDecay), wi.get())));
        if (c.momentum > 0) {
          const buf = fn.f64(m.select(m.f64.ne(first.get(), f(0)), d.get(), m.f64.add(m.f64.mul(f(c.momentum), s[0].load(i)), d.get())));
          fn.emit(s[0].store(i, buf.get()));
          fn.emit(d.set(c.nesterov ? m.f64.add(d.get(), m.f64.mul(f(c.momentum), buf.get())) : buf.get()));
        }
        fn.emit(w.store(i, m.f64.sub(wi.get(), m.f64.mul(lr.get(), d.get()))));
        return;
      }
      if (c.kind === "adamw") fn.emit(wi.set(m.f64.sub(wi.get(), m.f64.mul(m.f64.mul(lr.get(), f(c.weightDecay)), wi.get()))));
      const d = fn.f64(c.kind === "adam" ? m.f64.add(gi.get(), m.f64.mul(f(c.weightDecay), wi.get())) : gi.get());
      const mi = fn.f64(m.f64.add(m.f64.mul(f(c.beta1), s[0].load(i)), m.f64.mul(f(1 - c.beta1), d.get())));
      const vi = fn.f64(m.f64.add(m.f64.mul(f(c.beta2), s[1].load(i)), m.f64.mul(m.f64.mul(f(1 - c.beta2), d.get()), d.get())));
      fn.emit(s[0].store(i, mi.get()), s[1].store(i, vi.get()));
      const step = m.f64.div(m.f64.mul(lr.get(), m.f64.div(mi.get(), bc1.get())), m.f64.add(m.f64.sqrt(m.f64.div(vi.get(), bc2.get())), f(c.eps)));
      fn.emit(w.store(i, m.f64.sub(wi.get(), step)));
    });
  }
}
