// transpose: nested loops over the output's axes in row-major order; the source index
// accumulates the loop index times the input's stride of the axis it came from (perm[k]).

import * as D from "../../ir/dim.js";
import type { TransposeOp } from "../../ir/ops.js";
import type { Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dim } from "./dims.js";

export function emitTranspose(ctx: KernelContext, op: TransposeOp): void {
  const { fn } = ctx;
  const shape = ctx.step.inputs[0].shape;
  const x = ctx.input(0);
  const y = ctx.output();
  const out = op.perm.map((p) => dim(fn, shape[p]));
  const step = op.perm.map((p) => dim(fn, D.product(shape.slice(p + 1))));
  const go = (k: number, src: Int, dst: Int): void => {
    if (k === out.length) {
      fn.emit(y.store(dst, ctx.finish(x.load(src), dst)));
      return;
    }
    fn.for(0, out[k], (j) => go(k + 1, fn.let(src.add(j.mul(step[k]))), fn.let(dst.mul(out[k]).add(j))));
  };
  go(0, fn.const(0), fn.const(0));
}
