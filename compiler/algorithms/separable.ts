// Separable convolution: when a kernel slice K[o, c] (d = 2 or 3 axes) is an outer product
// u_1 ⊗ ... ⊗ u_d, the d-dimensional correlation is d one-dimensional ones, one per axis:
// O(sum k_i) work per output instead of O(prod k_i). A 9x9 Gaussian blur costs 18 multiplies
// per pixel instead of 81.
//
// Rank-1 detection: alternating power iteration (for d = 2 this is the power method for the
// top singular pair, u_1 <- K u_2 / |.|, u_2 <- K^T u_1 / |.|; for d = 3, higher-order power
// iteration), started from the fibres through the largest entry, so that an exactly rank-1
// slice is found at once. A slice counts as rank 1 when the residual
//   ||K - u_1 ⊗ ... ⊗ u_d||_F <= SEPARABLE_TOLERANCE * ||K||_F.
// The residual bounds the output's error: |Δy| <= ||K - u ⊗ v||_F * ||patch||_2. The 1e-6
// tolerance keeps that well inside the f32 output's own rounding for the 1e-5 contract, and
// passes kernels that are rank 1 up to f32 rounding of their entries (a Gaussian stored as f32
// is rank 1 to about 3e-8).

import type { ConvOp } from "../ir/ops.js";

export const SEPARABLE_TOLERANCE = 1e-6;

/** Factors u_1..u_d (each of length kernel[i]) whose outer product is the slice. */
export type Factors = Float64Array[];

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Row-major strides of a shape. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/**
 * The rank-1 factors of a slice `k` (row-major `shape`), or undefined when the best rank-1
 * approximation found leaves a residual above `tolerance` relative to the slice's norm.
 */
export function rankOneFactors(k: ArrayLike<number>, shape: readonly number[], tolerance = SEPARABLE_TOLERANCE): Factors | undefined {
  const d = shape.length;
  const n = shape.reduce((a, b) => a * b, 1);
  const st = stridesOf(shape);
  const total = norm(k);
  if (total === 0) return shape.map((s) => new Float64Array(s));
  // Start from the fibres through the largest entry: exact for a rank-1 slice.
  let peak = 0;
  for (let i = 1; i < n; i++) if (Math.abs(k[i]) > Math.abs(k[peak])) peak = i;
  const at = shape.map((_, i) => Math.floor(peak / st[i]) % shape[i]);
  const u: Float64Array[] = shape.map((s, i) => {
    const f = new Float64Array(s);
    for (let j = 0; j < s; j++) f[j] = k[peak + (j - at[i]) * st[i]];
    const l = norm(f);
    return f.map((x) => x / l);
  });
  // Alternating updates: u_i <- K contracted with every other factor, normalised.
  let scale = 0;
  let before = Infinity;
  for (let iter = 0; iter < 100; iter++) {
    let moved = 0;
    for (let i = 0; i < d; i++) {
      const next = new Float64Array(shape[i]);
      for (let e = 0; e < n; e++) {
        let w = k[e];
        if (w === 0) continue;
        for (let a = 0; a < d; a++) if (a !== i) w *= u[a][Math.floor(e / st[a]) % shape[a]];
        next[Math.floor(e / st[i]) % shape[i]] += w;
      }
      scale = norm(next);
      if (scale === 0) return undefined;
      for (let j = 0; j < shape[i]; j++) {
        const v = next[j] / scale;
        moved = Math.max(moved, Math.abs(v - u[i][j]));
        u[i][j] = v;
      }
    }
    if (moved < 1e-15) break;
    // After an update, ||K - scale u_1 ⊗ .. ⊗ u_d||^2 = ||K||^2 - scale^2 (unit factors, scale
    // the least-squares weight). A slice within tolerance of rank 1 has its second singular
    // value (or tensor analogue) below 1e-6 of its first, so the residual falls by orders of
    // magnitude per sweep; one that falls by less than half is far from rank 1, and iterating
    // on is only time (a random 1001x1001x7 kernel took 29 s to refuse).
    const residual = Math.sqrt(Math.max(0, total * total - scale * scale));
    if (residual > tolerance * total && residual > 0.5 * before) return undefined;
    before = residual;
  }
  // Spread the scale evenly (keeps the 1-D passes' intermediates in range).
  const each = Math.pow(scale, 1 / d);
  const factors = u.map((f) => f.map((x) => x * each));
  let residual = 0;
  for (let e = 0; e < n; e++) {
    let p = 1;
    for (let a = 0; a < d; a++) p *= factors[a][Math.floor(e / st[a]) % shape[a]];
    residual += (k[e] - p) ** 2;
  }
  return Math.sqrt(residual) <= tolerance * total ? factors : undefined;
}

type SeparableResult = { factors: Factors[] } | { reason: string };

