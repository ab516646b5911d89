// The WebAssembly cost model: each algorithm's time is a linear function of a few counts
// that follow its kernel's loops exactly (the same tilings the kernels use, padding and
// partial tiles included): multiply-adds, values packed or transformed, transform flops,
// outputs stored. The coefficients (ns per unit, WASM_COSTS) were fitted by least squares on
// relative error to times measured on this project's machine (Node 20, V8's optimising
// compiler, one thread, a 2-core x86-64 EPYC with SIMD128, plain build): 42 layers (1-D to
// 3-D, 1 to 256 channels, kernels 1 to 31, groups, strides, dilation, separable kernels) x
// every applicable algorithm, direct_simd included, measured in one quiet run (2026-12-01)
// with `npm run bench -- --algorithms --calibrate --runs 3`, which prints the fit and every
// layer's error; rerun it to refit on another machine. Median (worst) error of the fit:
// direct 12% (32%), GEMM 6% (24%), Winograd F(2x2) 5% (19%), F(4x4) 11% (32%), FFT 12% (62%),
// direct_simd 8% (47%), separable 7% (32%).

import { type ConvShape } from "../../algorithms/applicability.js";
import { fftFlops } from "../../algorithms/fft.js";
import type { AlgorithmName } from "../../ir/graph.js";
import { fftTilingFor } from "./fft.js";
import { gemmTiling } from "./gemm.js";
import { separableStrip } from "./separable.js";
import { winogradTiling } from "./winograd.js";
import { winograd1dTiling } from "./winograd1d.js";
import { winograd1dPlan } from "../../algorithms/winograd1d.js";
import { directSimdBlock } from "./direct-simd.js";
import { POINTWISE_TILE, pointwiseOp } from "./pointwise.js";

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
const up = (n: number, to: number) => Math.ceil(n / to) * to;

/**
 * The counts each algorithm's time is linear in, in WASM_COSTS's order; the first is always 1
 * (fixed cost per layer). `s` has nominal sizes for symbolic axes.
 */
