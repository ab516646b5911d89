// FFT convolution by overlap-save tiles (algorithms/fft.ts has the math, the tile choice and
// the FFT plan this follows stage for stage). Per tile of N_0 x .. x N_{d-1} input points:
//   1. each input channel's tile is loaded (zero outside the image: masked vector loads) in
//      the digit-reversed row order of the first axis's FFT, then transformed in place, one
//      axis per pass: a pass runs the FFT along the leading axis of an [R][L] array, four
//      lanes of L at a time (split re / im planes, so a butterfly is plain f32x4 arithmetic;
//      twiddles and small-DFT constants are immediates), and a 4x4-block transpose to [L][R]
//      puts the next axis first, already in its digit-reversed order (an index table);
//   2. for each PAIR of output channels, Y_a + i Y_b = sum_c X_c (K_ac + i K_bc) ... exactly:
//      Z = Y_a + i Y_b with Y = sum_c X_c · conj(DFT k)/N^d (spectra computed at compile time,
//      in the transposed layout step 1 leaves), written in the inverse's digit-reversed order;
//   3. the inverse passes, the same way back; the real part is output a, the imaginary part
//      output b (both real signals), T = N - k_eff + 1 valid outputs per axis, plus bias and
//      epilogue (vector stores in 2-D, where the last layout is the natural one).
// 1-D layers run four tiles side by side in the lanes ([N][4]); 3-D layers end in a rotated
// layout and store outputs one at a time. Scratch: C + 2 tile spectra.

import { binaryen } from "./binaryen.js";
import { type ConvOp, effectiveKernel, windowGeometry } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import * as D from "../../ir/dim.js";
import { chooseFftTiling, type FftTiling, fftPlan, kernelSpectrum, stages, twiddle } from "../../algorithms/fft.js";
import { NOMINAL_SIZE } from "../../algorithms/applicability.js";
import { type Expr, Fn, type Int, type Var } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dims } from "./dims.js";
import { parallelNest } from "./threads.js";
import { type AlgorithmKernel, fmadd, int, intLocal, type KernelAddresses, OutputWriter, rangeMask, splat, stepWeights, TableBuilder, transpose4, vec, zero } from "./simd.js";

/** The tiling of an FFT layer (symbolic output sizes count as NOMINAL_SIZE), shared with the cost model. */
export function fftTilingFor(op: ConvOp, inChannels: number, outSpatial: readonly D.Dim[]): FftTiling {
  const kEff = op.kernel.map((k, i) => effectiveKernel(k, op.dilation[i]));
  const outs = outSpatial.map((j) => (typeof j === "number" ? j : NOMINAL_SIZE));
  return chooseFftTiling(kEff, inChannels / op.groups, op.filters / op.groups, outs);
}

interface Geometry {
  readonly d: number;
  readonly n: readonly number[];
  readonly t: readonly number[];
  /** Complex points of one tile array (1-D: four tiles). */
  readonly points: number;
  /** Forward: axis order after each pass (the first entry is [0..d-1]). */
  readonly forward: number[][];
  /** Inverse: axis order during each pass. */
  readonly inverse: number[][];
}

const rotate = (o: readonly number[]) => [...o.slice(1), o[0]];

function geometry(tiling: FftTiling): Geometry {
  const d = tiling.n.length;
  const forward: number[][] = [Array.from({ length: d }, (_, i) => i)];
  for (let p = 1; p < d; p++) forward.push(rotate(forward[p - 1]));
  const inverse: number[][] = [forward[d - 1]];
  for (let p = 1; p < d; p++) inverse.push(rotate(inverse[p - 1]));
  const points = tiling.n.reduce((a, b) => a * b, 1) * (d === 1 ? 4 : 1);
  return { d, n: tiling.n, t: tiling.t, points, forward, inverse };
}

/** [R][L] of a layout: R the leading axis's size, L the rest (four tiles in 1-D). */
function rowsLanes(g: Geometry, order: readonly number[]): [number, number] {
  const R = g.n[order[0]];
  return [R, g.points / R];
}

