// Max, average and Lp (p = 1 or 2) pooling of any window, stride, dilation, padding and ceil
// mode on SIMD lanes: four consecutive pooled outputs of the last axis per f32x4.
//
// Separable, row then column: for a quad of outputs the input span it reads on the last axis
// (3 strides + the dilated window: 9 values for 3x3/2) is loaded as `nv` consecutive vectors
// from every real row of the leading axes' windows, and those rows are reduced vector by
// vector first (a 3x3 window costs 3 x nv loads, not 9 gathers); then each tap of the last
// axis picks its four lanes (offset k r + i s) out of the reduced vectors with one or two
// shuffles. Loads are unaligned and never leave the span (the last vector is loaded to end
// where the span ends), so the interior needs no bounds checks: the quads whose whole span
// lies inside the row are the interior, plus one last quad ending at the row's last output
// where its span fits (it overlaps the one before); the outputs left (padding, a ceil
// window's overhang, a row shorter than a span) are peeled into a one-lane loop that clamps
// its window as pool.ts does. Rows whose leading
// windows are whole (all but the padded edges) take a copy of the interior with the leading
// taps unrolled; the others loop over their real taps.
//
// The divisor of an average and the 0 of an empty window follow pool.ts's rules; sums are
// in f32 (the reference is f64: 9 to a few dozen terms stay far inside the 1e-5 contract).
// Gaussian pools, other p, other epilogues and spans too wide for a few registers stay with
// the scalar kernel; windows that tile the input with 1, 2 or 4 on the last axis with
// pool-simd.ts. The outermost loop (split across threads) runs over channels x pooled rows.

import { binaryen } from "./binaryen.js";
import type { PoolOp } from "../../ir/ops.js";
import type { Epilogue } from "../../plan/plan.js";
import { type Expr, Int, type Var } from "./builder.js";
import type { KernelContext } from "./context.js";
import { type AxisWindow, axisWindow } from "./conv.js";
import { activate, VECTOR_ACTIVATIONS } from "./direct-simd.js";
import { poolGeometry } from "./pool.js";
import { int, intLocal, lanes, splat, vec, zero } from "./simd.js";
import { parallelFor } from "./threads.js";

/** At most this many vectors per row span (and leading taps unrolled): they live in registers. */
const MAX_SPAN_VECTORS = 6;
const MAX_UNROLLED_ROWS = 16;

/** Input elements four outputs read on the last axis: 3 strides + the dilated window. */
function spanOf(op: PoolOp): number {
  const d = op.window.length - 1;
  return 3 * op.stride[d] + (op.window[d] - 1) * op.dilation[d] + 1;
}

/** Vectors that cover the span (the last one loaded to end exactly where the span ends). */
function spanVectors(op: PoolOp): number {
  return Math.ceil(spanOf(op) / 4);
}

/** Whether this kernel computes the pool step (see the header). */
export function lanePool(op: PoolOp, epilogue: readonly Epilogue[]): boolean {
  return (
    (op.mode === "max" || op.mode === "avg" || (op.mode === "lp" && (op.p === 1 || op.p === 2))) &&
    spanVectors(op) <= MAX_SPAN_VECTORS &&
    epilogue.every((e) => e.kind === "activation" && VECTOR_ACTIVATIONS.has(e.fn))
  );
}

/** A leading axis's window at this row: the clamped taps and the window's positions inside the padded input. */
interface LeadWindow extends AxisWindow {
  readonly padded: Int;
}

