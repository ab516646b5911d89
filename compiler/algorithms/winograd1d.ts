// 1-D Winograd F(4, R) for 1-D convolutions of any stride, by a polyphase split into
// stride-1 ones. A stride-s correlation
//   y[o] = sum_k w[k] x[s*o + k]
// regroups its taps by phase p = k mod s: with k = s*j + p and x_p[i] = x[s*i + p],
//   y[o] = sum_p sum_j w[s*j + p] x_p[o + j],
// a stride-1 correlation per phase with J = ceil(r / s) taps (the short phases padded with
// zero taps). Phases are extra input channels: the GEMM of each Winograd point then mixes
// s*C channels at once, which is where Winograd's saving lives. A long phase (J > 5) is cut
// again into Q chunks of R taps (x_{p,q}[i] = x_p[i + R*q]), each one more channel, because
// the transforms' float error grows fast with the tile (alpha = 4 + R - 1 points): every
// virtual channel v = (c, p, q) reads x[c][s*i + off_v] with off_v = s*R*q + p and has R
// taps. Then F(4, R) (matrices from winograd.ts's Cook-Toom derivation) computes 4 outputs
// from alpha = R + 3 products per virtual channel instead of 4*R: for audio1d's 9 taps at
// stride 2 (two phases of 5 and 4 taps, padded to 5), 8 products per 4 outputs and 2C
// channels, 64 per output and filter where direct convolution has 9C = 144.

import type { ConvOp } from "../ir/ops.js";
import { winogradMatrices, type WinogradMatrices } from "./winograd.js";

/**
 * Outputs per tile: four, so that a 4x4 transpose turns four tiles' outputs into runs. F(6,5)
 * would do 17% fewer multiply-adds, but its f32 error over a 32-channel sum measured 5.2e-6 to
 * 1.5e-5 for the point sets tried (0, ±1, ±2, ±1/2 and ±3/4, ±3/2, ±1/4, ±1/3, ±3 or ±4),
 * against 1.1e-6 for F(4,5) (2026-12-06): past the 2-D F(4x4,3x3)'s.
 */
export const WINOGRAD1D_M = 4;
/** The most taps per phase chunk (F(4,5), alpha 8): larger tiles' f32 error grows past the 2-D F(4x4,3x3)'s. */
export const WINOGRAD1D_MAX_R = 5;

/**
 * Finite interpolation points of F(4, R) per R (infinity is the last point): the sets measured
 * most accurate in f32 (see tests/algorithms/winograd1d.test.ts for the figures).
 */
export const WINOGRAD1D_POINTS: Readonly<Record<number, readonly number[]>> = {
  2: [0, 1, -1, -2],
  3: [0, 1, -1, 0.5, -2],
  4: [0, 1, -1, 0.5, -0.5, -2],
  5: [0, 1, -1, 0.5, -0.5, 2, -2],
};

export interface Winograd1dPlan {
  readonly stride: number;
  /** Kernel taps. */
  readonly r: number;
  /** Phases (the stride) and chunks per phase. */
  readonly phases: number;
  readonly chunks: number;
  /** Taps per virtual channel (phase chunk), zero-padded. */
  readonly R: number;
  /** Virtual channels per input channel, phases * chunks: v = p * chunks + q. */
  readonly perChannel: number;
  /** x offset of each virtual channel (per input channel), in input elements. */
  readonly offsets: readonly number[];
  readonly w: WinogradMatrices;
}

export function winograd1dPlan(op: ConvOp): Winograd1dPlan {
  const r = op.kernel[0];
  const s = op.stride[0];
  const J = Math.ceil(r / s);
  const chunks = Math.ceil(J / WINOGRAD1D_MAX_R);
  const R = Math.ceil(J / chunks);
  const offsets: number[] = [];
  for (let p = 0; p < s; p++) for (let q = 0; q < chunks; q++) offsets.push(s * R * q + p);
  return { stride: s, r, phases: s, chunks, R, perChannel: s * chunks, offsets, w: winogradMatrices(WINOGRAD1D_M, R, WINOGRAD1D_POINTS[R]) };
}

