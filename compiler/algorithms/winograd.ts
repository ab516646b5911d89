// Winograd minimal filtering F(m x m, r x r) (Lavin & Gray 2016), with its three matrices
// DERIVED from interpolation points by Cook-Toom, not typed in:
//
//   y = A^T [ (G g G^T) ⊙ (B^T d B) ] A      (d: an alpha x alpha input tile, alpha = m + r - 1)
//
// Derivation. The correlation y_i = sum_k d_{i+k} g_k is the transpose of the polynomial
// product s(x) = c(x) g(x) (deg c = m - 1, deg g = r - 1). Toom-Cook computes s from its values
// at alpha - 1 finite points p_j and at infinity (its leading coefficient):
//   s(p_j) = c(p_j) g(p_j),   s_inf = c_{m-1} g_{r-1},
//   s(x)   = sum_j s(p_j) N_j(x) / f_j + s_inf M(x),
// with N_j(x) = prod_{l != j} (x - p_l), f_j = N_j(p_j), M(x) = prod_l (x - p_l). Transposing:
//   A^T[i][j] = p_j^i           (the inf column is e_{m-1})
//   G[j][k]   = p_j^k / f_j      (the inf row is e_{r-1})
//   B^T[j][t] = [x^t] N_j(x)     (the inf row is [x^t] M(x))
// The products are alpha^2 per tile instead of m^2 r^2: 16 vs 36 for F(2x2,3x3), 36 vs 144
// for F(4x4,3x3). The points set the transforms' size and so the float error: see
// WINOGRAD_POINTS and tests/algorithms/winograd.test.ts for what was measured.

import type { ConvOp } from "../ir/ops.js";

export interface WinogradMatrices {
  /** Outputs per tile and axis. */
  readonly m: number;
  /** Kernel size. */
  readonly r: number;
  /** Input tile size m + r - 1. */
  readonly alpha: number;
  /** m x alpha. */
  readonly AT: number[][];
  /** alpha x r. */
  readonly G: number[][];
  /** alpha x alpha. */
  readonly BT: number[][];
  readonly points: readonly number[];
}

/**
 * The finite points per output tile size (infinity is always the last point). F(2,3): 0, 1, -1.
 * F(4,3): 0, 1, -1, 1/2, -2 was measured the most accurate of the sets tried in f32 (max
 * relative error over 20 random 64-channel layers, every operation rounded to f32; see
 * tests/algorithms/winograd.test.ts): {0, ±1, ±2}: 6.6e-6, {0, ±1, ±1/2}: 9.8e-6,
 * {0, ±1, 1/2, -2}: 2.7e-6.
 */
export const WINOGRAD_POINTS: Readonly<Record<number, readonly number[]>> = {
  2: [0, 1, -1],
  4: [0, 1, -1, 0.5, -2],
};

/** Coefficients (lowest degree first) of prod (x - roots[i]). */
function polyFromRoots(roots: readonly number[]): number[] {
  let p = [1];
  for (const root of roots) {
    const next = new Array<number>(p.length + 1).fill(0);
    p.forEach((c, i) => {
      next[i + 1] += c;
      next[i] -= root * c;
    });
    p = next;
  }
  return p;
}

export function winogradMatrices(m: number, r: number, points: readonly number[] = WINOGRAD_POINTS[m]): WinogradMatrices {
  const alpha = m + r - 1;
  if (!points || points.length !== alpha - 1) throw new Error(`winograd F(${m},${r}) needs ${alpha - 1} finite points`);
  const n = points.length;
  const AT: number[][] = [];
  for (let i = 0; i < m; i++) AT.push([...points.map((p) => p ** i), i === m - 1 ? 1 : 0]);
  const G: number[][] = [];
  const BT: number[][] = [];
  for (let j = 0; j < n; j++) {
    const others = points.filter((_, l) => l !== j);
    const f = others.reduce((acc, p) => acc * (points[j] - p), 1);
    // The scale 1/f_j goes with the kernel (transformed once, at compile time); a negative
    // f_j flips both rows so that the input transform's leading coefficients stay positive.
    const sign = Math.sign(f);
    G.push(Array.from({ length: r }, (_, k) => (points[j] ** k / f) * sign));
    const N = polyFromRoots(others);
    BT.push(Array.from({ length: alpha }, (_, t) => sign * (N[t] ?? 0)));
  }
  G.push(Array.from({ length: r }, (_, k) => (k === r - 1 ? 1 : 0)));
  const M = polyFromRoots(points);
  BT.push(Array.from({ length: alpha }, (_, t) => M[t] ?? 0));
  // `+ 0` turns the -0 that sign flips leave into 0 (same numbers; tidier to print and compare).
  const tidy = (rows: number[][]) => rows.map((row) => row.map((v) => v + 0));
  return { m, r, alpha, AT: tidy(AT), G: tidy(G), BT: tidy(BT), points };
}

