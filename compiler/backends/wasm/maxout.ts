// Cross-channel pooling (maxout): the max over each group of k consecutive channels,
//
//   y[c', p] = max over c in [c'*k, (c'+1)*k) of x[c, p]
//
// Channels are the outer axis of the layout, so for each output channel the k input rows
// are read in step along the positions: k loads and k - 1 max per output element. k is a
// compile-time constant, so binaryen can unroll the inner loop.

import type { MaxoutOp } from "../../ir/ops.js";
import type { KernelContext } from "./context.js";
import { product } from "./dims.js";

export function emitMaxout(ctx: KernelContext, op: MaxoutOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const positions = fn.atEntry("maxout positions", () => product(x.shape.slice(1), fn));

  fn.for(0, y.shape[0], (co) => {
    const first = fn.let(co.mul(op.k).mul(positions));
    const outRow = fn.let(co.mul(positions));
    fn.for(0, positions, (i) => {
      const at = fn.let(first.add(i));
      const acc = fn.f64(x.load(at));
      fn.for(1, op.k, (t) => {
        fn.emit(acc.set(m.f64.max(acc.get(), x.load(at.add(t.mul(positions))))));
      });
      fn.emit(y.store(outRow.add(i), ctx.finish(acc.get(), outRow.add(i))));
    });
  });
}
