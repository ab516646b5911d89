// pad: nested loops over the channels and each output axis; per axis the source coordinate
// t = j - before is clamped (edge, and constant for the address), or folded as
// min(|t|, 2(m - 1) - |t|) (reflect), the rule of ir/ops.ts padSource. Constant mode selects
// the fill value where any axis' t left [0, m).

import type { PadOp } from "../../ir/ops.js";
import type { Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dim } from "./dims.js";

export function emitPad(ctx: KernelContext, op: PadOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const shape = ctx.step.inputs[0].shape;
  const outShape = ctx.step.output.shape;
  const x = ctx.input(0);
  const y = ctx.output();
  const d = shape.length - 1;
  const M = shape.slice(1).map((s) => dim(fn, s));
  const O = outShape.slice(1).map((s) => dim(fn, s));
  const go = (a: number, src: Int, dst: Int, ts: readonly Int[]): void => {
    if (a === d) {
      let value = x.load(src);
      if (op.mode === "constant" && ts.length > 0) {
        const inside = ts
          .map((t, k) => m.i32.and(m.i32.ge_s(t.expr(), m.i32.const(0)), t.lt(M[k])))
          .reduce((p, q) => m.i32.and(p, q));
        value = m.select(inside, value, m.f64.const(op.value));
      }
      fn.emit(y.store(dst, ctx.finish(value, dst)));
      return;
    }
    fn.for(0, O[a], (j) => {
      const t = fn.let(j.sub(op.before[a]));
      const last = M[a].sub(1);
      let s: Int;
      if (op.mode === "reflect") {
        const r = fn.let(t.max(fn.const(0).sub(t)));
        s = r.min(last.mul(2).sub(r)).max(0);
      } else s = t.max(0).min(last);
      go(a + 1, fn.let(src.mul(M[a]).add(s)), fn.let(dst.mul(O[a]).add(j)), [...ts, t]);
    });
  };
  fn.for(0, dim(fn, shape[0]), (c) => go(0, c, c, []));
}
