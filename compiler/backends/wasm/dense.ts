// Dense (fully connected) layer over the flattened input:
//
//   y[u] = bias[u] + sum over i of  w[u, i] * x[i]      (w is [units, inputs], row-major)
//
// One dot product per unit, reading a weight row and the input contiguously. Accumulated in
// f64: a dense layer sums thousands of products, where f32 would drift past the 1e-5 the
// reference comparison allows.

import type { DenseOp } from "../../ir/ops.js";
import type { KernelContext } from "./context.js";
import { product } from "./dims.js";
import { parallelFor } from "./threads.js";

export function emitDense(ctx: KernelContext, op: DenseOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const w = ctx.weight();
  const bias = ctx.bias(op.bias);
  if (ctx.step.pool) throw new Error(`internal error: dense layer ${ctx.step.layer} has a fused pool (it has no spatial axes)`);
  const n = fn.atEntry("dense inputs", () => product(x.shape, fn));
  // Threads take whole units (threads.ts).
  parallelFor(fn, op.units, (u) => {
    const acc = fn.f64(bias ? bias.load(u) : m.f64.const(0));
    const row = fn.let(u.mul(n));
    fn.for(0, n, (i) => {
      fn.emit(acc.set(m.f64.add(acc.get(), m.f64.mul(w.load(row.add(i)), x.load(i)))));
    });
    fn.emit(y.store(u, ctx.finish(acc.get(), u)));
  });
}