/** Byte offsets of the destination rows of a transpose [R][L] -> [L][R] into `next` order, digit-reversed for its leading axis. */
function transposeTable(g: Geometry, order: readonly number[], next: readonly number[]): Int32Array {
  const [R, L] = rowsLanes(g, order);
  const b = next[0];
  const nb = g.n[b];
  const tail = L / nb;
  const inv = inversePerm(nb);
  return Int32Array.from({ length: L }, (_, l) => (inv[Math.floor(l / tail)] * tail + (l % tail)) * R * 4);
}

function inversePerm(n: number): Int32Array {
  const { perm } = fftPlan(n);
  const inv = new Int32Array(n);
  perm.forEach((e, p) => (inv[e] = p));
  return inv;
}

/** The spectrum of one kernel slice in the layout the forward passes leave ([R][L]; 1-D: [N], one per row). */
function layoutSpectrum(g: Geometry, re: Float64Array, im: Float64Array): Float32Array {
  const order = g.forward[g.d - 1];
  const P = re.length;
  const out = new Float32Array(2 * P);
  const natural = (idx: readonly number[]) => idx.reduce((a, v, i) => a * g.n[i] + v, 0);
  const sizes = order.map((a) => g.n[a]);
  for (let q = 0; q < P; q++) {
    let rest = q;
    const idx = new Array<number>(g.d);
    for (let i = g.d - 1; i >= 0; i--) {
      idx[order[i]] = rest % sizes[i];
      rest = Math.floor(rest / sizes[i]);
    }
    const at = natural(idx);
    out[q] = re[at];
    out[P + q] = im[at];
  }
  return out;
}

