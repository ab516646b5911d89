// Register-blocked SIMD products for the training step's convolutions (grad-window.ts):
//
//   rowGemm:  out[i, :] = start(i) + sum over u of A(i, u) * B[u, :]   (forward, columns' gradient)
//   blockDot: out(i, k) = sum over j of P[i, j] * Q[k, j]              (kernel gradient)
//
// Why blocks: a loop that keeps one output row (or one dot product) in flight waits on each
// f32x4.add's latency and loads a vector per multiply-add. rowGemm holds 4 rows x 8 columns
// (8 accumulators) in registers, so each B vector it loads feeds 4 multiply-adds and each
// splatted A scalar feeds 2; blockDot holds 4 x 2 dot products, so each loaded vector feeds 2
// or 4. Eight independent accumulators cover the add latency. Rows past a multiple of 4 run
// in a smaller block, columns past a multiple of 8 in a 4-wide block, the last n mod 4 in
// scalar f64, so no tensor needs padding and no load reads past a row. Lanes accumulate in f32,
// as grad-simd.ts's loops do (tests/train/wasm.test.ts holds every gradient to the reference).

import type { Expr, Fn, Int, View } from "./builder.js";
import { vload, vsplat, vstore } from "./grad-simd.js";
import { fmadd, vec, zero as vzero } from "./simd.js";

/** Calls `block(first, rows)` over [0, I) in blocks of 4 rows, then one block of I mod 4. */
function blocks(fn: Fn, I: number, size: number, block: (first: Int, rows: number) => void): void {
  const whole = I - (I % size);
  if (whole > 0) fn.for(0, whole / size, (b) => block(fn.let(b.mul(size)), size));
  if (I % size) block(fn.const(whole), I % size);
}

export interface RowGemm {
  /** Rows of the output, terms of each sum, columns. */
  readonly I: number;
  /** A number, or a run-time count (the dense kernel gradients' samples in a chunk). */
  readonly U: number | Int;
  readonly n: number;
  /** Adds the products to `out` instead of storing them (a gradient sum). */
  readonly add?: boolean;
  /** The scalar A(i, u): a view and the element's index. */
  readonly A: View;
  readonly aAt: (i: Int, u: Int) => Int;
  /** Row u of B starts at element bRow(u) and runs n contiguous elements. */
  readonly B: View;
  readonly bRow: (u: Int) => Int;
  readonly out: View;
  readonly outRow: (i: Int) => Int;
  /** An element splatted into every sum of row i as its start (a channel bias); 0 without. */
  readonly start?: (i: Int) => { readonly view: View; readonly at: Int };
}

/** out[i, j] = start(i) + sum over u < U of A(i, u) * B[u, j], for i < I and j < n. */
export function rowGemm(fn: Fn, g: RowGemm): void {
  const m = fn.m;
  const { n } = g;
  blocks(fn, g.I, 4, (i0, rows) => {
    const is = Array.from({ length: rows }, (_, r) => fn.let(i0.add(r)));
    const outs = is.map((i) => fn.let(g.outRow(i)));
    const starts = g.start ? is.map((i) => (g.start as NonNullable<RowGemm["start"]>)(i)) : undefined;
    const columns = (j0: Int, vectors: number) => {
      const j = fn.let(j0);
      const first = (r: number, v: number) => (g.add ? vload(fn, g.out, outs[r].add(j).add(4 * v)) : starts ? vsplat(fn, starts[r].view, starts[r].at) : vzero(m));
      const acc = is.map((_, r) => Array.from({ length: vectors }, (_, v) => vec(fn, first(r, v))));
      fn.for(0, g.U, (u) => {
        const at = fn.let(g.bRow(u).add(j));
        const b = Array.from({ length: vectors }, (_, v) => vec(fn, vload(fn, g.B, at.add(4 * v))));
        is.forEach((i, r) => {
          const s = vec(fn, vsplat(fn, g.A, g.aAt(i, u)));
          acc[r].forEach((a, v) => fn.emit(a.set(fmadd(fn, a.get(), b[v].get(), s.get()))));
        });
      });
      acc.forEach((row, r) => row.forEach((a, v) => fn.emit(vstore(fn, g.out, outs[r].add(j).add(4 * v), a.get()))));
    };
    const wide = n - (n % 8);
    if (wide > 0) fn.for(0, wide / 8, (q) => columns(q.mul(8), 2));
    if (n % 8 >= 4) columns(fn.const(wide), 1);
    for (let j = n - (n % 4); j < n; j++) {
      is.forEach((i, r) => {
        const sum = fn.f64(g.add ? g.out.load(outs[r].add(j)) : starts ? starts[r].view.load(starts[r].at) : m.f64.const(0));
        fn.for(0, g.U, (u) => fn.emit(sum.set(m.f64.add(sum.get(), m.f64.mul(g.A.load(g.aAt(i, u)), g.B.load(g.bRow(u).add(j)))))));
        fn.emit(g.out.store(outs[r].add(j), sum.get()));
      });
    }
  });
}

export interface BlockDot {
  readonly I: number;
  readonly K: number;
  /** Length of each dot product. */
  readonly n: number;
  readonly P: View;
  readonly pRow: (i: Int) => Int;
  readonly Q: View;
  readonly qRow: (k: Int) => Int;
  /** Stores (or adds) the f64 dot product of P's row i and Q's row k. */
  readonly write: (i: Int, k: Int, value: Expr) => Expr;
}

/** write(i, k, sum over j < n of P[i, j] * Q[k, j]) for i < I, k < K. */
export function blockDot(fn: Fn, d: BlockDot): void {
  const m = fn.m;
  const { n } = d;
  const full = n - (n % 4);
  blocks(fn, d.I, 4, (i0, rows) => {
    const is = Array.from({ length: rows }, (_, r) => fn.let(i0.add(r)));
    const ps = is.map((i) => fn.let(d.pRow(i)));
    blocks(fn, d.K, 2, (k0, cols) => {
      const ks = Array.from({ length: cols }, (_, c) => fn.let(k0.add(c)));
      const qs = ks.map((k) => fn.let(d.qRow(k)));
      const acc = ps.map(() => qs.map(() => vec(fn, vzero(m))));
      if (full > 0) {
        fn.for(0, full / 4, (q) => {
          const j = fn.let(q.mul(4));
          const qv = qs.map((at) => vec(fn, vload(fn, d.Q, at.add(j))));
          ps.forEach((at, r) => {
            const pv = vec(fn, vload(fn, d.P, at.add(j)));
            qv.forEach((x, c) => fn.emit(acc[r][c].set(fmadd(fn, acc[r][c].get(), pv.get(), x.get()))));
          });
        });
      }
      ps.forEach((pAt, r) =>
        qs.forEach((qAt, c) => {
          const t = vec(fn, acc[r][c].get());
          const lane = (l: number) => m.f32x4.extract_lane(t.get(), l);
          const sum = fn.f64(m.f64.promote(m.f32.add(m.f32.add(lane(0), lane(1)), m.f32.add(lane(2), lane(3)))));
          for (let j = full; j < n; j++) fn.emit(sum.set(m.f64.add(sum.get(), m.f64.mul(d.P.load(pAt.add(j)), d.Q.load(qAt.add(j))))));
          fn.emit(d.write(is[r], ks[c], sum.get()));
        }),
      );
    });
  });
}