/** Why 1-D Winograd cannot compute this layer, or undefined when it can. */
export function winograd1dApplies(op: ConvOp): string | undefined {
  if (op.kernel.length !== 1) return `1-D Winograd is for 1-D layers; this one is ${op.kernel.length}-D`;
  if (op.dilation[0] !== 1) return `1-D Winograd needs dilation 1; this layer has dilation ${op.dilation[0]}`;
  if (op.groups !== 1) return `1-D Winograd mixes all input channels in its GEMMs; this layer has ${op.groups} groups`;
  if (op.stride[0] > 4) return `1-D Winograd splits a stride into at most 4 phases; this layer has stride ${op.stride[0]}`;
  // A phase of one tap is a pointwise product: no multiplies to save.
  if (op.kernel[0] <= op.stride[0]) return `its kernel (${op.kernel[0]}) is no wider than its stride (${op.stride[0]}), so each phase has one tap and 1-D Winograd saves nothing`;
  if (op.kernel[0] > 2 * WINOGRAD1D_MAX_R * op.stride[0]) return `1-D Winograd takes kernels of at most ${2 * WINOGRAD1D_MAX_R * op.stride[0]} taps at stride ${op.stride[0]}; this one has ${op.kernel[0]}`;
  return undefined;
}

/** Tap `k` of filter o, channel c (flipped for a true convolution), or 0 past the kernel. */
function tap(weight: ArrayLike<number>, op: ConvOp, C: number, o: number, c: number, k: number): number {
  const r = op.kernel[0];
  if (k >= r) return 0;
  return weight[(o * C + c) * r + (op.flip ? r - 1 - k : k)];
}

/** U = G g for filter o and virtual channel (c, v): alpha values. */
export function transformKernel1d(plan: Winograd1dPlan, weight: ArrayLike<number>, op: ConvOp, C: number, o: number, c: number, v: number): Float64Array {
  const { R, w, chunks, stride } = plan;
  const p = Math.floor(v / chunks);
  const q = v % chunks;
  const g = Array.from({ length: R }, (_, jj) => tap(weight, op, C, o, c, stride * (R * q + jj) + p));
  return Float64Array.from(w.G, (row) => row.reduce((acc, gk, k) => acc + gk * g[k], 0));
}

/** T x for a constant matrix T (rows x n) and a vector x, every operation rounded by `round`. */
export function applyMatrix(T: readonly (readonly number[])[], x: ArrayLike<number>, round: (v: number) => number): Float64Array {
  return Float64Array.from(T, (row) => {
    let s = 0;
    row.forEach((t, i) => {
      if (t !== 0) s = round(s + round(t * x[i]));
    });
    return s;
  });
}

/**
 * The whole 1-D convolution by polyphase Winograd in float64 (or with every operation rounded
 * by `round`, e.g. Math.fround for f32): x [C][L] zero-padded by padBefore, output [O][Lo].
 * The oracle for the kernel's arithmetic, and what the tests measure the f32 error on.
 */
export function winograd1dConv(
  x: ArrayLike<number>,
  [C, L]: readonly number[],
  weight: ArrayLike<number>,
  op: ConvOp,
  padBefore: number,
  Lo: number,
  round: (v: number) => number = (v) => v,
): Float64Array {
  const plan = winograd1dPlan(op);
  const { w, offsets, perChannel, stride: s } = plan;
  const { alpha, m } = w;
  const O = op.filters;
  const K = C * perChannel;
  const U: Float64Array[] = [];
  for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) for (let v = 0; v < perChannel; v++) U.push(transformKernel1d(plan, weight, op, C, o, c, v).map(round));
  const y = new Float64Array(O * Lo);
  const d = new Float64Array(alpha);
  for (let t = 0; t < Math.ceil(Lo / m); t++) {
    const V: Float64Array[] = [];
    for (let c = 0; c < C; c++)
      for (let v = 0; v < perChannel; v++) {
        for (let i = 0; i < alpha; i++) {
          const at = s * (t * m + i) + offsets[v] - padBefore;
          d[i] = at >= 0 && at < L ? round(x[c * L + at]) : 0;
        }
        V.push(applyMatrix(w.BT, d, round));
      }
    for (let o = 0; o < O; o++) {
      const M = new Float64Array(alpha);
      for (let k = 0; k < K; k++) {
        const u = U[o * K + k];
        for (let e = 0; e < alpha; e++) M[e] = round(M[e] + round(u[e] * V[k][e]));
      }
      const Y = applyMatrix(w.AT, M, round);
      for (let i = 0; i < m && t * m + i < Lo; i++) y[o * Lo + t * m + i] = Y[i];
    }
  }
  return y;
}
