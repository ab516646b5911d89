// Dense (fully connected) layer over the flattened input:
//
//   y[u] = bias[u] + sum over i of  w[u, i] * x[i]      (w is [units, inputs], row-major)
//
// Accumulated in f64: a dense layer sums thousands of products, where f32 would drift past
// the 1e-5 the reference comparison allows. On SIMD lanes: four units at a time, four inputs
// per step, each f32x4 of inputs and of weights widened to two f64x2 (products of f32 values
// are exact in f64), eight f64x2 accumulators in flight. The scalar form this replaced was
// one dependent f64 add per product, bound by the add's latency: LeNet's 400 -> 120 layer
// took two thirds of its inference. A last block of fewer than four units repeats its last
// unit (the same value stored again); inputs past the last multiple of four run scalar.

import type { DenseOp } from "../../ir/ops.js";
import type { Expr, Var } from "./builder.js";
import type { KernelContext } from "./context.js";
import { product } from "./dims.js";
import { int, lanes, vec, zero } from "./simd.js";
import { parallelFor } from "./threads.js";

/** Units per block: 4 x 2 f64x2 accumulators, the inputs' two halves and temporaries fit V8's 16 vector registers. */
const UNITS = 4;

export function emitDense(ctx: KernelContext, op: DenseOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const w = ctx.weight();
  const bias = ctx.bias(op.bias);
  if (ctx.step.pool) throw new Error(`internal error: dense layer ${ctx.step.layer} has a fused pool (it has no spatial axes)`);
  const n = fn.atEntry("dense inputs", () => product(x.shape, fn));
  const quads = fn.atEntry("dense quads", () => n.floorDiv(4));
  const high = (v: Expr) => m.f64x2.promote_low_f32x4(m.i8x16.shuffle(v, zero(m), lanes([2, 3, 4, 5])));
  const low = (v: Expr) => m.f64x2.promote_low_f32x4(v);
  // Threads take whole blocks of units (threads.ts).
  parallelFor(fn, Math.ceil(op.units / UNITS), (block) => {
    const units = Array.from({ length: UNITS }, (_, r) => int(fn, block.mul(UNITS).add(r).min(op.units - 1)));
    const rows = units.map((u) => int(fn, w.base.add(u.mul(n).mul(4))));
    const acc: Var[][] = units.map(() => [vec(fn, zero(m)), vec(fn, zero(m))]);
    fn.for(0, quads, (q) => {
      const offset = int(fn, q.mul(16));
      const xv = vec(fn, m.v128.load(0, 4, x.base.add(offset).expr()));
      const xLo = vec(fn, low(xv.get()));
      const xHi = vec(fn, high(xv.get()));
      for (let r = 0; r < UNITS; r++) {
        const wv = vec(fn, m.v128.load(0, 4, rows[r].add(offset).expr()));
        fn.emit(acc[r][0].set(m.f64x2.add(acc[r][0].get(), m.f64x2.mul(low(wv.get()), xLo.get()))));
        fn.emit(acc[r][1].set(m.f64x2.add(acc[r][1].get(), m.f64x2.mul(high(wv.get()), xHi.get()))));
      }
    });
    for (let r = 0; r < UNITS; r++) {
      const u = units[r];
      const both = vec(fn, m.f64x2.add(acc[r][0].get(), acc[r][1].get()));
      const sum = fn.f64(m.f64.add(m.f64x2.extract_lane(both.get(), 0), m.f64x2.extract_lane(both.get(), 1)));
      const rowStart = int(fn, u.mul(n));
      fn.for(quads.mul(4), n, (i) => {
        fn.emit(sum.set(m.f64.add(sum.get(), m.f64.mul(w.load(rowStart.add(i)), x.load(i)))));
      });
      const total = bias ? m.f64.add(bias.load(u), sum.get()) : sum.get();
      fn.emit(y.store(u, ctx.finish(total, u)));
    }
  });
}