/** Per weight array (applicability, the cost model and the kernel all ask): op -> answer. */
const cache = new WeakMap<object, Map<string, SeparableResult>>();

/** Factors of every slice [o][c] of a conv weight [O, C/g, k1..kd], or why not. */
export function separableFactors(op: ConvOp, weight: ArrayLike<number>, inChannels: number): SeparableResult {
  const key = JSON.stringify([op.filters, op.groups, op.kernel, op.flip, inChannels]);
  const hit = typeof weight === "object" ? cache.get(weight)?.get(key) : undefined;
  if (hit) return hit;
  const result = factorAll(op, weight, inChannels);
  if (typeof weight === "object") {
    const m = cache.get(weight) ?? new Map<string, SeparableResult>();
    m.set(key, result);
    cache.set(weight, m);
  }
  return result;
}

function factorAll(op: ConvOp, weight: ArrayLike<number>, inChannels: number): SeparableResult {
  const d = op.kernel.length;
  if (d < 2) return { reason: "a 1-D kernel is already one-dimensional: nothing to separate" };
  const kVol = op.kernel.reduce((a, b) => a * b, 1);
  const slices = op.filters * (inChannels / op.groups);
  const factors: Factors[] = [];
  // At most one axis longer than 1: every slice is its own 1-D factor.
  const long = op.kernel.filter((k) => k > 1).length <= 1 ? Math.max(0, op.kernel.findIndex((k) => k > 1)) : -1;
  for (let s = 0; s < slices; s++) {
    const slice = Array.prototype.slice.call(weight, s * kVol, (s + 1) * kVol) as number[];
    const f = long >= 0 ? op.kernel.map((k, i) => (i === long ? Float64Array.from(slice) : new Float64Array(k).fill(1))) : rankOneFactors(slice, op.kernel);
    if (!f) {
      const Cg = inChannels / op.groups;
      return {
        reason: `kernel slice [${Math.floor(s / Cg)}, ${s % Cg}] is not an outer product of 1-D vectors (rank-1 residual above ${SEPARABLE_TOLERANCE} of its norm)`,
      };
    }
    // True convolution reads the kernel flipped on every axis: flip each factor.
    factors.push(op.flip ? f.map((v) => v.slice().reverse()) : f);
  }
  return { factors };
}

/**
 * One-dimensional correlation along `axis` of a row-major array: out[.., j, ..] =
 * sum_k u[k] in[.., j*s + k*r - padBefore, ..] (zero outside), the axis going from size m to `out`.
 */
export function pass1d(
  x: Float64Array,
  shape: readonly number[],
  axis: number,
  u: ArrayLike<number>,
  stride: number,
  dilation: number,
  padBefore: number,
  out: number,
): { data: Float64Array; shape: number[] } {
  const outShape = shape.map((s, i) => (i === axis ? out : s));
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const m = shape[axis];
  const y = new Float64Array(outer * out * inner);
  for (let a = 0; a < outer; a++) for (let j = 0; j < out; j++) for (let b = 0; b < inner; b++) {
    let s = 0;
    for (let k = 0; k < u.length; k++) {
      const p = j * stride + k * dilation - padBefore;
      if (p >= 0 && p < m) s += u[k] * x[(a * m + p) * inner + b];
    }
    y[(a * out + j) * inner + b] = s;
  }
  return { data: y, shape: outShape };
}

/** The whole convolution by separable passes in float64 (the test oracle): x [C, D..], y [O, J..]. */
export function separableConv(
  x: ArrayLike<number>,
  inShape: readonly number[],
  factors: readonly Factors[],
  op: ConvOp,
  padBefore: readonly number[],
  outShape: readonly number[],
): Float64Array {
  const [C, ...M] = inShape;
  const [O, ...J] = outShape;
  const d = M.length;
  const Cg = C / op.groups;
  const Og = O / op.groups;
  const inPlane = M.reduce((a, b) => a * b, 1);
  const outPlane = J.reduce((a, b) => a * b, 1);
  const y = new Float64Array(O * outPlane);
  for (let o = 0; o < O; o++) for (let cc = 0; cc < Cg; cc++) {
    const c = Math.floor(o / Og) * Cg + cc;
    let cur: { data: Float64Array; shape: number[] } = { data: Float64Array.from(Array.prototype.slice.call(x, c * inPlane, (c + 1) * inPlane) as number[]), shape: [...M] };
    // Last axis first: its pass reads contiguous rows.
    for (let a = d - 1; a >= 0; a--) cur = pass1d(cur.data, cur.shape, a, factors[o * Cg + cc][a], op.stride[a], op.dilation[a], padBefore[a], J[a]);
    for (let i = 0; i < outPlane; i++) y[o * outPlane + i] += cur.data[i];
  }
  return y;
}
