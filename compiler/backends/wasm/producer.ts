// The output loops of a convolution-like kernel (conv, local, tiled, deconv), inside its
// output-channel loop, with or without a fused pool (fusion, issue 5):
//
// - plain: over the output positions j; at each, value(j) through the step's epilogue is
//   stored at j;
// - pooled: over the POOLED positions; for each, over the real positions of its window
//   (pool.ts's poolChannel, so padding, dilation, ceil and count_pad follow the one set of
//   rules), value(p) through the epilogue is computed on the fly and reduced, and the
//   summary, through the pool's own epilogue, is stored. The pre-pool tensor never exists:
//   the book's convolution -> detector -> pooling layer is one kernel. An overlapping pool
//   (stride < window) computes shared positions once per window: recomputation instead of
//   memory traffic, and a non-overlapping one computes each kept position exactly once.
//
// A kernel gives `axis`, the per-axis work at an output coordinate (its window on the
// input, or its taps, hoisted to the loop where that coordinate changes, with the outer
// axes' states for running indices), and `value`, the producer's value (bias included) at
// the flat index of that output position, emitting its reduction loops first.

import type { Expr, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { poolChannel, poolGeometry } from "./pool.js";

export interface ProducerSource<A> {
  axis(axis: number, j: Int, outer: readonly A[]): A;
  value(flat: Int, axes: readonly A[]): Expr;
}

/** Output channel `o`: every output (or pooled output) of the step, finished and stored. */
export function emitOutputs<A>(ctx: KernelContext, o: Int, source: ProducerSource<A>): void {
  const { fn } = ctx;
  const y = ctx.output();
  const pool = ctx.step.pool;
  if (pool) {
    const g = poolGeometry(fn, pool.op, pool.inShape);
    const finished = { axis: source.axis, value: (flat: Int, axes: readonly A[]) => ctx.finish(source.value(flat, axes), flat) };
    poolChannel(ctx, g, o, finished, (outFlat, v) => fn.emit(y.store(outFlat, ctx.finishPooled(v))));
    return;
  }
  const J = y.shape.slice(1);
  const positions = (axis: number, outFlat: Int, states: A[]): void => {
    if (axis === J.length) {
      fn.emit(y.store(outFlat, ctx.finish(source.value(outFlat, states), outFlat)));
      return;
    }
    fn.for(0, J[axis], (j) => positions(axis + 1, fn.let(outFlat.mul(J[axis]).add(j)), [...states, source.axis(axis, j, states)]));
  };
  positions(0, o, []);
}
