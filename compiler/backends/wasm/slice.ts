// slice along one axis: outer x m x inner -> outer x n x inner, a copy of inner-long runs
// (the whole spatial plane when slicing channels) through the step's epilogue.

import * as D from "../../ir/dim.js";
import type { SliceOp } from "../../ir/ops.js";
import type { KernelContext } from "./context.js";
import { dim } from "./dims.js";

export function emitSlice(ctx: KernelContext, op: SliceOp): void {
  const { fn } = ctx;
  const shape = ctx.step.inputs[0].shape;
  const x = ctx.input(0);
  const y = ctx.output();
  const n = Math.max(0, Math.ceil((op.end - op.start) / op.step));
  const outer = dim(fn, D.product(shape.slice(0, op.axis)));
  const inner = dim(fn, D.product(shape.slice(op.axis + 1)));
  const m = dim(fn, shape[op.axis]);
  fn.for(0, outer, (o) => {
    fn.for(0, n, (j) => {
      const src = fn.let(o.mul(m).add(j.mul(op.step).add(op.start)).mul(inner));
      const dst = fn.let(o.mul(n).add(j).mul(inner));
      fn.for(0, inner, (i) => fn.emit(y.store(dst.add(i), ctx.finish(x.load(src.add(i)), dst.add(i)))));
    });
  });
}