export function costFeatures(name: AlgorithmName, s: ConvShape): number[] {
  const { op, c: C, out } = s;
  const O = op.filters;
  const G = op.groups;
  const Cg = C / G;
  const Og = O / G;
  const kVol = prod(op.kernel);
  const d = op.kernel.length;
  const P = prod(out);
  switch (name) {
    case "direct": {
      const kLast = op.kernel[d - 1];
      // multiply-adds, inner-loop starts (one per channel and kernel row), outputs.
      return [1, O * P * Cg * kVol, O * P * Cg * (kVol / kLast), O * P];
    }
    case "gemm": {
      const K = Cg * kVol;
      const t = gemmTiling(K, out);
      const lead = prod(out.slice(0, -1));
      const tiles = Math.ceil(lead / t.rows) * Math.ceil(out[d - 1] / t.seg);
      // micro-kernel multiply-adds (padded to 4 filters x 8 positions), values packed, outputs.
      return [1, G * up(Og, 4) * K * tiles * t.quadsPadded * 4, G * K * tiles * t.rows * t.seg, O * P];
    }
    case "winograd2":
    case "winograd4": {
      const m = name === "winograd2" ? 2 : 4;
      const A2 = (m + 2) ** 2;
      const [TH, TW] = out.map((j) => Math.ceil(j / m));
      const t = winogradTiling(m, Cg, Og, TW, TH);
      const batches = Math.ceil(TH / t.rows) * Math.ceil(TW / (t.seg * 4));
      const tiles = batches * t.quads * 4;
      // batched-GEMM multiply-adds, input tile transforms, output tile transforms, outputs.
      return [1, G * A2 * up(Og, 4) * Cg * batches * t.quadsPadded * 4, C * tiles * A2, O * tiles * A2, O * P];
    }
    case "winograd1d": {
      const p = winograd1dPlan(op);
      const { alpha } = p.w;
      const K = C * p.perChannel;
      const tiles = Math.ceil(out[0] / 4);
      const t = winograd1dTiling(alpha, K, O, tiles);
      const batches = Math.ceil(tiles / (4 * t.quads));
      const quads = Math.ceil(tiles / 4);
      const nonzeros = (T: readonly (readonly number[])[]) => T.reduce((n, row) => n + row.filter((v) => v !== 0).length, 0);
      // batched-GEMM multiply-adds, transformed input values stored, input and output transforms' terms (their matrices' nonzeros), outputs.
      const lanes = quads * 4;
      return [1, alpha * up(O, 4) * K * batches * t.quadsPadded * 4, K * lanes * alpha, K * lanes * nonzeros(p.w.BT), O * lanes * nonzeros(p.w.AT), O * P];
    }
    case "fft": {
      const tiling = fftTilingFor(op, C, out);
      const batch = d === 1 ? 4 : 1;
      const points = prod(tiling.n) * batch;
      const tiles = prod(out.map((j, i) => Math.ceil(j / (tiling.t[i] * (i === 0 ? batch : 1)))));
      const transforms = tiling.n.reduce((f, n) => f + (fftFlops(n) * points) / n, 0);
      const pairs = Math.ceil(O / 2);
      const products = tiles * pairs * points * 2 * Cg;
      // Spectra past the L2 cache (2 MiB here) stream from memory once per tile.
      const streamed = O * Cg * prod(tiling.n) * 8 > 2 * 2 ** 20 ? products : 0;
      // transform flops, complex multiply-adds, values loaded and stored, multiply-adds on streamed spectra.
      return [1, tiles * (C + pairs) * transforms, products, tiles * (C + O) * points, streamed];
    }
    case "separable": {
      const S = separableStrip(op);
      const strips = Math.ceil(out[0] / S);
      const rows1 = (S - 1) * op.stride[0] + (op.kernel[0] - 1) * op.dilation[0] + 1;
      const Jw4 = up(out[d - 1], 4);
      const mid = d === 3 ? s.m[1] : 1;
      const jmid = d === 3 ? out[1] : 1;
      const last = rows1 * mid * Jw4 * op.kernel[d - 1];
      const middle = d === 3 ? rows1 * jmid * Jw4 * op.kernel[1] : 0;
      const first = S * jmid * Jw4 * op.kernel[0];
      // multiply-adds of the three passes (vectors of four), outputs.
      return [1, O * Cg * strips * (last + middle + first), O * P * Cg];
    }
    case "direct_simd": {
      if (pointwiseOp(op)) {
        // The pointwise micro-kernel (pointwise.ts): its vector multiply-adds (blocks padded to
        // whole tiles), everything else folded in; the general kernel's counts zero.
        const { rb, v } = POINTWISE_TILE;
        return [1, 0, 0, 0, O * P, Math.ceil(O / rb) * rb * Math.ceil(P / (4 * v)) * v * C];
      }
      const { ob, v } = directSimdBlock(Og);
      const span = 4 * v;
      const rows = P / out[d - 1];
      const blocks = G * Math.ceil(Og / ob) * rows * Math.ceil(out[d - 1] / span);
      const sl = op.stride[d - 1];
      // vector multiply-adds (blocks padded to whole vectors), input vectors loaded (stride 2
      // costs its phase-split copy, or with symbolic sizes a second load and a shuffle; larger
      // strides lane loads), row starts (one per channel and kernel row), outputs.
      const taps = blocks * Cg * kVol;
      const perLoad = sl === 1 ? 1 : sl === 2 ? (s.symbolic ? 2 : 1.25) : 4;
      return [1, taps * ob * v, taps * v * perLoad, blocks * Cg * (kVol / op.kernel[d - 1]), O * P, 0];
    }
  }
}

/**
 * ns per unit of each costFeatures entry, fitted on this machine (see the header and
 * `npm run bench -- --algorithms --calibrate`).
 */
