// Which convolution algorithms a layer allows, and why not when it does not. Every algorithm
// computes what direct convolution computes; they differ in which layers they can do at all
// (Winograd only 3x3 at stride 1, 1-D Winograd only 1-D without groups, FFT only stride 1, separable only rank-1 kernel slices) and
// in the memory they need. The answer is a sentence for the user (`--algorithm` on a layer
// it does not apply to is an error that says this) or undefined when it applies.

import type { AlgorithmName, Graph, Node } from "../ir/graph.js";
import { type ConvOp, effectiveKernel, windowGeometry } from "../ir/ops.js";
import * as D from "../ir/dim.js";
import { chooseFftTiling, fftApplies } from "./fft.js";
import { separableFactors } from "./separable.js";
import { winogradApplies } from "./winograd.js";
import { winograd1dApplies, winograd1dPlan } from "./winograd1d.js";
import { directSimdPoolReason } from "../backends/wasm/direct-simd.js";

/** Spatial sizes a symbolic layer is costed and tiled for (the sizes are not known until run time). */
export const NOMINAL_SIZE = 64;

/** Compile-time tables (transformed weights, spectra) above this are not worth the bundle size. */
export const MAX_TABLE_BYTES = 64 * 2 ** 20;

export interface ConvShape {
  readonly op: ConvOp;
  /** Input channels. */
  readonly c: number;
  /** Input spatial sizes (NOMINAL_SIZE where symbolic). */
  readonly m: readonly number[];
  /** Output spatial sizes (nominal where symbolic). */
  readonly out: readonly number[];
  readonly symbolic: boolean;
}

/** The layer's sizes, with symbolic ones evaluated at NOMINAL_SIZE. */
export function convShape(node: Node, g: Graph): ConvShape {
  if (node.op.kind !== "conv") throw new Error(`internal error: ${node.layer} is not a convolution`);
  const op = node.op;
  const inShape = g.values[node.inputs[0]].shape;
  const symbolic = !D.allStatic(inShape);
  const env: Record<string, number> = Object.fromEntries(g.symbols.map((s) => [s, NOMINAL_SIZE]));
  const concrete = D.evalDims(inShape, env);
  const geo = windowGeometry(concrete.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  return { op, c: concrete[0], m: concrete.slice(1), out: D.evalDims(geo.out, env), symbolic };
}

/** Why `name` cannot compute this convolution layer, or undefined when it can. */
export function applicable(name: AlgorithmName, node: Node, g: Graph): string | undefined {
  if (node.op.kind !== "conv") return `layer ${node.layer} is not a convolution`;
  if (name === "direct") return undefined;
  const op = node.op;
  const poolAt = node.epilogue?.findIndex((e) => e.kind === "pool") ?? -1;
  if (poolAt >= 0 && node.epilogue) {
    const pool = node.epilogue[poolAt];
    const why = pool.kind === "pool" ? directSimdPoolReason(op, pool.op, node.epilogue.slice(0, poolAt), node.epilogue.slice(poolAt + 1)) : "internal error";
    if (name !== "direct_simd" || why) {
      const who = why ? `only direct convolution pools its values without storing them (direct_simd cannot here: ${why})` : "only direct convolution and direct_simd pool their values without storing them";
      return `a pooling layer is fused into it, and ${who} (compile with --no-fuse to keep the pool separate)`;
    }
  }
  const s = convShape(node, g);
  const Cg = s.c / op.groups;
  const Og = op.filters / op.groups;
  switch (name) {
    case "gemm":
      return undefined;
    case "direct_simd": {
      // Its kernel unrolls each kernel row's taps into code: a 1001-wide row would emit a
      // function binaryen takes minutes and gigabytes to optimise. Loops (direct, GEMM) serve.
      const last = op.kernel[op.kernel.length - 1];
      if (last > MAX_UNROLLED_TAPS) return `its kernel is ${last} wide on the last axis, and direct_simd unrolls a row's taps into code (at most ${MAX_UNROLLED_TAPS})`;
      return undefined;
    }
    case "winograd2":
    case "winograd4": {
      const why = winogradApplies(op);
      if (why) return why;
      const alpha = name === "winograd2" ? 4 : 6;
      if (op.filters * Cg * alpha * alpha * 4 > MAX_TABLE_BYTES) return `its transformed weights would take more than ${MAX_TABLE_BYTES >> 20} MiB`;
      return undefined;
    }
    case "winograd1d": {
      const why = winograd1dApplies(op);
      if (why) return why;
      const p = winograd1dPlan(op);
      if (op.filters * s.c * p.perChannel * p.w.alpha * 4 > MAX_TABLE_BYTES) return `its transformed weights would take more than ${MAX_TABLE_BYTES >> 20} MiB`;
      return undefined;
    }
    case "fft": {
      const why = fftApplies(op);
      if (why) return why;
      const kEff = op.kernel.map((k, i) => effectiveKernel(k, op.dilation[i]));
      const tiling = chooseFftTiling(kEff, Cg, Og, s.out) as ReturnType<typeof chooseFftTiling> | undefined;
      // No tile size fits a kernel this large (chooseFftTiling then has no answer).
      if (!tiling) return `its kernel (${kEff.join("x")}) is larger than the largest FFT tile`;
      const points = tiling.n.reduce((a, b) => a * b, 1);
      if (op.filters * Cg * points * 8 > MAX_TABLE_BYTES) return `its kernel spectra (${tiling.n.join("x")} per slice) would take more than ${MAX_TABLE_BYTES >> 20} MiB`;
      return undefined;
    }
    case "separable": {
      const w = node.weights.weight;
      if (!w) return `layer ${node.layer} has no weight`;
      const r = separableFactors(op, w.data, s.c);
      return "reason" in r ? r.reason : undefined;
    }
  }
}

/** The widest kernel row direct_simd writes out tap by tap. */
const MAX_UNROLLED_TAPS = 64;

export const ALGORITHMS: readonly AlgorithmName[] = ["direct", "gemm", "winograd2", "winograd4", "winograd1d", "fft", "separable", "direct_simd"];
