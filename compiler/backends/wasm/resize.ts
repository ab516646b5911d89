// resize: nested loops over the channels and each output axis. The taps (two input
// coordinates and a weight per output coordinate and axis, ir/resize.ts) are computed at
// compile time into the step's table, f64 triples (lo, hi, w) axis after axis; each loop
// level reads its axis' triple, and the innermost sums the 2^d corners (1 for nearest).

import type { ResizeOp } from "../../ir/ops.js";
import { resizeTaps } from "../../ir/resize.js";
import { type Expr, type F64Var, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dim } from "./dims.js";

/** The step's table: per axis, per output coordinate, lo, hi and w as f64. */
export function resizeTable(op: ResizeOp, inShape: readonly number[]): Float64Array {
  const spatial = inShape.slice(1);
  const table = new Float64Array(3 * op.out.reduce((s, v) => s + v, 0));
  let at = 0;
  spatial.forEach((m, a) => {
    const t = resizeTaps(op, a, m);
    for (let j = 0; j < op.out[a]; j++) {
      table[at++] = t.lo[j];
      table[at++] = t.hi[j];
      table[at++] = t.w[j];
    }
  });
  return table;
}

export function emitResize(ctx: KernelContext, op: ResizeOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const table = ctx.table;
  if (table === undefined) throw new Error("internal error: resize without its tap table");
  const shape = ctx.step.inputs[0].shape;
  const x = ctx.input(0);
  const y = ctx.output();
  const d = shape.length - 1;
  const M = shape.slice(1).map((s) => dim(fn, s));
  const linear = op.mode === "linear";
  const axisBase: number[] = [];
  op.out.reduce((s, v, a) => ((axisBase[a] = table + 24 * s), s + v), 0);
  interface Tap { readonly lo: Int; readonly hi: Int; readonly w: F64Var | undefined }
  const go = (a: number, dst: Int, taps: readonly Tap[]): void => {
    if (a === d) {
      let sum: Expr | undefined;
      for (let corner = 0; corner < (linear ? 1 << d : 1); corner++) {
        let src = fn.const(0);
        let weight: Expr | undefined;
        taps.forEach((t, k) => {
          const high = (corner >> k) & 1;
          src = src.mul(M[k]).add(high ? t.hi : t.lo);
          if (linear) {
            // A binaryen expression is a tree node: each use reads the local afresh.
            const w = (t.w as F64Var).get();
            const wk = high ? w : m.f64.sub(m.f64.const(1), w);
            weight = weight === undefined ? wk : m.f64.mul(weight, wk);
          }
        });
        const v = weight === undefined ? x.load(src.add(channelBase as Int)) : m.f64.mul(weight, x.load(src.add(channelBase as Int)));
        sum = sum === undefined ? v : m.f64.add(sum, v);
      }
      fn.emit(y.store(dst, ctx.finish(sum as Expr, dst)));
      return;
    }
    fn.for(0, op.out[a], (j) => {
      const at = j.mul(24);
      const load = (k: number): Expr => m.f64.load(axisBase[a] + 8 * k, 8, at.expr());
      const lo = fn.let(Int.of(m, () => m.i32.trunc_s.f64(load(0)), true));
      const hi = linear ? fn.let(Int.of(m, () => m.i32.trunc_s.f64(load(1)), true)) : lo;
      const w = linear ? fn.f64(load(2)) : undefined;
      go(a + 1, fn.let(dst.mul(op.out[a]).add(j)), [...taps, { lo, hi, w }]);
    });
  };
  let channelBase: Int | undefined;
  const plane = M.reduce<Int>((p, v) => p.mul(v), fn.const(1));
  fn.for(0, dim(fn, shape[0]), (c) => {
    channelBase = fn.let(c.mul(plane));
    go(0, c, []);
  });
}
