// matmul: per sample, a [B?, M, K] times b [B?, K, N]; loops over the B products, rows and
// columns with an f64 accumulator over K. A straightforward kernel: the dense and conv
// kernels carry the tuned GEMMs; a product of two computed values is rare in conv nets.

import type { KernelContext } from "./context.js";
import { dim } from "./dims.js";

export function emitMatMul(ctx: KernelContext): void {
  const { fn } = ctx;
  const m = fn.m;
  const sa = ctx.step.inputs[0].shape;
  const sb = ctx.step.inputs[1].shape;
  const a = ctx.input(0);
  const b = ctx.input(1);
  const y = ctx.output();
  const r = sa.length;
  const B = dim(fn, r === 3 ? sa[0] : 1);
  const M = dim(fn, sa[r - 2]);
  const K = dim(fn, sa[r - 1]);
  const N = dim(fn, sb[r - 1]);
  fn.for(0, B, (q) => {
    fn.for(0, M, (i) => {
      const row = fn.let(q.mul(M).add(i));
      fn.for(0, N, (j) => {
        const acc = fn.f64(m.f64.const(0));
        fn.for(0, K, (k) => {
          fn.emit(acc.set(m.f64.add(acc.get(), m.f64.mul(a.load(row.mul(K).add(k)), b.load(q.mul(K).add(k).mul(N).add(j))))));
        });
        const at = fn.let(row.mul(N).add(j));
        fn.emit(y.store(at, ctx.finish(acc.get(), at)));
      });
    });
  });
}