export function prepareFft(step: Step, plan: Plan, op: ConvOp): AlgorithmKernel {
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const tiling = fftTilingFor(op, C, step.output.shape.slice(1));
  const g = geometry(tiling);
  const weights = stepWeights(step, plan.weightData);
  const Cg = C / op.groups;
  const kVol = op.kernel.reduce((a, b) => a * b, 1);
  const tables = new TableBuilder();
  const spectra: Float32Array[] = [];
  for (let o = 0; o < op.filters; o++) for (let c = 0; c < Cg; c++) {
    const [re, im] = kernelSpectrum(weights, (o * Cg + c) * kVol, op.kernel, op.dilation, op.flip, tiling.n);
    spectra.push(layoutSpectrum(g, re, im));
  }
  const spectraAt = tables.add(concat(spectra));
  const permAt = tables.add(fftPlan(g.n[0]).perm);
  const fwdTables = g.forward.slice(1).map((next, p) => tables.add(transposeTable(g, g.forward[p], next)));
  const invTables = g.inverse.slice(1).map((next, p) => tables.add(transposeTable(g, g.inverse[p], next)));
  const [Rf, Lf] = rowsLanes(g, g.forward[g.d - 1]);
  const lead = inversePerm(Rf);
  const zRowsAt = tables.add(Int32Array.from({ length: Rf }, (_, r) => lead[r] * Lf * 4));
  const layout = { spectraAt, permAt, fwdTables, invTables, zRowsAt };
  const reach = Math.max(...tiling.n) + (g.d === 1 ? 3 * tiling.t[0] : 0);
  const pads = op.pad.kind === "explicit" ? Math.max(...op.pad.before, ...op.pad.after) : Math.max(...tiling.n);
  return {
    tables: tables.build(),
    scratchBytes: (C + 2) * 2 * g.points * 4,
    overreadBytes: 4 * (reach + pads + 16),
    emit: (ctx, at) => emitFft(ctx, op, g, layout, at),
  };
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface Complex {
  readonly re: Var;
  readonly im: Var;
}

/** Functions already added to a module (FFT passes and transposes are shared between steps). */
const added = new WeakMap<binaryen.Module, Set<string>>();

function once(m: binaryen.Module, name: string, build: () => void): string {
  let set = added.get(m);
  if (!set) added.set(m, (set = new Set()));
  if (!set.has(name)) {
    set.add(name);
    build();
  }
  return name;
}

/** a * (wr + i wi), with the multiplications skipped for ±1 and ±i. */
function twiddleMul(fn: Fn, a: Complex, [wr, wi]: [number, number]): Complex {
  const m = fn.m;
  const near = (x: number, v: number) => Math.abs(x - v) < 1e-14;
  if (near(wr, 1) && near(wi, 0)) return a;
  if (near(wr, -1) && near(wi, 0)) return { re: vec(fn, m.f32x4.neg(a.re.get())), im: vec(fn, m.f32x4.neg(a.im.get())) };
  if (near(wr, 0) && near(wi, 1)) return { re: vec(fn, m.f32x4.neg(a.im.get())), im: a.re };
  if (near(wr, 0) && near(wi, -1)) return { re: a.im, im: vec(fn, m.f32x4.neg(a.re.get())) };
  return {
    re: vec(fn, m.f32x4.sub(m.f32x4.mul(a.re.get(), splat(m, wr)), m.f32x4.mul(a.im.get(), splat(m, wi)))),
    im: vec(fn, m.f32x4.add(m.f32x4.mul(a.re.get(), splat(m, wi)), m.f32x4.mul(a.im.get(), splat(m, wr)))),
  };
}

/** The r-point DFT of a (r = 2, 3, 4, 5), sign -1 forward / +1 inverse. */
function smallDft(fn: Fn, a: readonly Complex[], sign: number): Complex[] {
  const m = fn.m;
  const r = a.length;
  const add = (x: Complex, y: Complex): Complex => ({ re: vec(fn, m.f32x4.add(x.re.get(), y.re.get())), im: vec(fn, m.f32x4.add(x.im.get(), y.im.get())) });
  const sub = (x: Complex, y: Complex): Complex => ({ re: vec(fn, m.f32x4.sub(x.re.get(), y.re.get())), im: vec(fn, m.f32x4.sub(x.im.get(), y.im.get())) });
  /** sign * i * x. */
  const rot = (x: Complex): Complex =>
    sign < 0 ? { re: x.im, im: vec(fn, m.f32x4.neg(x.re.get())) } : { re: vec(fn, m.f32x4.neg(x.im.get())), im: x.re };
  if (r === 2) return [add(a[0], a[1]), sub(a[0], a[1])];
  if (r === 4) {
    const t0 = add(a[0], a[2]);
    const t1 = sub(a[0], a[2]);
    const t2 = add(a[1], a[3]);
    const t3 = rot(sub(a[1], a[3]));
    return [add(t0, t2), add(t1, t3), sub(t0, t2), sub(t1, t3)];
  }
  // Odd r: pair u with r - u, so each cosine and sine multiplies a sum or a difference once.
  const half = (r - 1) / 2;
  const s = Array.from({ length: half }, (_, i) => add(a[i + 1], a[r - 1 - i]));
  const dd = Array.from({ length: half }, (_, i) => sub(a[i + 1], a[r - 1 - i]));
  const y: Complex[] = new Array(r);
  let total = a[0];
  for (const x of s) total = add(total, x);
  y[0] = total;
  for (let v = 1; v <= half; v++) {
    let Are: Expr = a[0].re.get();
    let Aim: Expr = a[0].im.get();
    let Bre: Expr | undefined;
    let Bim: Expr | undefined;
    for (let u = 1; u <= half; u++) {
      const c = Math.cos((2 * Math.PI * u * v) / r);
      const sn = Math.sin((2 * Math.PI * u * v) / r);
      Are = m.f32x4.add(Are, m.f32x4.mul(splat(m, c), s[u - 1].re.get()));
      Aim = m.f32x4.add(Aim, m.f32x4.mul(splat(m, c), s[u - 1].im.get()));
      const br = m.f32x4.mul(splat(m, sn), dd[u - 1].re.get());
      const bi = m.f32x4.mul(splat(m, sn), dd[u - 1].im.get());
      Bre = Bre ? m.f32x4.add(Bre, br) : br;
      Bim = Bim ? m.f32x4.add(Bim, bi) : bi;
    }
    const A = { re: vec(fn, Are), im: vec(fn, Aim) };
    const B = rot({ re: vec(fn, Bre as Expr), im: vec(fn, Bim as Expr) });
    y[v] = add(A, B);
    y[r - v] = sub(A, B);
  }
  return y;
}

/** A function `(ptr)` running the FFT along the leading axis of the [R][L] complex array at ptr (re plane, then im). */
function passFunction(m: binaryen.Module, R: number, L: number, sign: number): string {
  return once(m, `fft_pass_${R}x${L}_${sign < 0 ? "fwd" : "inv"}`, () => {
    const f = new Fn(m, ["ptr"]);
    const ptr = f.symbol("ptr");
    const P = R * L;
    for (const { r, m: span0 } of stages(fftPlan(R))) {
      const span = r * span0;
      for (let k = 0; k < span0; k++) {
        f.for(0, R / span, (blk) => {
          const rowBase = int(f, ptr.add(blk.mul(span * L * 4)).add(k * L * 4));
          f.for(0, L / 4, (lv) => {
            const p = int(f, rowBase.add(lv.mul(16)));
            const at = (u: number) => u * span0 * L * 4;
            const a: Complex[] = Array.from({ length: r }, (_, u) => ({
              re: vec(f, m.v128.load(at(u), 16, p.expr())),
              im: vec(f, m.v128.load(at(u) + P * 4, 16, p.expr())),
            }));
            const t = a.map((x, u) => twiddleMul(f, x, twiddle(u * k, span, sign)));
            smallDft(f, t, sign).forEach((y, v) => {
              f.emit(m.v128.store(at(v), 16, p.expr(), y.re.get()));
              f.emit(m.v128.store(at(v) + P * 4, 16, p.expr(), y.im.get()));
            });
          });
        });
      }
    }
    f.finish(`fft_pass_${R}x${L}_${sign < 0 ? "fwd" : "inv"}`);
  });
}

/** A function `(src, dst)`: [R][L] -> [L][R] by 4x4 blocks, destination rows from the table at `table`. */
function transposeFunction(m: binaryen.Module, R: number, L: number, table: number): string {
  const name = `fft_transpose_${R}x${L}_${table}`;
  return once(m, name, () => {
    const f = new Fn(m, ["src", "dst"]);
    const src = f.symbol("src");
    const dst = f.symbol("dst");
    const P = R * L;
    f.for(0, L / 4, (lb) => {
      const rows = Array.from({ length: 4 }, (_, j) => intLocal(f, m.i32.load(table + 16 * 0 + 4 * j, 4, lb.mul(16).expr())));
      f.for(0, R / 4, (rb) => {
        const from = int(f, src.add(rb.mul(4 * L * 4)).add(lb.mul(16)));
        const to = int(f, dst.add(rb.mul(16)));
        for (const plane of [0, P * 4]) {
          const v = Array.from({ length: 4 }, (_, i) => vec(f, m.v128.load(plane + i * L * 4, 16, from.expr())));
          transpose4(f, v).forEach((u, j) => f.emit(m.v128.store(plane, 16, to.add(rows[j]).expr(), u.get())));
        }
      });
    });
    f.finish(name);
  });
}

interface TableLayout {
  readonly spectraAt: number;
  readonly permAt: number;
  readonly fwdTables: readonly number[];
  readonly invTables: readonly number[];
  readonly zRowsAt: number;
}

function emitFft(ctx: KernelContext, op: ConvOp, g: Geometry, t: TableLayout, at: KernelAddresses): void {
  const { fn } = ctx;
  const { tables: table, scratch } = at;
  const m = fn.m;
  const x = ctx.input(0);
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const pad = dims(fn, geo.padBefore);
  const M = x.shape.slice(1);
  const J = ctx.output().shape.slice(1);
  const { d, n, points: P } = g;
  const C = x.shape[0].constant as number;
  const O = op.filters;
  const Cg = C / op.groups;
  const Og = O / op.groups;
  const writer = new OutputWriter(ctx, op, at.spill);
  const inPlane = fn.atEntry("fft.inPlane", () => M.reduce<Int>((p, v) => p.mul(v), fn.const(1)));
  const outPlane = fn.atEntry("fft.outPlane", () => J.reduce<Int>((p, v) => p.mul(v), fn.const(1)));
  const bytes = 2 * P * 4;
  const xBuf = (c: Int) => scratch.add(c.mul(bytes));
  const work = fn.atEntry("fft.work", () => scratch.add(C * bytes));
  const zBuf = fn.atEntry("fft.z", () => scratch.add((C + 1) * bytes));
  const Pk = P / (d === 1 ? 4 : 1);
  const spectrum = (o: Int, c: Int) => o.mul(Cg).add(c).mul(2 * Pk * 4).add(table + t.spectraAt);
  // Outputs per tile per axis; 1-D batches four tiles.
  const span = g.t.map((ti, i) => (d === 1 && i === 0 ? 4 * ti : ti));
  const counts = J.map((j, i) => fn.atEntry(`fft.tiles${i}`, () => j.ceilDiv(span[i])));

  // Threads take whole tiles (threads.ts): each transforms into its own scratch.
  parallelNest(fn, counts, (ti) => tile(ti.map((t, i) => int(fn, t.mul(span[i])))));

  function call(name: string, args: Expr[]): void {
    fn.emit(m.call(name, args, binaryen.none));
  }

  function tile(origin: Int[]): void {
    // 1. Forward transforms of every input channel (the last pass leaves it in its X slot).
    const start = (d - 1) % 2 === 1 ? work : undefined;
    fn.for(0, C, (c) => {
      const slot = int(fn, xBuf(c));
      const first = start ?? slot;
      load(c, origin, first);
      let cur = first;
      let other = cur === slot ? work : slot;
      for (let p = 0; p < d; p++) {
        const [R, L] = rowsLanes(g, g.forward[p]);
        if (p > 0) {
          const [R0, L0] = rowsLanes(g, g.forward[p - 1]);
          call(transposeFunction(m, R0, L0, table + t.fwdTables[p - 1]), [cur.expr(), other.expr()]);
          [cur, other] = [other, cur];
        }
        call(passFunction(m, R, L, -1), [cur.expr()]);
      }
    });
    // 2-3. Per pair of outputs: products, inverse transforms, stores.
    fn.for(0, Math.floor(O / 2), (pair) => output(int(fn, pair.mul(2)), true, origin));
    if (O % 2) output(fn.const(O - 1), false, origin);
  }

  /** Channel c's tile at `origin` into the array at `dst`, rows in the first pass's digit-reversed order. */
  function load(c: Int, origin: Int[], dst: Int): void {
    const [R, L] = rowsLanes(g, g.forward[0]);
    const base = int(fn, x.base.add(c.mul(inPlane).mul(4)), false);
    fn.for(0, R, (p) => {
      const srcRow = intLocal(fn, m.i32.load(table + t.permAt, 4, p.mul(4).expr()));
      const row = int(fn, dst.add(p.mul(L * 4)));
      if (d === 1) {
        // Four tiles side by side: lane b is input position origin + b*T + perm[p] - pad.
        const pos = int(fn, origin[0].add(srcRow).sub(pad[0]), false);
        let v = zero(m);
        for (let b = 0; b < 4; b++) v = m.v128.load32_lane(4 * b * g.t[0], 4, b, base.add(pos.mul(4)).expr(), v);
        fn.emit(m.v128.store(0, 16, row.expr(), m.v128.and(v, rangeMask(m, pos, g.t[0], M[0]))));
        fn.emit(m.v128.store(P * 4, 16, row.expr(), zero(m)));
        return;
      }
      const i0 = int(fn, origin[0].add(srcRow).sub(pad[0]), false);
      const ok0 = m.i32.lt_u(i0.expr(), M[0].expr());
      const fill = fn.block(() => {
        const mid = d === 3 ? n[1] : 1;
        fn.for(0, mid, (i1) => {
          const pos = d === 3 ? int(fn, origin[1].add(i1).sub(pad[1]), false) : undefined;
          const lastAxis = d - 1;
          const rowIn = int(fn, base.add((pos ? i0.mul(M[1]).add(pos) : i0).mul(M[lastAxis]).mul(4)), false);
          const dstRow = int(fn, row.add(i1.mul(n[lastAxis] * 4)));
          const body = fn.block(() =>
            fn.for(0, n[lastAxis] / 4, (lv) => {
              const col = int(fn, origin[lastAxis].add(lv.mul(4)).sub(pad[lastAxis]), false);
              const v = m.v128.and(m.v128.load(0, 4, rowIn.add(col.mul(4)).expr()), rangeMask(m, col, 1, M[lastAxis]));
              fn.emit(m.v128.store(0, 16, dstRow.add(lv.mul(16)).expr(), v));
              fn.emit(m.v128.store(P * 4, 16, dstRow.add(lv.mul(16)).expr(), zero(m)));
            }),
          );
          const clear = fn.block(() =>
            fn.for(0, n[lastAxis] / 4, (lv) => {
              fn.emit(m.v128.store(0, 16, dstRow.add(lv.mul(16)).expr(), zero(m)));
              fn.emit(m.v128.store(P * 4, 16, dstRow.add(lv.mul(16)).expr(), zero(m)));
            }),
          );
          if (pos) fn.emit(m.if(m.i32.lt_u(pos.expr(), M[1].expr()), body, clear));
          else fn.emit(body);
        });
      });
      const clearAll = fn.block(() =>
        fn.for(0, L / 4, (lv) => {
          fn.emit(m.v128.store(0, 16, row.add(lv.mul(16)).expr(), zero(m)));
          fn.emit(m.v128.store(P * 4, 16, row.add(lv.mul(16)).expr(), zero(m)));
        }),
      );
      fn.emit(m.if(ok0, fill, clearAll));
    });
  }

  /** Outputs o (real part) and, when `pair`, o + 1 (imaginary part) of the tile at `origin`. */
  function output(o: Int, pair: boolean, origin: Int[]): void {
    const [R, L] = rowsLanes(g, g.forward[d - 1]);
    const o2 = int(fn, o.add(1));
    const sameGroup = Og % 2 === 0;
    const gA = op.groups === 1 ? fn.const(0) : int(fn, o.floorDiv(Og).mul(Cg));
    const gB = op.groups === 1 || sameGroup ? gA : int(fn, o2.floorDiv(Og).mul(Cg));
    fn.for(0, R, (rho) => {
      const zRow = int(fn, zBuf.add(intLocal(fn, m.i32.load(table + t.zRowsAt, 4, rho.mul(4).expr()))));
      fn.for(0, L / 4, (lv) => {
        const off = int(fn, rho.mul(L * 4).add(lv.mul(16)));
        const kOff = d === 1 ? int(fn, rho.mul(4)) : off;
        const acc = [0, 1].map(() => ({ re: vec(fn, zero(m)), im: vec(fn, zero(m)) }));
        const kLoad = (p: Int, plane: number) => (d === 1 ? m.v128.load32_splat(plane, 4, p.expr()) : m.v128.load(plane, 16, p.expr()));
        const mac = (a: Complex, xr: Var, xi: Var, kp: Int) => {
          const kr = vec(fn, kLoad(kp, 0));
          const ki = vec(fn, kLoad(kp, Pk * 4));
          // re += xr kr - xi ki, im += xr ki + xi kr: four multiply-adds (-xi is one negation).
          const nxi = vec(fn, m.f32x4.neg(xi.get()));
          fn.emit(a.re.set(fmadd(fn, fmadd(fn, a.re.get(), xr.get(), kr.get()), nxi.get(), ki.get())));
          fn.emit(a.im.set(fmadd(fn, fmadd(fn, a.im.get(), xr.get(), ki.get()), xi.get(), kr.get())));
        };
        const channels = (group: Int, outs: { o: Int; a: Complex }[]) =>
          fn.for(0, Cg, (cc) => {
            const xp = int(fn, xBuf(group.add(cc)).add(off));
            const xr = vec(fn, m.v128.load(0, 16, xp.expr()));
            const xi = vec(fn, m.v128.load(P * 4, 16, xp.expr()));
            for (const { o: oo, a } of outs) mac(a, xr, xi, int(fn, spectrum(oo, cc).add(kOff)));
          });
        if (!pair) channels(gA, [{ o, a: acc[0] }]);
        else if (op.groups === 1 || sameGroup) channels(gA, [{ o, a: acc[0] }, { o: o2, a: acc[1] }]);
        else {
          channels(gA, [{ o, a: acc[0] }]);
          channels(gB, [{ o: o2, a: acc[1] }]);
        }
        // Z = Y_a + i Y_b.
        const z = int(fn, zRow.add(lv.mul(16)));
        fn.emit(m.v128.store(0, 16, z.expr(), m.f32x4.sub(acc[0].re.get(), acc[1].im.get())));
        fn.emit(m.v128.store(P * 4, 16, z.expr(), m.f32x4.add(acc[0].im.get(), acc[1].re.get())));
      });
    });
    // Inverse passes.
    let cur: Int = zBuf;
    let other: Int = work;
    for (let p = 0; p < d; p++) {
      const [Rp, Lp] = rowsLanes(g, g.inverse[p]);
      if (p > 0) {
        const [R0, L0] = rowsLanes(g, g.inverse[p - 1]);
        call(transposeFunction(m, R0, L0, table + t.invTables[p - 1]), [cur.expr(), other.expr()]);
        [cur, other] = [other, cur];
      }
      call(passFunction(m, Rp, Lp, 1), [cur.expr()]);
    }
    store(o, o2, pair, origin, cur, g.inverse[d - 1]);
  }

  /** The valid outputs of the tile from the final array (real part: o, imaginary: o2). */
  function store(o: Int, o2: Int, pair: boolean, origin: Int[], buf: Int, order: readonly number[]): void {
    const biasA = writer.channelBias(o);
    const biasB = pair ? writer.channelBias(o2) : undefined;
    if (d === 2) {
      // The natural layout [i0][i1]: runs of four outputs along the last axis.
      const limit = int(fn, J[1].sub(origin[1]).min(g.t[1]));
      fn.for(0, g.t[0], (i0) => {
        const row = int(fn, origin[0].add(i0));
        const body = fn.block(() =>
          fn.for(0, Math.ceil(g.t[1] / 4), (lv) => {
            const i1 = int(fn, lv.mul(4));
            const src = int(fn, buf.add(i0.mul(n[1] * 4)).add(i1.mul(4)));
            const at = int(fn, row.mul(J[1]).add(origin[1]).add(i1));
            const re = vec(fn, m.v128.load(0, 16, src.expr()));
            const im = pair ? vec(fn, m.v128.load(P * 4, 16, src.expr())) : undefined;
            const count = int(fn, limit.sub(i1), false);
            fn.emit(writer.run(re, o, int(fn, o.mul(outPlane).add(at)), count, biasA));
            if (im) fn.emit(writer.run(im, o2, int(fn, o2.mul(outPlane).add(at)), count, biasB));
          }),
        );
        fn.emit(m.if(row.lt(J[0]), body));
      });
      return;
    }
    // 1-D ([n][tile]) and 3-D (rotated): one output at a time.
    const sizes = d === 1 ? [n[0], 4] : order.map((a) => n[a]);
    const limits = d === 1 ? [g.t[0], 4] : order.map((a) => g.t[a]);
    const walk = (level: number, flat: Int, idx: Int[]): void => {
      if (level === sizes.length) return one(flat, idx);
      fn.for(0, limits[level], (i) => walk(level + 1, int(fn, flat.mul(sizes[level]).add(i)), [...idx, i]));
    };
    const one = (flat: Int, idx: Int[]) => {
      // Output coordinates per spatial axis.
      const pos: Int[] = new Array(d);
      if (d === 1) pos[0] = int(fn, origin[0].add(idx[1].mul(g.t[0])).add(idx[0]));
      else order.forEach((a, level) => (pos[a] = int(fn, origin[a].add(idx[level]))));
      let ok: Expr | undefined;
      let at: Int = fn.const(0);
      pos.forEach((p, a) => {
        const c = p.lt(J[a]);
        ok = ok ? m.i32.and(ok, c) : c;
        at = at.mul(J[a]).add(p);
      });
      const spot = int(fn, at);
      const body = fn.block(() => {
        fn.emit(writer.scalar(m.f32.load(0, 4, buf.add(flat.mul(4)).expr()), o, o.mul(outPlane).add(spot)));
        if (pair) fn.emit(writer.scalar(m.f32.load(P * 4, 4, buf.add(flat.mul(4)).expr()), o2, o2.mul(outPlane).add(spot)));
      });
      fn.emit(m.if(ok as Expr, body));
    };
    walk(0, fn.const(0), []);
  }
}
