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
 * Where each batched value lives (its per-sample prefix `pre`), reusing places: the step's
 * kernels run in a fixed order (every forward node, the loss and the correct count, then the
 * backward nodes: grad-module.ts), so each value is live from the node that writes it to the
 * last node that reads it, and two values whose lives do not meet may share a place. A
 * node's inputs and output always meet (at that node), so no kernel reads what it writes.
 * Live throughout: the input and the target (written before the step, read again by the
 * trainer when a step fails), the loss, the output and the correct count (read back), and
 * the input gradients (read by the tests' probe). First fit, largest value first: places
 * are found in one pass over the values, each checked against the ones placed.
 */
export function planBatched(tg: TrainGraph, fixed: ReadonlyMap<number, number>, correct: number, sizes: ReadonlyMap<number, number>): { pre: Map<number, number>; per: number } {
  const F = tg.forward.nodes.length;
  const END = F + 1 + tg.nodes.length;
  const born = new Map<number, number>();
  const last = new Map<number, number>();
  const use = (v: number, at: number) => last.set(v, Math.max(last.get(v) ?? at, at));
  tg.forward.nodes.forEach((n, k) => {
    born.set(n.output, k);
    for (const v of n.inputs) use(v, k);
  });
  born.set(correct, F);
  use(tg.output.value, F);
  tg.nodes.forEach((n, j) => {
    const at = n.op.kind === "loss" ? F : F + 1 + j;
    born.set(n.output, Math.min(born.get(n.output) ?? at, at));
    for (const v of n.inputs) use(v, at);
  });
  const pinned = new Set([...tg.forward.inputs.map((i) => i.value), tg.target, tg.loss, tg.output.value, correct, ...tg.inputGradients.values()]);
  const items: { v: number; from: number; to: number; size: number }[] = [];
  for (const v of [...tg.values.map((x) => x.id), correct]) {
    if (fixed.has(v)) continue;
    const from = pinned.has(v) ? -1 : (born.get(v) ?? -1);
    const to = pinned.has(v) ? END : Math.max(last.get(v) ?? from, from);
    items.push({ v, from, to, size: sizes.get(v) as number });
  }
  items.sort((a, b) => b.size - a.size || a.from - b.from);
  const placed: { at: number; size: number; from: number; to: number }[] = [];
  const pre = new Map<number, number>();
  let per = 0;
  for (const it of items) {
    // The lowest place clear of every placed value whose life meets this one's.
    const busy = placed.filter((p) => p.from <= it.to && it.from <= p.to).sort((a, b) => a.at - b.at);
    let at = 0;
    for (const p of busy) {
      if (at + it.size <= p.at) break;
      at = Math.max(at, p.at + p.size);
    }
    placed.push({ at, size: it.size, from: it.from, to: it.to });
    pre.set(it.v, at);
    per = Math.max(per, at + it.size);
  }
  return { pre, per };
}
