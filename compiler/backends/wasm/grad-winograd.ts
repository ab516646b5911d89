// Winograd F(2x2, 3x3) for the training step's 3x3 stride-1 convolutions: the forward, the
// input gradient (eq. 9.13) and the kernel gradient (eq. 9.11) all in the transform domain,
// each an exact adjoint of the forward as computed (Lavin & Gray 2016; the matrices derived in
// algorithms/winograd.ts):
//
//   forward   V = B^T d B (per tile and channel),   M_ξ = U_ξ V_ξ,   y = A^T M A
//   backward  dM = A dY A^T (per tile and filter)
//             dU_ξ += dM_ξ V_ξ^T   (summed over the batch's samples and tiles; the kernel
//                                   gradient dg = G^T dU G is taken once per step, at `flush`)
//             dV_ξ = U_ξ^T dM_ξ,   dx = the tiles' B dV B^T, overlapping tiles added
//
// with U = G g G^T per filter and channel, transformed once per step (`prepare`, before the
// first sample: the weights change only in the update). ξ runs over the 16 points of a 4x4
// tile; each product is one GEMM per ξ over every tile of the sample (grad-gemm.ts's blocks),
// 16 multiply-adds per tile of 4 outputs and channel pair instead of 36. The transforms run
// four horizontally adjacent tiles per f32x4: a tile's columns are 2 apart, so lane loads of
// 8 consecutive floats are split into even and odd columns by one shuffle each.
//
// Edges: the input is first copied into a zero-padded block (the convolution's padding plus
// whole tiles, four to a vector), the output gradient likewise, and the outputs and the input
// gradient are computed on such blocks and copied out; tiles past the edge compute zeros and
// their gradients are zero, so no transform needs a bounds check.

import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import { winogradMatrices } from "../../algorithms/winograd.js";
import type { Expr, Fn, Int, Var, View } from "./builder.js";
import { flatView, type GradKernelContext } from "./grad-context.js";
import { blockDot, rowGemm } from "./grad-gemm.js";
import { f32load, f32store, vload, vsplat, vstore } from "./grad-simd.js";
import { lanes, vec } from "./simd.js";

const F = winogradMatrices(2, 3);
/** Points of a 4x4 tile: the transform domain's size. */
const XI = F.alpha * F.alpha;

/** A convolution's Winograd geometry: sizes of the padded blocks and the tile grid. */
export interface WinogradShape {
  readonly C: number;
  readonly O: number;
  readonly H: number;
  readonly W: number;
  readonly Ho: number;
  readonly Wo: number;
  /** Padding before each axis. */
  readonly top: number;
  readonly left: number;
  /** Tile rows, and tile columns rounded up to whole vectors of four. */
  readonly TY: number;
  readonly TX: number;
  /** Tiles per sample (TY x TX). */
  readonly T: number;
  /**
   * Floats from one transform point's plane to the next in V and dV ([ξ][C][T]) and in M and
   * dM ([ξ][O][T]): C x T (O x T) and a cache line more, so that the 16 planes a tile's
   * transform reads or writes at once do not all fall in one L1 set (at 16 channels and 256
   * tiles the planes are exactly 16 KiB apart, and an 8-way L1 then holds 8 of the 16).
   */
  readonly VS: number;
  readonly MS: number;
  /** The zero-padded input block: PH rows of PW floats per channel. */
  readonly PH: number;
  readonly PW: number;
  /** The output block: 2TY rows of 2TX floats per filter. */
  readonly QH: number;
  readonly QW: number;
}

/** Why this training step's convolution cannot run as Winograd F(2x2, 3x3), or undefined. */
export function winogradTrainApplies(op: ConvOp, inShape: readonly number[]): string | undefined {
  if (op.kernel.length !== 2 || op.kernel[0] !== 3 || op.kernel[1] !== 3) return "not a 2-D 3x3 kernel";
  if (op.stride.some((s) => s !== 1)) return "strided";
  if (op.dilation.some((d) => d !== 1)) return "dilated";
  if (op.groups !== 1) return "grouped";
  if (op.bias !== "none" && op.bias !== "channel") return `a ${op.bias} bias`;
  if (inShape.length !== 3) return "not 2-D";
  return undefined;
}