export const WASM_COSTS: Readonly<Record<AlgorithmName, readonly number[]>> = {
  direct: [0, 0.698, 0.211, 0],
  // GEMM's and Winograd's multiply-add coefficients scaled by the measured gain of the
  // micro-kernel's broadcast loads (simd.ts microKernel, 2026-12-05: 0.85-0.9x, taken as 0.9x), not refitted.
  gemm: [4160, 0.0482, 0.119, 0.058],
  winograd2: [11000, 0.0448, 0.332, 0.239, 0],
  winograd4: [0, 0.0526, 0.745, 0, 1.35],
  // Not in the 2026-12-01 fit: fitted alone (2026-12-06, `--calibrate --only-1d --runs 5`) on the
  // ten 1-D layers it applies to, without the fixed cost (a fit with one put 13.5 us on it and
  // predicted no better): median error 8%, worst -29% (24x6000 stride 3, where GEMM measured
  // 1.9x its own estimate too). On two small strided layers (8->16 channels stride 2, 4->12
  // stride 4) GEMM's estimate is 16-45% low and it is picked over a faster winograd1d.
  winograd1d: [0, 0.0374, 0, 0.16, 0.0659, 0],
  fft: [0, 0.0317, 0.252, 0.27, 0.35],
  separable: [6630, 0.0876, 0.258],
  // The last: the pointwise micro-kernel's vector multiply-adds, set from its measured 0.85x
  // of the general kernel's time and 0.9x of GEMM's on the 32->64 layer at 112x112 (not refitted).
  direct_simd: [0, 0.227, 0.0979, 0, 0.0274, 0.18],
};

/** Estimated milliseconds of `name` on this layer on WebAssembly. */
export function estimateMs(name: AlgorithmName, s: ConvShape, costs: Readonly<Record<AlgorithmName, readonly number[]>> = WASM_COSTS): number {
  const f = costFeatures(name, s);
  return f.reduce((t, v, i) => t + v * costs[name][i], 0) / 1e6;
}

/** ns per pre-pool value of a separate pool step (a max pool 2x2x2 over 8x32x64x64 took 1.9 ms). */
const POOL_PASS_NS = 1.8;

/** Estimated milliseconds of a pool step of its own over this layer's (pre-pool) output. */
export function poolPassMs(s: ConvShape): number {
  return (POOL_PASS_NS * s.op.filters * s.out.reduce((a, b) => a * b, 1)) / 1e6;
}

/** Why the winner wins, in its own terms. */
export function whyWasm(name: AlgorithmName, s: ConvShape): string {
  const { op } = s;
  const kVol = prod(op.kernel);
  switch (name) {
    case "direct":
      return "direct convolution has no setup to win back";
    case "gemm":
      return `im2col + GEMM reuses each loaded value across ${Math.min(4, op.filters / op.groups)} filters and 8 positions in registers`;
    case "winograd2":
      return "Winograd F(2x2,3x3) needs 2.25x fewer multiplies";
    case "winograd4":
      return "Winograd F(4x4,3x3) needs 4x fewer multiplies";
    case "winograd1d": {
      const p = winograd1dPlan(op);
      const fewer = (op.kernel[0] * 4) / (p.w.alpha * p.perChannel);
      const phases = p.phases > 1 ? `its ${p.phases} stride phases as stride-1 channels, ` : "";
      return `1-D Winograd F(4,${p.R}) on ${phases}${p.chunks > 1 ? `${p.chunks} chunks of ${p.R} taps, ` : ""}needs ${fewer.toFixed(2)}x fewer multiplies`;
    }
    case "fft": {
      const t = fftTilingFor(op, s.c, s.out);
      return `FFT on ${t.n.join("x")} tiles does O(log N) work per output instead of ${kVol} multiplies`;
    }
    case "separable": {
      const sum = op.kernel.reduce((a, b) => a + b, 0);
      if (sum < kVol) return `every kernel slice is an outer product (rank 1), so ${op.kernel.length} 1-D passes do ${sum} multiplies per output instead of ${kVol}`;
      return "its 1-D passes compute four outputs per SIMD instruction";
    }
    case "direct_simd":
      if (pointwiseOp(op)) return `a 1x1 layer is a GEMM on the input as it lies: a ${POINTWISE_TILE.rb}x${4 * POINTWISE_TILE.v} register tile with weights packed in its order, no packing at run time`;
      return `direct convolution on SIMD lanes needs no packing or transforms, and reuses each loaded input across ${Math.min(4, op.filters / op.groups)} filters`;
  }
}