export function emitLanePool(ctx: KernelContext, op: PoolOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const g = poolGeometry(fn, op, ctx.step.inputs[0].shape);
  const { M, J, padBefore, padAfter, clamp } = g;
  const d = M.length - 1;
  const K = op.window;
  const S = op.stride;
  const R = op.dilation;
  const nv = spanVectors(op);
  const span = spanOf(op);
  // Vector v < nv - 1 starts at element 4v of the span, the last one at span - 4 (span >= 4:
  // so no load passes the span's end); where each span offset is read from.
  const vectorStart = (v: number) => (v < nv - 1 ? 4 * v : span - 4);
  const lane = (o: number): [number, number] => (o < 4 * (nv - 1) ? [Math.floor(o / 4), o % 4] : [nv - 1, o - (span - 4)]);
  const lead = J.slice(0, d);
  const leadVol = K.slice(0, d).reduce((a, b) => a * b, 1);
  const rows = fn.atEntry("lpool.rows", () => lead.reduce<Int>((p, j) => p.mul(j), x.shape[0]));
  const [Ml, Jl, pb, s, r, k] = [M[d], J[d], padBefore[d], S[d], R[d], K[d]];
  const isMax = op.mode === "max";
  const identity = () => (isMax ? splat(m, -Infinity) : zero(m));
  // pmax (b < a ? a : b) is one instruction where f32x4.max is about seven (its NaN and
  // -0 rules); it differs only there: a NaN in a window may be dropped, as XNNPACK does.
  const combine = (a: Expr, b: Expr) => (isMax ? m.f32x4.pmax(a, b) : m.f32x4.add(a, b));
  const xOff = x.base.constant ?? 0;
  const yOff = y.base.constant ?? 0;
  const at = (base: Int, flat: Int) => (base.constant !== undefined ? flat.mul(4).expr() : base.add(flat.mul(4)).expr());
  /** The term a value adds: itself (max, avg), |v| (L1) or v^2 (L2). */
  const term = (v: Expr): Expr => {
    if (op.mode !== "lp") return v;
    if (op.p === 1) return m.f32x4.abs(v);
    const t = vec(fn, v);
    return m.f32x4.mul(t.get(), t.get());
  };
  const summary = (acc: Expr, inv: Var): Expr => {
    if (op.mode === "avg") return m.f32x4.mul(acc, inv.get());
    if (op.mode === "lp" && op.p === 2) return m.f32x4.sqrt(acc);
    return acc;
  };
  const finish = (v: Expr) => activate(ctx.step.epilogue, v, fn);

  // Interior quads start at jA (the first output whose window starts inside the row) and end
  // before the first whose span would pass the row's end (j0max: the last quad start that
  // fits). Past them, one more quad ending at the row's last output (the tail, overlapping
  // the previous quad: its shared outputs are computed again and stored with the same
  // values) where it too fits, so that a pool without padding has no peeled outputs at all.
  const jA = fn.atEntry("lpool.jA", () => pb.ceilDiv(s));
  const j0max = fn.atEntry("lpool.j0max", () => Ml.add(pb).sub(span).floorDiv(s));
  const tail = fn.atEntry("lpool.tail", () => Jl.sub(4));
  const tailFits = fn.atEntry("lpool.tailFits", () => Int.of(m, () => m.i32.and(m.i32.ge_s(tail.expr(), jA.expr()), m.i32.le_s(tail.expr(), j0max.expr()))));
  const quads = fn.atEntry("lpool.quads", () => Jl.sub(4).min(j0max).sub(jA).floorDiv(4).add(1).max(0));
  const left = fn.atEntry("lpool.left", () => jA.min(Jl));
  const b0 = fn.atEntry("lpool.b0", () => jA.mul(s).sub(pb));

  parallelFor(fn, rows, (row) => {
    const js: Int[] = [];
    let rest: Int = row;
    for (let i = d - 1; i >= 0; i--) {
      js[i] = int(fn, rest.mod(lead[i]));
      rest = int(fn, rest.floorDiv(lead[i]));
    }
    const c = rest;
    const wins: LeadWindow[] = js.map((j, i) => {
      const w = axisWindow(fn, j, S[i], R[i], K[i], padBefore[i], M[i], clamp[i]);
      const padded = op.ceil ? int(fn, M[i].add(padAfter[i]).sub(w.start).ceilDiv(R[i]).min(K[i])) : fn.const(K[i]);
      return { ...w, padded };
    });
    const realLead = int(
      fn,
      wins.reduce<Int>((p, w) => p.mul(w.kHi.sub(w.kLo).max(0)), fn.const(1)),
    );
    const paddedLead = int(
      fn,
      wins.reduce<Int>((p, w) => p.mul(w.padded), fn.const(1)),
    );
    const whole = wins.every((w, i) => w.kLo.constant === 0 && w.kHi.constant === K[i]);
    const outRow = int(fn, row.mul(Jl));
    // An empty leading window leaves the whole row to the one-lane loop (which gives its 0s).
    const rowQuads = realLead.constant !== undefined && realLead.constant > 0 ? quads : intLocal(fn, m.select(m.i32.eqz(realLead.expr()), m.i32.const(0), quads.expr()));
    const tailHere = intLocal(fn, m.i32.and(tailFits.expr(), m.i32.ne(rowQuads.expr(), m.i32.const(0))));
    const right = intLocal(fn, m.select(tailHere.expr(), Jl.expr(), left.max(jA.add(rowQuads.mul(4))).expr()));

    /** Input row index (channel and leading coordinates) of leading taps `ks`. */
    const inRow = (ks: readonly Int[]): Int => ks.reduce<Int>((p, kk, i) => p.mul(M[i]).add(wins[i].start.add(kk.mul(R[i]))), c);

    // Byte addresses: each input row's at the first interior quad, computed before the quad
    // loop where the taps are unrolled; the loop adds its quad's offset once per row.
    const rowPtr = (ks: readonly Int[]): Int => int(fn, x.base.add(inRow(ks).mul(Ml).add(b0).mul(4)));
    const interior = (unrolled: boolean): void => {
      const count = op.countPad ? paddedLead : realLead;
      const inv = vec(fn, op.mode === "avg" ? m.f32x4.splat(m.f32.div(m.f32.const(1), m.f32.convert_s.i32(count.mul(k).expr()))) : zero(m));
      const rows: Int[] = [];
      if (unrolled) {
        const walk = (axis: number, ks: Int[]): void => {
          if (axis === d) return void rows.push(rowPtr(ks));
          for (let t = 0; t < K[axis]; t++) walk(axis + 1, [...ks, fn.const(t)]);
        };
        walk(0, []);
      }
      const outPtr = int(fn, y.base.add(outRow.add(jA).mul(4)));
      /** The quad of outputs jA + dj .. jA + dj + 3. */
      const quad = (dj: Int) => {
        const qBytes = int(fn, dj.mul(4 * s));
        const acc = Array.from({ length: nv }, () => fn.variable(binaryen.v128));
        let first = true;
        const visit = (row: Int) => {
          const p = int(fn, row.add(qBytes));
          acc.forEach((a, v) => {
            const value = term(m.v128.load(4 * vectorStart(v), 4, p.expr()));
            fn.emit(a.set(first ? value : combine(a.get(), value)));
          });
          first = false;
        };
        if (unrolled) rows.forEach(visit);
        else {
          acc.forEach((a) => fn.emit(a.set(identity())));
          first = false;
          const walk = (axis: number, ks: Int[]): void => {
            if (axis === d) return visit(rowPtr(ks));
            fn.for(wins[axis].kLo, wins[axis].kHi, (t) => walk(axis + 1, [...ks, t]));
          };
          walk(0, []);
        }
        let out: Expr | undefined;
        for (let t = 0; t < k; t++) {
          const picked = gather(acc, [0, 1, 2, 3].map((i) => t * r + i * s));
          out = out === undefined ? picked : combine(out, picked);
        }
        fn.emit(m.v128.store(0, 4, outPtr.add(dj.mul(4)).expr(), finish(summary(out as Expr, inv))));
      };
      fn.for(0, rowQuads, (q) => quad(q.mul(4)));
      fn.emit(m.if(tailHere.expr(), fn.block(() => quad(int(fn, tail.sub(jA))))));
    };

    /** Four lanes at these offsets into the concatenated vectors `vs`: one shuffle per vector past the first. */
    const gather = (vs: readonly Var[], offsets: readonly number[]): Expr => {
      const at = offsets.map(lane);
      const sources = [...new Set(at.map(([v]) => v))];
      if (sources.length === 1) {
        const v = vs[sources[0]];
        const ls = at.map(([, l]) => l);
        return ls.every((l, i) => l === i) ? v.get() : m.i8x16.shuffle(v.get(), v.get(), lanes(ls));
      }
      const from = (src: number, keep: (i: number) => number) => at.map(([v, l], i) => (v === src ? 4 + l : keep(i)));
      let t = m.i8x16.shuffle(vs[sources[0]].get(), vs[sources[1]].get(), lanes(from(sources[1], (i) => (at[i][0] === sources[0] ? at[i][1] : 0))));
      for (const src of sources.slice(2)) t = m.i8x16.shuffle(t, vs[src].get(), lanes(from(src, (i) => i)));
      return t;
    };

    if (whole) interior(leadVol <= MAX_UNROLLED_ROWS);
    else if (leadVol > MAX_UNROLLED_ROWS) interior(false);
    else {
      const isWhole = wins.reduce<Expr>((e, w, i) => m.i32.and(e, m.i32.and(m.i32.eqz(w.kLo.expr()), m.i32.eq(w.kHi.expr(), m.i32.const(K[i])))), m.i32.const(1));
      fn.emit(m.if(isWhole, fn.block(() => interior(true)), fn.block(() => interior(false))));
    }

    // The peeled outputs, one lane each, their last-axis window clamped.
    const edge = (j: Int): void => {
      const w = axisWindow(fn, j, s, r, k, pb, Ml, true);
      const acc = vec(fn, identity());
      const walk = (axis: number, ks: Int[]): void => {
        if (axis === d) {
          const base = int(fn, inRow(ks).mul(Ml).add(w.start));
          fn.for(w.kLo, w.kHi, (t) => {
            fn.emit(acc.set(combine(acc.get(), term(m.v128.load32_splat(xOff, 4, at(x.base, base.add(t.mul(r))))))));
          });
          return;
        }
        fn.for(wins[axis].kLo, wins[axis].kHi, (t) => walk(axis + 1, [...ks, t]));
      };
      walk(0, []);
      const real = int(fn, realLead.mul(w.kHi.sub(w.kLo).max(0)));
      const paddedLast = op.ceil ? Ml.add(padAfter[d]).sub(w.start).ceilDiv(r).min(k) : fn.const(k);
      let v: Expr;
      if (op.mode === "avg") {
        const count = op.countPad ? paddedLead.mul(paddedLast) : real.max(1);
        v = m.f32x4.div(acc.get(), m.f32x4.splat(m.f32.convert_s.i32(count.expr())));
      } else if (isMax) {
        // An empty window gives 0: a lane mask of all ones (0 - 1) where it has real elements.
        v = m.v128.bitselect(acc.get(), zero(m), m.i32x4.splat(m.i32.sub(m.i32.const(0), m.i32.ne(real.expr(), m.i32.const(0)))));
      } else v = op.p === 2 ? m.f32x4.sqrt(acc.get()) : acc.get();
      fn.emit(m.f32.store(yOff, 4, at(y.base, outRow.add(j)), m.f32x4.extract_lane(finish(v), 0)));
    };
    fn.for(0, left, edge);
    fn.for(right, Jl, edge);
  });
}
