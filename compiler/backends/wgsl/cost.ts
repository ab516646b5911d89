// The WebGPU cost model, and which algorithms the WebGPU kernels can run for a layer.
//
// Each algorithm's time is the sum over its dispatches of a fixed launch cost and its work,
// counted from the kernels' own loops (this folder's kernel files): multiply-adds at the
// rate the kernel's data reuse allows, and values moved through memory by the transform
// stages. The rates are ASSUMED for a mid-range discrete GPU, not fitted: no GPU was
// available where this model was written (CI runs Mesa's software rasterizer, whose
// relative costs are a CPU's). What they encode: the direct kernel reads two values per
// multiply-add (cache-served, so ~4x under the FMA peak); the implicit GEMM reuses each
// staged value across a 4x4 register block (close to peak); the transformed-domain batched
// GEMM reuses each U value across four tiles; transforms and intermediates are
// bandwidth-bound; the FFT's tile transforms are radix-2 butterflies (log2 P stages) where the
// tiles are powers of two, else point-by-point sums (P terms per point), each term a twiddle
// polynomial and a complex multiply-add. Refit on hardware by timing layers per
// algorithm (`--autotune --target webgpu` does so on an adapter) and solving for these constants.
//
// Limits: the algorithms' kernels are not split into sub-range dispatches (direct's are),
// so a layer whose input, output, weights or scratch exceed a storage binding at the
// WebGPU default (128 MiB) is not given them, and the reason says so.

import type { ConvShape } from "../../algorithms/applicability.js";
import type { AlgorithmName } from "../../ir/graph.js";
import { effectiveKernel } from "../../ir/ops.js";
import { butterflies, fftTileWebGpu, fftWebGpuApplies } from "./fft.js";
import { DEFAULT_LIMITS } from "./module.js";

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Assumed costs, in ns: per dispatch, per multiply-add by kind of kernel, per f32 moved. */
export const WEBGPU_COSTS = {
  dispatch: 5000,
  /** Direct convolution: two loads per multiply-add. */
  directFma: 0.004,
  /** Implicit GEMM: a 4x4 register block per invocation. */
  gemmFma: 0.0012,
  /** The batched GEMM of the transformed domain (four tiles per loaded U value; complex counts 4). */
  productFma: 0.0025,
  /** Separable 1-D passes: one load of each operand per multiply-add, like direct. */
  passFma: 0.004,
  /** One term of the FFT kernel's point-by-point DFT sums (twiddle polynomial and complex multiply-add). */
  dftTerm: 0.01,
  /** An f32 read or written by a bandwidth-bound stage. */
  moved: 0.02,
} as const;

/** Tiles per axis and in all, for `m` outputs per tile. */
const tilesOf = (out: readonly number[], m: readonly number[]) => prod(out.map((j, a) => Math.ceil(j / m[a])));

/** Elements of each buffer the algorithm binds (inputs, weights, output, scratch), at the shape's (nominal) sizes. */
export function webgpuBuffers(name: AlgorithmName, s: ConvShape): number[] {
  const { op, c: C, out } = s;
  const O = op.filters;
  const Cg = C / op.groups;
  const base = [C * prod(s.m), O * Cg * prod(op.kernel), O * prod(out)];
  switch (name) {
    case "direct":
    case "direct_simd":
    case "winograd1d":
    case "gemm":
      return base;
    case "winograd2":
    case "winograd4": {
      const m = name === "winograd2" ? 2 : 4;
      const P = (m + 2) ** 2;
      const T = tilesOf(out, [m, m]);
      return [...base, P * O * Cg, P * C * T, P * O * T];
    }
    case "fft": {
      const N = fftTileWebGpu(op, out);
      const m = N.map((n, a) => n - effectiveKernel(op.kernel[a], op.dilation[a]) + 1);
      const P = prod(N);
      const T = tilesOf(out, m);
      return [...base, 2 * P * O * Cg, 2 * P * C * T, 2 * P * O * T];
    }
    case "separable": {
      const pairs = O * Cg;
      const d = op.kernel.length;
      const temps: number[] = [];
      for (let a = d - 1; a >= 1; a--) temps.push(pairs * prod([...s.m.slice(0, a), ...out.slice(a)]));
      return [...base, pairs * op.kernel.reduce((x, y) => x + y, 0), ...temps];
    }
  }
}

