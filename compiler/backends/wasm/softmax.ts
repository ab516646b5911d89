// Softmax over channels at every position: for an input [C, D1..Dd] (or [N], where the
// whole vector is the channel axis), with P = D1*..*Dd positions,
//
//   y[c, p] = exp(x[c, p] - max_c x[., p]) / sum over c' of exp(x[c', p] - max)
//
// Subtracting the max keeps exp from overflowing. Three passes over the C channels of a
// position: the max; exp, stored in y, and its sum; the division. Every element is read
// before it is written at the same index, so y may be x itself (in place).
//
// log_softmax: y[c, p] = x[c, p] - (max + log(sum)); the second pass only sums, so the
// log of an underflowed quotient never appears.

import type { KernelContext } from "./context.js";
import { product } from "./dims.js";

export function emitSoftmax(ctx: KernelContext, log = false): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const channels = x.shape[0];
  const positions = fn.atEntry("softmax positions", () => product(x.shape.slice(1), fn));
  fn.for(0, positions, (p) => {
    const max = fn.f64(m.f64.const(-Infinity));
    fn.for(0, channels, (c) => {
      fn.emit(max.set(m.f64.max(max.get(), x.load(c.mul(positions).add(p)))));
    });
    const sum = fn.f64(m.f64.const(0));
    if (log) {
      fn.for(0, channels, (c) => {
        fn.emit(sum.set(m.f64.add(sum.get(), ctx.math.exp(m.f64.sub(x.load(c.mul(positions).add(p)), max.get())))));
      });
      const shift = fn.f64(m.f64.add(max.get(), ctx.math.log(sum.get())));
      fn.for(0, channels, (c) => {
        const at = fn.let(c.mul(positions).add(p));
        fn.emit(y.store(at, ctx.finish(m.f64.sub(x.load(at), shift.get()), at)));
      });
      return;
    }
    fn.for(0, channels, (c) => {
      const at = fn.let(c.mul(positions).add(p));
      const e = fn.f64(ctx.math.exp(m.f64.sub(x.load(at), max.get())));
      fn.emit(y.store(at, e.get()), sum.set(m.f64.add(sum.get(), e.get())));
    });
    fn.for(0, channels, (c) => {
      const at = fn.let(c.mul(positions).add(p));
      fn.emit(y.store(at, ctx.finish(m.f64.div(y.load(at), sum.get()), at)));
    });
  });
}
