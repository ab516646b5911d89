// Elementwise add and multiply with broadcasting (residual connections, gating, scaling by
// a per-channel vector). The lower-rank operand is padded with trailing 1s; then on every
// axis the sizes are equal or one of them is 1, and a size-1 axis is read with stride 0.
// Operands of the output's own shape take one flat loop; otherwise one loop per axis, with
// each operand's index advanced by its own strides.

import * as D from "../../ir/dim.js";
import type { BinaryOp } from "../../ir/ops.js";
import type { Expr, Int, View } from "./builder.js";
import type { KernelContext } from "./context.js";
import { product } from "./dims.js";

export function emitBinary(ctx: KernelContext, op: BinaryOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const a = ctx.input(0);
  const b = ctx.input(1);
  const y = ctx.output();
  const outShape = ctx.step.output.shape;
  const combine = (u: Int, v: Int): Expr => {
    const l = a.load(u);
    const r = b.load(v);
    return op.kind === "add" ? m.f64.add(l, r) : m.f64.mul(l, r);
  };
  const sameShape = (i: number) => {
    const s = ctx.step.inputs[i].shape;
    return s.length === outShape.length && s.every((d, axis) => D.dimEquals(d, outShape[axis]));
  };
  if (sameShape(0) && sameShape(1)) {
    fn.for(0, product(y.shape, fn), (i) => fn.emit(y.store(i, ctx.finish(combine(i, i), i))));
    return;
  }
  const rank = outShape.length;
  const strides = (v: View, i: number): Int[] => {
    const shape = ctx.step.inputs[i].shape;
    // Row-major strides of the operand, padded with trailing 1s to the output's rank.
    const padded = Array.from({ length: rank }, (_, axis) => (axis < shape.length ? v.shape[axis] : fn.const(1)));
    const isOne = Array.from({ length: rank }, (_, axis) => (axis < shape.length ? shape[axis] === 1 : true));
    const out: Int[] = new Array(rank);
    let stride = fn.const(1);
    for (let axis = rank - 1; axis >= 0; axis--) {
      out[axis] = isOne[axis] ? fn.const(0) : stride;
      stride = stride.mul(padded[axis]);
    }
    return out;
  };
  const sa = strides(a, 0);
  const sb = strides(b, 1);
  const loop = (axis: number, outFlat: Int, ai: Int, bi: Int): void => {
    if (axis === rank) {
      fn.emit(y.store(outFlat, ctx.finish(combine(ai, bi), outFlat)));
      return;
    }
    fn.for(0, y.shape[axis], (j) => {
      loop(axis + 1, fn.let(outFlat.mul(y.shape[axis]).add(j)), fn.let(ai.add(j.mul(sa[axis]))), fn.let(bi.add(j.mul(sb[axis]))));
    });
  };
  loop(0, fn.const(0), fn.const(0), fn.const(0));
}
