// Max pooling's forward on four f32 lanes, for windows whose every tap is real (no padding)
// and whose last axis has stride 2 (LeNet's 2x2/2 pools): four outputs along the last axis read
// one tap at input positions p, p+2, p+4, p+6, which are the even lanes of two vector loads
// from p. Per tap: the running max (f32x4.max, which passes a NaN on as f64.max does) and the
// arg-max the gradient reads (grad-window.ts), kept by the gradient's rule: a tap replaces the
// best only when strictly greater, so the first of equal maxima wins and a NaN never does.
// The generic path reads the tap table, branches on padding and compares in f64 per tap and
// output; this one is a few vector instructions per tap and four outputs. The dropped odd
// lanes reach one element past the row's last tap: still inside the module's memory, which
// places another region or its 64-byte tail after every tensor (grad-module.ts).

import type { Taps } from "../../reference/grad/taps.js";
import { binaryen } from "./binaryen.js";
import { Int, type View } from "./builder.js";
import type { GradKernelContext } from "./grad-context.js";
import { f32load, f32store, vload, vstore } from "./grad-simd.js";
import { vec } from "./simd.js";

/**
 * The first input position of each (output row rho, tap n), [rho * K + n], when every output
 * position ow of the row reads that tap at first + 2 * ow (real, stride 2 along the last axis)
 * and rows are at least 4 long; undefined otherwise.
 */
export function strideTwoRows(t: Taps): Int32Array | undefined {
  if (t.out.length === 0) return undefined;
  const W = t.out[t.out.length - 1];
  if (W < 4) return undefined;
  const rows = t.outVolume / W;
  const K = t.kVolume;
  const first = new Int32Array(rows * K);
  for (let rho = 0; rho < rows; rho++) {
    for (let n = 0; n < K; n++) {
      const p0 = t.pos[rho * W * K + n];
      if (p0 < 0) return undefined;
      for (let ow = 1; ow < W; ow++) if (t.pos[(rho * W + ow) * K + n] !== p0 + 2 * ow) return undefined;
      first[rho * K + n] = p0;
    }
  }
  return first;
}

const EVEN_LANES = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const I32 = (v: readonly number[]): number[] => v.flatMap((x) => [x & 255, (x >> 8) & 255, (x >> 16) & 255, (x >>> 24) & 255]);

/** y[c, j] = the max of the window, arg[c, j] = c * inVol + its first arg-max (see above). */
export function emitMaxPoolLanes(k: GradKernelContext, t: Taps, first: number, C: number, inVol: number, x: View, y: View, arg: number): void {
  const { fn } = k;
  const m = fn.m;
  const K = t.kVolume;
  const J = t.outVolume;
  const W = t.out[t.out.length - 1];
  const rows = J / W;
  const quads = Math.floor(W / 4);
  const tap = (rho: Int, n: Int) => Int.of(m, () => m.i32.load(first, 4, rho.mul(K).add(n).mul(4).expr()), true);
  fn.for(0, C, (c) => {
    const xBase = fn.let(c.mul(inVol));
    fn.for(0, rows, (rho) => {
      const out0 = fn.let(c.mul(J).add(rho.mul(W)));
      fn.for(0, quads, (q) => {
        const ow = fn.let(q.mul(4));
        const acc = vec(fn, m.v128.const(I32([0xff800000, 0xff800000, 0xff800000, 0xff800000])));
        const best = vec(fn, acc.get());
        const at = vec(fn, m.v128.const(I32([-1, -1, -1, -1])));
        fn.for(0, K, (n) => {
          const p = fn.let(xBase.add(tap(rho, n)).add(ow.mul(2)));
          const v = vec(fn, m.i8x16.shuffle(vload(fn, x, p), vload(fn, x, p.add(4)), EVEN_LANES));
          const gt = vec(fn, m.f32x4.gt(v.get(), best.get()));
          fn.emit(
            acc.set(m.f32x4.max(acc.get(), v.get())),
            best.set(m.v128.bitselect(v.get(), best.get(), gt.get())),
            at.set(m.v128.bitselect(m.i32x4.add(m.i32x4.splat(p.expr()), m.v128.const(I32([0, 2, 4, 6]))), at.get(), gt.get())),
          );
        });
        const o = fn.let(out0.add(ow));
        fn.emit(vstore(fn, y, o, acc.get()), m.v128.store(arg, 4, o.mul(4).expr(), at.get()));
      });
      // The last W mod 4 outputs of the row, one at a time by the same rule.
      for (let ow = quads * 4; ow < W; ow++) {
        const acc = fn.variable(binaryen.f32, m.f32.const(-Infinity));
        const best = fn.variable(binaryen.f32, m.f32.const(-Infinity));
        const at = fn.variable(binaryen.i32, m.i32.const(-1));
        fn.for(0, K, (n) => {
          const p = fn.let(xBase.add(tap(rho, n)).add(2 * ow));
          const v = fn.variable(binaryen.f32, f32load(fn, x, p));
          fn.emit(acc.set(m.f32.max(acc.get(), v.get())));
          fn.emit(m.if(m.f32.gt(v.get(), best.get()), m.block(null, [best.set(v.get()), at.set(p.expr())])));
        });
        const o = fn.let(out0.add(ow));
        fn.emit(f32store(fn, y, o, acc.get()), m.i32.store(arg, 4, o.mul(4).expr(), at.get()));
      }
    });
  });
}