/** U = G g G^T for one r x r kernel slice (row-major), alpha x alpha row-major. */
export function transformKernel(w: WinogradMatrices, g: ArrayLike<number>, offset = 0, flip = false): Float64Array {
  const { alpha, r, G } = w;
  const at = (i: number, j: number) => (flip ? g[offset + (r - 1 - i) * r + (r - 1 - j)] : g[offset + i * r + j]);
  const tmp = new Float64Array(alpha * r);
  for (let a = 0; a < alpha; a++) for (let j = 0; j < r; j++) {
    let s = 0;
    for (let i = 0; i < r; i++) s += G[a][i] * at(i, j);
    tmp[a * r + j] = s;
  }
  const u = new Float64Array(alpha * alpha);
  for (let a = 0; a < alpha; a++) for (let b = 0; b < alpha; b++) {
    let s = 0;
    for (let j = 0; j < r; j++) s += tmp[a * r + j] * G[b][j];
    u[a * alpha + b] = s;
  }
  return u;
}

/** Y = A^T X A or V = B^T X B on a square tile: `T` is rows x n, X is n x n, the result rows x rows. */
export function sandwich(T: readonly (readonly number[])[], X: ArrayLike<number>, round: (v: number) => number = (v) => v): Float64Array {
  const rows = T.length;
  const n = T[0].length;
  const tmp = new Float64Array(rows * n);
  for (let a = 0; a < rows; a++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) if (T[a][i] !== 0) s = round(s + round(T[a][i] * X[i * n + j]));
    tmp[a * n + j] = s;
  }
  const out = new Float64Array(rows * rows);
  for (let a = 0; a < rows; a++) for (let b = 0; b < rows; b++) {
    let s = 0;
    for (let j = 0; j < n; j++) if (T[b][j] !== 0) s = round(s + round(tmp[a * n + j] * T[b][j]));
    out[a * rows + b] = s;
  }
  return out;
}

/** Winograd applies to 2-D 3x3 convolutions at stride 1 and dilation 1 (any padding, groups, channels). */
export function winogradApplies(op: ConvOp): string | undefined {
  if (op.kernel.length !== 2) return `Winograd is implemented for 2-D layers; this one is ${op.kernel.length}-D`;
  if (op.kernel[0] !== 3 || op.kernel[1] !== 3) return `Winograd F(m x m, 3x3) needs a 3x3 kernel; this one is ${op.kernel.join("x")}`;
  if (op.stride.some((s) => s !== 1)) return `Winograd needs stride 1; this layer has stride ${op.stride.join("x")}`;
  if (op.dilation.some((r) => r !== 1)) return `Winograd needs dilation 1; this layer has dilation ${op.dilation.join("x")}`;
  return undefined;
}

/**
 * The whole convolution by Winograd in float64 (or with every operation rounded by `round`,
 * e.g. Math.fround to model f32): x [C][H][W] zero-padded by (padTop, padLeft), output
 * [O][Ho][Wo]. The test oracle for the WASM kernel's arithmetic, tile for tile.
 */
export function winogradConv2d(
  x: ArrayLike<number>,
  [C, H, W]: readonly number[],
  weight: ArrayLike<number>,
  op: ConvOp,
  padBefore: readonly number[],
  [Ho, Wo]: readonly number[],
  m: number,
  round: (v: number) => number = (v) => v,
): Float64Array {
  const w = winogradMatrices(m, 3);
  const { alpha } = w;
  const O = op.filters;
  const Cg = C / op.groups;
  const Og = O / op.groups;
  const U: Float64Array[] = [];
  for (let o = 0; o < O; o++) for (let c = 0; c < Cg; c++) U.push(transformKernel(w, weight, (o * Cg + c) * 9, op.flip).map(round));
  const y = new Float64Array(O * Ho * Wo);
  const d = new Float64Array(alpha * alpha);
  for (let ti = 0; ti < Math.ceil(Ho / m); ti++) for (let tj = 0; tj < Math.ceil(Wo / m); tj++) {
    const V: Float64Array[] = [];
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < alpha; i++) for (let j = 0; j < alpha; j++) {
        const yy = ti * m + i - padBefore[0];
        const xx = tj * m + j - padBefore[1];
        d[i * alpha + j] = yy >= 0 && yy < H && xx >= 0 && xx < W ? round(x[(c * H + yy) * W + xx]) : 0;
      }
      V.push(sandwich(w.BT, d, round));
    }
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      const M = new Float64Array(alpha * alpha);
      for (let c = 0; c < Cg; c++) {
        const u = U[o * Cg + c];
        const v = V[g * Cg + c];
        for (let e = 0; e < alpha * alpha; e++) M[e] = round(M[e] + round(u[e] * v[e]));
      }
      const Y = sandwich(w.AT, M, round);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
        const yy = ti * m + i;
        const xx = tj * m + j;
        if (yy < Ho && xx < Wo) y[(o * Ho + yy) * Wo + xx] = Y[i * m + j];
      }
    }
  }
  return y;
}