/** Why the WebGPU kernels of `name` cannot take this layer (beyond algorithms/applicability.ts), or undefined. */
export function webgpuApplicable(name: AlgorithmName, s: ConvShape): string | undefined {
  if (name === "direct") return undefined;
  if (name === "fft") {
    const why = fftWebGpuApplies(s.op, s.out);
    if (why) return why;
  }
  if (name === "separable" && (s.op.kernel.length < 2 || s.op.kernel.length > 3)) return `the WebGPU separable kernel takes 2-D and 3-D layers; this one is ${s.op.kernel.length}-D`;
  const limit = DEFAULT_LIMITS.maxStorageBufferBindingSize;
  const biggest = Math.max(...webgpuBuffers(name, s));
  if (4 * biggest > limit && !s.symbolic) {
    return `on WebGPU its kernels would bind a ${Math.ceil((4 * biggest) / 2 ** 20)} MiB buffer, over maxStorageBufferBindingSize (${limit / 2 ** 20} MiB), and only direct convolution splits a layer into several dispatches`;
  }
  return undefined;
}

/** Estimated milliseconds of `name` on this layer on WebGPU (see the header: assumed rates). */
export function estimateWebGpuMs(name: AlgorithmName, s: ConvShape): number {
  const k = WEBGPU_COSTS;
  const { op, c: C, out } = s;
  const O = op.filters;
  const Cg = C / op.groups;
  const kVol = prod(op.kernel);
  const P0 = prod(out);
  let ns: number;
  switch (name) {
    case "direct":
    case "direct_simd":
    case "winograd1d":
      ns = k.dispatch + O * P0 * Cg * kVol * k.directFma;
      break;
    case "gemm": {
      const Og = O / op.groups;
      const padded = Math.ceil(Og / 32) * 32 * op.groups * Math.ceil(P0 / 32) * 32;
      // Multiply-adds over the padded 32x32 blocks, and each staged im2col and weight value.
      ns = k.dispatch + padded * Cg * kVol * k.gemmFma + (padded / 16) * Cg * kVol * k.moved;
      break;
    }
    case "winograd2":
    case "winograd4": {
      const m = name === "winograd2" ? 2 : 4;
      const P = (m + 2) ** 2;
      const T = tilesOf(out, [m, m]);
      const transforms = P * O * Cg + 9 * O * Cg + C * T * ((m + 2) ** 2 + P) + O * T * P + O * P0;
      ns = 4 * k.dispatch + P * O * Cg * T * k.productFma + transforms * k.moved;
      break;
    }
    case "fft": {
      const N = fftTileWebGpu(op, out);
      const m = N.map((n, a) => n - effectiveKernel(op.kernel[a], op.dilation[a]) + 1);
      const P = prod(N);
      const T = tilesOf(out, m);
      // Radix-2 tiles: log2(P) butterfly stages per tile (half a term per point per stage);
      // other tiles: every point a P-term sum.
      const perPoint = butterflies(N) ? Math.log2(P) / 2 : P;
      const terms = P * O * Cg * kVol + (C + O) * T * P * perPoint + (butterflies(N) ? 0 : O * P0 * P - O * T * P * P);
      ns = 4 * k.dispatch + terms * k.dftTerm + 4 * P * O * Cg * T * k.productFma + 2 * P * (C + O) * T * k.moved;
      break;
    }
    case "separable": {
      const pairs = O * Cg;
      const d = op.kernel.length;
      let fma = pairs * kVol;
      for (let a = d - 1; a >= 1; a--) fma += pairs * prod([...s.m.slice(0, a), ...out.slice(a)]) * op.kernel[a];
      fma += O * P0 * Cg * op.kernel[0];
      ns = (d + 1) * k.dispatch + fma * k.passFma;
      break;
    }
  }
  return ns / 1e6;
}

/** Why the winner wins on WebGPU, in its kernel's terms. */
export function whyWebGpu(name: AlgorithmName, s: ConvShape): string {
  const { op } = s;
  const kVol = prod(op.kernel);
  switch (name) {
    case "direct":
    case "direct_simd":
    case "winograd1d":
      return "direct convolution is one dispatch, with no transforms to pay for";
    case "gemm":
      return "implicit GEMM stages 32x32 blocks in workgroup memory and reuses each value across a 4x4 register block";
    case "winograd2":
      return "Winograd F(2x2,3x3) needs 2.25x fewer multiplies";
    case "winograd4":
      return "Winograd F(4x4,3x3) needs 4x fewer multiplies";
    case "fft": {
      const n = fftTileWebGpu(op, s.out);
      return `FFT on ${n.join("x")} tiles multiplies each spectrum point once per channel pair instead of ${kVol} times per output`;
    }
    case "separable": {
      const sum = op.kernel.reduce((a, b) => a + b, 0);
      return `every kernel slice is an outer product (rank 1), so ${op.kernel.length} 1-D passes do ${sum} multiplies per output instead of ${kVol}`;
    }
  }
}
