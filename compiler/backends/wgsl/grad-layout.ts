// Where the WebGPU training step keeps everything: one f32 storage buffer (the arena) and one
// i32 buffer of compile-time tables. One writable binding per dispatch means no aliasing
// rules to satisfy and one bind group for every kernel. The arena, in f32 elements:
//
//   [0, 4)       stats: the batch's squared gradient norm and the "not finite" flag
//   weights      every forward weight; the trained ones first, in `trained` order
//   grads        the batch's gradient sums, trained weights in the same order (N in all)
//   slots        0, 1 or 2 optimiser tensors of N (momentum; Adam's two moments)
//   fixed        backward values that are weight gradients (summed over the batch)
//   batch stats  batch norm in training mode, per layer: the batch's means and biased
//                variances, then the input gradient's two sums over the batch (4 x C)
//   batched      every other value, value-major with room for `cap` samples: value v's
//                sample b, element i at batched + cap * pre(v) + b * size(v) + i
//
// The batched region is planned: two values share their place when no kernel of the step
// needs both, so only what the backward pass reads is kept (`planBatched`).
//
// Because everything before `batched` is fixed and the batched part scales with the
// capacity (a uniform), the same shaders serve every batch size: a larger batch only
// reallocates the arena (copying the fixed part over). Elementwise order in the grads and
// weights regions lines up, so the optimiser is one elementwise kernel over N.

import type { Weight } from "../../ir/graph.js";
import type { TrainGraph } from "../../train/graph.js";
import { type PlanStep, planValues } from "../../train/value-plan.js";

const size = (shape: readonly unknown[]): number => (shape as number[]).reduce((a, b) => a * b, 1);

export interface GradLayout {
  readonly trained: readonly Weight[];
  /** Element offset of each forward weight. */
  readonly weights: ReadonlyMap<Weight, number>;
  readonly gradBase: number;
  /** Trained elements in all (N). */
  readonly gradCount: number;
  /** Element offset of each trained weight's gradient sum. */
  readonly grads: ReadonlyMap<Weight, number>;
  /** Start of each optimiser slot region (each N long). */
  readonly slotBases: readonly number[];
  /** Start of the batched region: the size of the fixed part. */
  readonly batchedBase: number;
  /** Elements per sample of the batched region. */
  readonly perSample: number;
  /** Fixed values: element offset; batched values: pre(v), the per-sample prefix. */
  readonly fixed: ReadonlyMap<number, number>;
  readonly pre: ReadonlyMap<number, number>;
  /** Per-sample elements of each value (the whole value when fixed). */
  readonly sizes: ReadonlyMap<number, number>;
  /** The per-sample count of correctly classified positions (a pseudo-value of one element). */
  readonly correct: number;
  /** Batch norm in training mode: each layer's 4 x C statistics, keyed by its running mean. */
  readonly batchStats: ReadonlyMap<Weight, number>;
}

/** Ops whose output is a weight's gradient: the batch's sum, not per sample. */
const WEIGHT_SIDE = new Set(["conv_grad_kernel", "dense_grad_kernel", "bias_grad", "deconv_grad_kernel", "local_grad_kernel", "tiled_grad_kernel", "batchnorm_grad_gamma"]);

/** The values held once for the whole batch (weight gradients and their accumulations). */
export function weightSideValues(tg: TrainGraph): Set<number> {
  const out = new Set<number>();
  for (const n of tg.nodes) {
    if (WEIGHT_SIDE.has(n.op.kind) || (n.op.kind === "accumulate" && n.inputs.every((v) => out.has(v)))) out.add(n.output);
  }
  return out;
}

export function gradLayout(tg: TrainGraph, slotCount: number): GradLayout {
  let end = 4;
  const take = (n: number): number => {
    const at = end;
    end += n;
    return at;
  };
  const trained = [...new Set(tg.gradients.map((g) => g.weight))];
  const weights = new Map<Weight, number>();
  for (const w of trained) weights.set(w, take(size(w.shape)));
  for (const w of tg.forward.weights) if (!weights.has(w)) weights.set(w, take(size(w.shape)));
  const gradBase = end;
  const grads = new Map<Weight, number>();
  for (const w of trained) grads.set(w, take(size(w.shape)));
  const gradCount = end - gradBase;
  const slotBases = Array.from({ length: slotCount }, () => take(gradCount));
  const sideValues = weightSideValues(tg);
  const fixed = new Map<number, number>();
  const sizes = new Map<number, number>();
  // A weight's final gradient value is its sum's own place: no copy into the grads region.
  for (const g of tg.gradients) fixed.set(g.value, grads.get(g.weight) as number);
  for (const v of tg.values) {
    sizes.set(v.id, size(v.shape));
    if (sideValues.has(v.id) && !fixed.has(v.id)) fixed.set(v.id, take(size(v.shape)));
  }
  const batchStats = new Map<Weight, number>();
  if (tg.batchStatistics) {
    for (const n of tg.forward.nodes) {
      if (n.op.kind === "batchnorm") batchStats.set(n.weights.running_mean as Weight, take(4 * (tg.values[n.inputs[0]].shape[0] as number)));
    }
  }
  const batchedBase = end;
  const correct = tg.values.length;
  sizes.set(correct, 1);
  const { pre, per } = planBatched(tg, fixed, correct, sizes);
  return { trained, weights, gradBase, gradCount, grads, slotBases, batchedBase, perSample: per, fixed, pre, sizes, correct, batchStats };
}

/**
 * Where each batched value lives (its per-sample prefix `pre`), reusing places
 * (train/value-plan.ts) in the order grad-module.ts runs the kernels: every forward node, the
 * loss and the correct count, then the backward nodes. Live throughout: the input and the
 * target (written before the step), the loss, the output and the correct count (read back),
 * and the input gradients (read by the tests' probe).
 */
export function planBatched(tg: TrainGraph, fixed: ReadonlyMap<number, number>, correct: number, sizes: ReadonlyMap<number, number>): { pre: Map<number, number>; per: number } {
  const loss = tg.nodes.find((n) => n.op.kind === "loss");
  const steps: PlanStep[] = [
    ...tg.forward.nodes.map((n) => ({ reads: n.inputs, writes: [n.output] })),
    { reads: [...(loss?.inputs ?? []), tg.output.value, tg.target], writes: [...(loss ? [loss.output] : []), correct] },
    ...tg.nodes.filter((n) => n !== loss).map((n) => ({ reads: n.inputs, writes: [n.output] })),
  ];
  const pinned = new Set([...tg.forward.inputs.map((i) => i.value), tg.target, tg.loss, tg.output.value, correct, ...tg.inputGradients.values()]);
  // A value no kernel touches still gets a place (every batched value has one), kept apart.
  const touched = new Set(steps.flatMap((s) => [...s.reads, ...s.writes]));
  for (const v of [...tg.values.map((x) => x.id), correct]) if (!fixed.has(v) && !touched.has(v)) pinned.add(v);
  const { at, span } = planValues(steps, pinned, (v) => sizes.get(v) as number, (v) => fixed.has(v));
  return { pre: at, per: span };
}