export function winogradShape(op: ConvOp, inShape: readonly number[]): WinogradShape {
  const [C, H, W] = inShape;
  const geo = windowGeometry([H, W], op.kernel, op.stride, op.dilation, op.pad, false);
  const [Ho, Wo] = geo.out as number[];
  const [top, left] = geo.padBefore as number[];
  const TY = Math.ceil(Ho / 2);
  const TX = 4 * Math.ceil(Wo / 8);
  // A tile reads rows 2ty..2ty+3 and columns 2tx..2tx+3 of the block; the last vector of
  // four tiles reads columns up to 2TX + 1.
  return { C, O: op.filters, H, W, Ho, Wo, top, left, TY, TX, T: TY * TX, VS: C * TY * TX + 16, MS: op.filters * TY * TX + 16, PH: 2 * TY + 2, PW: 2 * TX + 4, QH: 2 * TY, QW: 2 * TX };
}

/** The byte address of element `at` of a view, as an expression. */
function byteAddress(fn: Fn, v: View, at: Int): Expr {
  const [offset, ptr] = v.address(at);
  return offset === 0 ? ptr : fn.m.i32.add(ptr, fn.m.i32.const(offset));
}

/** sum over i of c[i] * x[i] for constant c, zeros skipped and ±1 as adds and subtracts. */
function combine(fn: Fn, c: readonly number[], x: readonly Expr[]): Expr {
  const m = fn.m;
  let acc: Expr | undefined;
  let negated = false;
  c.forEach((ci, i) => {
    if (ci === 0) return;
    const term = Math.abs(ci) === 1 ? x[i] : m.f32x4.mul(x[i], m.f32x4.splat(m.f32.const(Math.abs(ci))));
    if (acc === undefined) {
      acc = term;
      negated = ci < 0;
    } else acc = (ci < 0) !== negated ? m.f32x4.sub(acc, term) : m.f32x4.add(acc, term);
  });
  if (acc === undefined) return m.v128.const([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  return negated ? m.f32x4.neg(acc) : acc;
}

/**
 * out[a][b] = sum over i, j of L[a][i] X[i][j] R[b][j] (L, R constant; X a grid of vectors),
 * in two passes, each result in a local.
 */
function sandwich(fn: Fn, L: readonly (readonly number[])[], X: readonly (readonly Var[])[], R: readonly (readonly number[])[]): Var[][] {
  const cols = X[0].length;
  const rows = L.map((l) => Array.from({ length: cols }, (_, j) => vec(fn, combine(fn, l, X.map((row) => row[j].get())))));
  return rows.map((row) => R.map((r) => vec(fn, combine(fn, r, row.map((v) => v.get())))));
}

const transposeOf = (T: readonly (readonly number[])[]): number[][] => T[0].map((_, j) => T.map((row) => row[j]));

/** Even and odd lanes of the eight floats a ++ b. */
function evensOdds(fn: Fn, a: Expr, b: Expr): [Expr, Expr] {
  const m = fn.m;
  const av = vec(fn, a);
  const bv = vec(fn, b);
  return [m.i8x16.shuffle(av.get(), bv.get(), lanes([0, 2, 4, 6])), m.i8x16.shuffle(av.get(), bv.get(), lanes([1, 3, 5, 7]))];
}

/** Fills `floats` elements of a view with zeros (memory.fill). */
function zeroFill(fn: Fn, v: View, floats: number): void {
  fn.emit(fn.m.memory.fill(byteAddress(fn, v, fn.const(0)), fn.m.i32.const(0), fn.m.i32.const(4 * floats)));
}

/**
 * Copies a [planes, rows, cols] tensor into a block of rows of `stride` floats, at (row0, col0)
 * of each plane of `plane` floats: four lanes at a time, the last cols mod 4 one by one (a
 * memory.copy per row costs more than the row itself at these widths).
 */
function copyIn(fn: Fn, src: View, planes: number, rows: number, cols: number, dst: View, plane: number, stride: number, row0: number, col0: number): void {
  const whole = cols - (cols % 4);
  fn.for(0, planes, (p) =>
    fn.for(0, rows, (r) => {
      const to = fn.let(p.mul(plane).add(r.add(row0).mul(stride)).add(col0));
      const from = fn.let(p.mul(rows * cols).add(r.mul(cols)));
      fn.for(0, whole / 4, (q) => fn.emit(vstore(fn, dst, to.add(q.mul(4)), vload(fn, src, from.add(q.mul(4))))));
      for (let c = whole; c < cols; c++) fn.emit(f32store(fn, dst, to.add(c), f32load(fn, src, from.add(c))));
    }),
  );
}

/**
 * dst[p, r, c] = block[p, row0 + r, col0 + c] (+ bias[p]) for a [planes, rows, cols] dst: four
 * lanes where they fit, the last cols mod 4 one at a time.
 */
function copyOut(fn: Fn, block: View, plane: number, stride: number, row0: number, col0: number, planes: number, rows: number, cols: number, dst: View, bias?: View): void {
  const m = fn.m;
  const whole = cols - (cols % 4);
  fn.for(0, planes, (p) => {
    const b = bias ? vec(fn, vsplat(fn, bias, p)) : undefined;
    fn.for(0, rows, (r) => {
      const from = fn.let(p.mul(plane).add(r.add(row0).mul(stride)).add(col0));
      const to = fn.let(p.mul(rows * cols).add(r.mul(cols)));
      fn.for(0, whole / 4, (q) => {
        const v = vload(fn, block, from.add(q.mul(4)));
        fn.emit(vstore(fn, dst, to.add(q.mul(4)), b ? m.f32x4.add(v, b.get()) : v));
      });
      for (let c = whole; c < cols; c++) {
        const v = block.load(from.add(c));
        fn.emit(dst.store(to.add(c), bias ? m.f64.add(v, bias.load(p)) : v));
      }
    });
  });
}

/** Scratch views of the sizes the transforms use. */
function scratch(k: GradKernelContext, floats: number): View {
  return flatView(k.fn, k.scratch(floats), floats);
}

/**
 * V[ξ, c, t] for every channel and tile of x: copied into a zero-padded block, then four tiles
 * per vector: 4 rows of 8 + 2 columns, split into the tiles' four columns, B^T d B.
 */
function inputTransform(k: GradKernelContext, s: WinogradShape, x: View, V: View): void {
  const { fn } = k;
  const P = scratch(k, s.C * s.PH * s.PW);
  zeroFill(fn, P, s.C * s.PH * s.PW);
  copyIn(fn, x, s.C, s.H, s.W, P, s.PH * s.PW, s.PW, s.top, s.left);
  const BT = F.BT;
  fn.for(0, s.C, (c) =>
    fn.for(0, s.TY, (ty) =>
      fn.for(0, s.TX / 4, (q) => {
        const row = fn.let(c.mul(s.PH * s.PW).add(ty.mul(2 * s.PW)).add(q.mul(8)));
        const d = Array.from({ length: 4 }, (_, i) => {
          const at = fn.let(row.add(i * s.PW));
          const [c0, c1] = evensOdds(fn, vload(fn, P, at), vload(fn, P, at.add(4)));
          const [c2, c3] = evensOdds(fn, vload(fn, P, at.add(2)), vload(fn, P, at.add(6)));
          return [c0, c1, c2, c3].map((e) => vec(fn, e));
        });
        const v = sandwich(fn, BT, d, BT);
        const t = fn.let(ty.mul(s.TX).add(q.mul(4)));
        for (let xi = 0; xi < XI; xi++) fn.emit(vstore(fn, V, c.mul(s.T).add(xi * s.VS).add(t), v[Math.floor(xi / 4)][xi % 4].get()));
      }),
    ),
  );
}

/** The forward's V, shared with the kernel gradient of the same sample (made by whichever runs first). */
function transformedInput(k: GradKernelContext, op: ConvOp, s: WinogradShape, x: View): View {
  const key = JSON.stringify(["winograd V", x.place, s, op.pad]);
  const { at, fresh } = k.shared(key, XI * s.VS);
  const V = flatView(k.fn, at, XI * s.VS);
  if (fresh) inputTransform(k, s, x, V);
  return V;
}

/** dM[ξ, o, t] = A dY A^T per tile of dy (zero past the outputs), shared by both gradients. */
function transformedGradient(k: GradKernelContext, s: WinogradShape, dy: View): View {
  const { fn } = k;
  const key = JSON.stringify(["winograd dM", dy.place, s]);
  const { at, fresh } = k.shared(key, XI * s.MS);
  const dM = flatView(fn, at, XI * s.MS);
  if (!fresh) return dM;
  const block = s.QH * s.QW;
  const D = scratch(k, s.O * block);
  zeroFill(fn, D, s.O * block);
  copyIn(fn, dy, s.O, s.Ho, s.Wo, D, block, s.QW, 0, 0);
  const A = transposeOf(F.AT);
  fn.for(0, s.O, (o) =>
    fn.for(0, s.TY, (ty) =>
      fn.for(0, s.TX / 4, (q) => {
        const row = fn.let(o.mul(block).add(ty.mul(2 * s.QW)).add(q.mul(8)));
        const g = [0, 1].map((i) => evensOdds(fn, vload(fn, D, row.add(i * s.QW)), vload(fn, D, row.add(i * s.QW + 4))).map((e) => vec(fn, e)));
        const dm = sandwich(fn, A, g, A);
        const t = fn.let(ty.mul(s.TX).add(q.mul(4)));
        for (let xi = 0; xi < XI; xi++) fn.emit(vstore(fn, dM, o.mul(s.T).add(xi * s.MS).add(t), dm[Math.floor(xi / 4)][xi % 4].get()));
      }),
    ),
  );
  return dM;
}

/** Where a Winograd layer keeps its transformed kernel U[ξ, o, c] and the batch's dU[ξ, o, c]. */
export interface WinogradBuffers {
  readonly u: number;
  readonly du: number;
}

export const winogradFloats = (op: ConvOp, C: number): number => XI * op.filters * C;

/** y = bias + the convolution of x, by V, one GEMM per ξ into M, and A^T M A per tile. */
export function emitWinogradForward(k: GradKernelContext, op: ConvOp, inShape: readonly number[], b: WinogradBuffers, x: View, bias: View | undefined, y: View): void {
  const { fn } = k;
  const s = winogradShape(op, inShape);
  const { C, O, T } = s;
  const U = flatView(fn, b.u, XI * O * C);
  const V = transformedInput(k, op, s, x);
  const M = scratch(k, XI * s.MS);
  fn.for(0, XI, (xi) => {
    const uAt = fn.let(xi.mul(O * C));
    const vAt = fn.let(xi.mul(s.VS));
    const mAt = fn.let(xi.mul(s.MS));
    rowGemm(fn, { I: O, U: C, n: T, A: U, aAt: (o, c) => uAt.add(o.mul(C)).add(c), B: V, bRow: (c) => vAt.add(c.mul(T)), out: M, outRow: (o) => mAt.add(o.mul(T)) });
  });
  const block = s.QH * s.QW;
  const Q = scratch(k, O * block);
  fn.for(0, O, (o) =>
    fn.for(0, s.TY, (ty) =>
      fn.for(0, s.TX / 4, (q) => {
        const t = fn.let(ty.mul(s.TX).add(q.mul(4)));
        const mv = Array.from({ length: 4 }, (_, a) => Array.from({ length: 4 }, (_, c) => vec(fn, vload(fn, M, o.mul(T).add((a * 4 + c) * s.MS).add(t)))));
        const out = sandwich(fn, F.AT, mv, F.AT);
        const row = fn.let(o.mul(block).add(ty.mul(2 * s.QW)).add(q.mul(8)));
        for (let i = 0; i < 2; i++) {
          fn.emit(vstore(fn, Q, row.add(i * s.QW), fn.m.i8x16.shuffle(out[i][0].get(), out[i][1].get(), lanes([0, 4, 1, 5]))));
          fn.emit(vstore(fn, Q, row.add(i * s.QW + 4), fn.m.i8x16.shuffle(out[i][0].get(), out[i][1].get(), lanes([2, 6, 3, 7]))));
        }
      }),
    ),
  );
  copyOut(fn, Q, block, s.QW, 0, 0, O, s.Ho, s.Wo, y, op.bias === "channel" ? bias : undefined);
}

/** Eq. 9.13: dx from dy, dV = U^T dM per ξ, then each tile's B dV B^T added into a zero-padded block. */
export function emitWinogradGradInput(k: GradKernelContext, op: ConvOp, inShape: readonly number[], b: WinogradBuffers, dy: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  const s = winogradShape(op, inShape);
  const { C, O, T } = s;
  const U = flatView(fn, b.u, XI * O * C);
  const dM = transformedGradient(k, s, dy);
  const dV = scratch(k, XI * s.VS);
  fn.for(0, XI, (xi) => {
    const uAt = fn.let(xi.mul(O * C));
    const mAt = fn.let(xi.mul(s.MS));
    const vAt = fn.let(xi.mul(s.VS));
    rowGemm(fn, { I: C, U: O, n: T, A: U, aAt: (c, o) => uAt.add(o.mul(C)).add(c), B: dM, bRow: (o) => mAt.add(o.mul(T)), out: dV, outRow: (c) => vAt.add(c.mul(T)) });
  });
  const plane = s.PH * s.PW;
  const P = scratch(k, C * plane);
  zeroFill(fn, P, C * plane);
  const B = transposeOf(F.BT);
  const addAt = (at: Int, v: Expr) => fn.emit(vstore(fn, P, at, m.f32x4.add(vload(fn, P, at), v)));
  const zeros = () => m.v128.const([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  fn.for(0, C, (c) =>
    fn.for(0, s.TY, (ty) => {
      // Four tiles' rows cover columns 8q .. 8q + 9 of the block: columns 2tx + 0, 1 and
      // 2tx + 2, 3 of each tile, the last two overlapping the next four tiles' first. The
      // overlap is added in registers (two lanes carried to the next q), so each row is
      // read and written once per q: storing a vector and loading it again two floats on
      // stalls store-to-load forwarding.
      const carry = Array.from({ length: 4 }, () => vec(fn, zeros()));
      const row0 = fn.let(c.mul(plane).add(ty.mul(2 * s.PW)));
      fn.for(0, s.TX / 4, (q) => {
        const t = fn.let(ty.mul(s.TX).add(q.mul(4)));
        const dv = Array.from({ length: 4 }, (_, a) => Array.from({ length: 4 }, (_, j) => vec(fn, vload(fn, dV, c.mul(T).add((a * 4 + j) * s.VS).add(t)))));
        const dd = sandwich(fn, B, dv, B);
        const row = fn.let(row0.add(q.mul(8)));
        for (let i = 0; i < 4; i++) {
          const at = fn.let(row.add(i * s.PW));
          const hi0 = vec(fn, m.i8x16.shuffle(dd[i][2].get(), dd[i][3].get(), lanes([0, 4, 1, 5])));
          const hi1 = vec(fn, m.i8x16.shuffle(dd[i][2].get(), dd[i][3].get(), lanes([2, 6, 3, 7])));
          const lo0 = m.i8x16.shuffle(dd[i][0].get(), dd[i][1].get(), lanes([0, 4, 1, 5]));
          const lo1 = m.i8x16.shuffle(dd[i][0].get(), dd[i][1].get(), lanes([2, 6, 3, 7]));
          addAt(at, m.f32x4.add(m.f32x4.add(lo0, carry[i].get()), m.i8x16.shuffle(zeros(), hi0.get(), lanes([0, 1, 4, 5]))));
          addAt(at.add(4), m.f32x4.add(lo1, m.i8x16.shuffle(hi0.get(), hi1.get(), lanes([2, 3, 4, 5]))));
          fn.emit(carry[i].set(m.i8x16.shuffle(hi1.get(), zeros(), lanes([2, 3, 4, 5]))));
        }
      });
      // The last four tiles' overhang: columns 2TX and 2TX + 1.
      for (let i = 0; i < 4; i++) addAt(row0.add(i * s.PW + 2 * s.TX), carry[i].get());
    }),
  );
  copyOut(fn, P, plane, s.PW, s.top, s.left, C, s.H, s.W, dx);
}

/** Eq. 9.11 in the transform domain: dU[ξ, o, c] += dM_ξ[o, :] . V_ξ[c, :] (the batch's sum; `flush` takes it back). */
export function emitWinogradGradKernel(k: GradKernelContext, op: ConvOp, inShape: readonly number[], b: WinogradBuffers, x: View, dy: View): void {
  const { fn } = k;
  const m = fn.m;
  const s = winogradShape(op, inShape);
  const { C, O, T } = s;
  const V = transformedInput(k, op, s, x);
  const dM = transformedGradient(k, s, dy);
  const dU = flatView(fn, b.du, XI * O * C);
  fn.for(0, XI, (xi) => {
    const mAt = fn.let(xi.mul(s.MS));
    const vAt = fn.let(xi.mul(s.VS));
    const uAt = fn.let(xi.mul(O * C));
    blockDot(fn, {
      I: O,
      K: C,
      n: T,
      P: dM,
      pRow: (o) => mAt.add(o.mul(T)),
      Q: V,
      qRow: (c) => vAt.add(c.mul(T)),
      write: (o, c, v) => {
        const at = fn.let(uAt.add(o.mul(C)).add(c));
        return dU.store(at, m.f64.add(dU.load(at), v));
      },
    });
  });
}

/** The kernel's r x r index of (i, j): flipped on both axes for a true convolution. */
const tap = (op: ConvOp, i: number, j: number): number => (op.flip ? (2 - i) * 3 + (2 - j) : i * 3 + j);

/** U[ξ, o, c] = (G g G^T)[ξ] for every filter and channel (once per step: the weights are fixed until the update). */
export function emitWinogradKernelTransform(k: GradKernelContext, op: ConvOp, C: number, w: View, b: WinogradBuffers): void {
  const { fn } = k;
  const m = fn.m;
  const O = op.filters;
  const U = flatView(fn, b.u, XI * O * C);
  const G = F.G;
  fn.for(0, O * C, (oc) => {
    const g = Array.from({ length: 9 }, (_, n) => fn.f64(w.load(oc.mul(9).add(n))));
    for (let a = 0; a < 4; a++)
      for (let bb = 0; bb < 4; bb++) {
        let e: Expr | undefined;
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++) {
            const c = G[a][i] * G[bb][j];
            if (c === 0) continue;
            const term = m.f64.mul(m.f64.const(c), g[tap(op, i, j)].get());
            e = e === undefined ? term : m.f64.add(e, term);
          }
        fn.emit(U.store(oc.add((a * 4 + bb) * O * C), e ?? m.f64.const(0)));
      }
  });
}

/** grads[w] += G^T dU G per filter and channel (the batch's kernel gradient), and dU back to 0. */
export function emitWinogradKernelGradient(k: GradKernelContext, op: ConvOp, C: number, b: WinogradBuffers, sum: View): void {
  const { fn } = k;
  const m = fn.m;
  const O = op.filters;
  const dU = flatView(fn, b.du, XI * O * C);
  const G = F.G;
  fn.for(0, O * C, (oc) => {
    const du = Array.from({ length: XI }, (_, xi) => fn.f64(dU.load(oc.add(xi * O * C))));
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let e: Expr = m.f64.const(0);
        for (let a = 0; a < 4; a++)
          for (let bb = 0; bb < 4; bb++) {
            const c = G[a][i] * G[bb][j];
            if (c !== 0) e = m.f64.add(e, m.f64.mul(m.f64.const(c), du[a * 4 + bb].get()));
          }
        const at = fn.let(oc.mul(9).add(tap(op, i, j)));
        fn.emit(sum.store(at, m.f64.add(sum.load(at), e)));
      }
    for (let xi = 0; xi < XI; xi++) fn.emit(dU.store(oc.add(xi * O * C), m.f64.const(0)));
  });
}
