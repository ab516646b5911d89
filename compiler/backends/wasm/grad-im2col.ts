// im2col and col2im by rows, on SIMD lanes, for windows whose last axis has stride 1.
//
// The column matrix col[g][r][j] (r = c * K + n', j the output positions) is, for one window
// offset n and one output row rho (every output axis but the last), a shifted copy of one
// input row: output positions ow in [lo, hi) read the input at src + (ow - lo), and the rest
// of the row (the padding) is 0. A compile-time table holds (lo, hi, src) per (n, rho), so the
// unrolling is whole-row vector copies and a few scalar zeros, rather than the generic path's
// table read, select and scalar store per element (grad-window.ts keeps that path for the
// strided windows). col2im (the input gradient's gather) is the same rows read the other way:
// dx[c, src + (ow - lo)] += dcol[r, rho, ow], whole rows of f32 lanes; two runs of one
// window offset never meet the same input element, so each vector add is a plain
// read-modify-write.

import type { ConvOp } from "../../ir/ops.js";
import type { Taps } from "../../reference/grad/taps.js";
import { Int, type View } from "./builder.js";
import type { GradKernelContext } from "./grad-context.js";
import { f32load, f32store, vload, vstore } from "./grad-simd.js";

/**
 * The rows of every window offset: [(n * rows + rho) * 4 + 0..2] = lo, hi, src, or undefined
 * when some row's real taps are not one run of consecutive input elements (a strided last
 * axis), where the caller takes the generic path.
 */
export function windowRuns(t: Taps): Int32Array | undefined {
  if (t.out.length === 0) return undefined;
  const W = t.out[t.out.length - 1];
  const rows = t.outVolume / W;
  const K = t.kVolume;
  const runs = new Int32Array(K * rows * 4);
  for (let n = 0; n < K; n++) {
    for (let rho = 0; rho < rows; rho++) {
      let lo = -1;
      let hi = -1;
      let src = 0;
      for (let ow = 0; ow < W; ow++) {
        const p = t.pos[(rho * W + ow) * K + n];
        if (p < 0) continue;
        if (lo < 0) {
          lo = ow;
          src = p;
        } else if (hi !== ow || p !== src + (ow - lo)) return undefined;
        hi = ow + 1;
      }
      const at = (n * rows + rho) * 4;
      runs.set(lo < 0 ? [0, 0, 0] : [lo, hi, src], at);
    }
  }
  return runs;
}

interface Run {
  readonly lo: Int;
  readonly hi: Int;
  readonly src: Int;
}

/** Calls `body` for every (g, n', n, rho) with the run's numbers read from the table at `runs`. */
function eachRun(k: GradKernelContext, runs: number, K: number, rows: number, flip: boolean, body: (wn: Int, rho: Int, run: Run) => void): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, K, (n) => {
    const wn = flip ? fn.let(fn.const(K - 1).sub(n)) : n;
    fn.for(0, rows, (rho) => {
      const e = fn.let(n.mul(rows).add(rho).mul(16));
      const read = (i: number) => fn.let(Int.of(m, () => m.i32.load(runs + 4 * i, 4, e.expr()), true));
      body(wn, rho, { lo: read(0), hi: read(1), src: read(2) });
    });
  });
}

/** out[d + i] = f(i) for i in [lo, hi): four lanes at a time, then scalar. */
function rowLoop(k: GradKernelContext, lo: Int, hi: Int, lanes: (i: Int) => void, scalar: (i: Int) => void): void {
  const { fn } = k;
  const m = fn.m;
  const quads = fn.let(Int.of(m, () => m.i32.shr_u(hi.sub(lo).expr(), m.i32.const(2)), true));
  fn.for(0, quads, (q) => lanes(fn.let(lo.add(q.mul(4)))));
  fn.for(fn.let(lo.add(quads.mul(4))), hi, scalar);
}

/** col[g][r][j] = x[g*Cg + c, tap] by rows (see above); `runs` is windowRuns' table's address. */
export function emitIm2colRuns(k: GradKernelContext, op: ConvOp, t: Taps, runs: number, Cg: number, inVol: number, x: View, col: View): void {
  const { fn } = k;
  const m = fn.m;
  const K = t.kVolume;
  const J = t.outVolume;
  const W = t.out[t.out.length - 1];
  const rows = J / W;
  const R = Cg * K;
  fn.for(0, op.groups, (g) => {
    eachRun(k, runs, K, rows, op.flip, (wn, rho, { lo, hi, src }) => {
      const d0 = fn.let(g.mul(R).add(wn).mul(J).add(rho.mul(W)));
      fn.for(0, Cg, (cc) => {
        const d = fn.let(d0.add(cc.mul(K * J)));
        // s + ow is the input element that output position ow reads.
        const s = fn.let(g.mul(Cg).add(cc).mul(inVol).add(src).sub(lo));
        const zeroAt = (i: Int) => fn.emit(f32store(fn, col, d.add(i), m.f32.const(0)));
        fn.for(0, lo, zeroAt);
        rowLoop(
          k,
          lo,
          hi,
          (i) => fn.emit(vstore(fn, col, d.add(i), vload(fn, x, s.add(i)))),
          (i) => fn.emit(f32store(fn, col, d.add(i), f32load(fn, x, s.add(i)))),
        );
        fn.for(hi, W, zeroAt);
      });
    });
  });
}

/** dx[c, :] = the sum of the columns' gradient dcol[g][r][j] over the taps that meet each element. */
export function emitCol2imRuns(k: GradKernelContext, op: ConvOp, t: Taps, runs: number, C: number, Cg: number, inVol: number, dcol: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  const K = t.kVolume;
  const J = t.outVolume;
  const W = t.out[t.out.length - 1];
  const rows = J / W;
  const R = Cg * K;
  const total = C * inVol;
  fn.for(0, Math.floor(total / 4), (q) => fn.emit(vstore(fn, dx, q.mul(4), m.v128.const([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))));
  for (let i = total - (total % 4); i < total; i++) fn.emit(f32store(fn, dx, fn.const(i), m.f32.const(0)));
  fn.for(0, C, (c) => {
    const r0 = fn.let(c.floorDiv(Cg).mul(R).add(c.mod(Cg).mul(K)));
    const x0 = fn.let(c.mul(inVol));
    eachRun(k, runs, K, rows, op.flip, (wn, rho, { lo, hi, src }) => {
      const d = fn.let(r0.add(wn).mul(J).add(rho.mul(W)));
      const s = fn.let(x0.add(src).sub(lo));
      rowLoop(
        k,
        lo,
        hi,
        (i) => {
          const at = fn.let(s.add(i));
          fn.emit(vstore(fn, dx, at, m.f32x4.add(vload(fn, dx, at), vload(fn, dcol, d.add(i)))));
        },
        (i) => {
          const at = fn.let(s.add(i));
          fn.emit(f32store(fn, dx, at, m.f32.add(f32load(fn, dx, at), f32load(fn, dcol, d.add(i)))));
        },
      );
    });
  });
}
