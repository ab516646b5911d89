// Every convolution algorithm's WASM kernel equals the reference (float64 direct convolution)
// on seeded random configurations: sizes, channels, groups, stride, dilation, padding, flip,
// bias kind and epilogue. The kernels compute in f32 (the direct kernel accumulates in f64),
// so each is held to a bound measured for it (max over its configurations, relative to the
// output's largest magnitude or 1), kept tight around what was observed; the 1e-5 contract
// holds for all of them.
import { describe, expect, it } from "vitest";
import type { AlgorithmName } from "../../../compiler/ir/graph.js";
import type { ConvOp, PadSpec } from "../../../compiler/ir/ops.js";
import type { Epilogue, Plan } from "../../../compiler/plan/plan.js";
import * as D from "../../../compiler/ir/dim.js";
import { PlanBuilder, relativeError, Rng, runWasm } from "./plan-helper.js";

/**
 * The bound each algorithm is held to, and (comment) the max relative error measured over its
 * 100 random layers: f32 accumulation (GEMM, separable, FFT) stays near 1e-7 x sqrt(terms);
 * Winograd's transforms amplify rounding, F(4x4) most (its points 0, ±1, 1/2, -2 were chosen
 * for the smallest error, see algorithms/winograd.ts).
 */
const BOUND: Record<Exclude<AlgorithmName, "direct">, number> = {
  gemm: 1e-6, // measured 4.0e-7
  winograd2: 2e-6, // measured 1.2e-6
  winograd4: 5e-6, // measured 3.7e-6
  fft: 1e-6, // measured 5.6e-7
  separable: 5e-7, // measured 2.7e-7
  direct_simd: 5e-7, // measured 2.9e-7
};

const CONFIGS = 100;

interface Config {
  readonly input: number[];
  readonly op: ConvOp;
  readonly epilogue: Epilogue[];
  /** Separable layers get rank-1 slices. */
  readonly rankOne?: boolean;
}

function withAlgorithm(plan: Plan, name: AlgorithmName): Plan {
  return { ...plan, steps: plan.steps.map((s) => ({ ...s, algorithm: { name, reason: "test" } })) };
}

async function check(name: AlgorithmName, c: Config, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const b = new PlanBuilder();
  const x = b.input("x", c.input);
  const y = b.layer(c.op, [x], rng, c.epilogue);
  b.output("y", y);
  if (c.rankOne) {
    // Replace each kernel slice by an outer product of random vectors.
    const w = b.layers[0].weight as { shape: number[]; data: Float32Array };
    const k = c.op.kernel;
    const vol = k.reduce((a, v) => a * v, 1);
    for (let s = 0; s < w.data.length / vol; s++) {
      const us = k.map((n) => rng.f32(n));
      for (let e = 0; e < vol; e++) {
        let rest = e;
        let p = 1;
        for (let i = k.length - 1; i >= 0; i--) {
          p *= us[i][rest % k[i]];
          rest = Math.floor(rest / k[i]);
        }
        w.data[s * vol + e] = Math.fround(p);
      }
    }
  }
  const input = rng.f32(c.input.reduce((a, v) => a * v, 1), 2);
  const plan = withAlgorithm(b.build(), name);
  const [got] = await runWasm(plan, [input]);
  const [want] = b.reference([input]);
  return relativeError(got, want);
}

function randomPad(rng: Rng, d: number, k: readonly number[]): PadSpec {
  const kind = rng.pick(["valid", "same", "full", "explicit"] as const);
  if (kind !== "explicit") return { kind };
  return { kind, before: k.map(() => rng.int(0, 2)), after: Array.from({ length: d }, () => rng.int(0, 2)) };
}

function randomEpilogue(rng: Rng): Epilogue[] {
  const fn = rng.pick(["none", "relu", "leaky_relu", "sigmoid"] as const);
  return fn === "none" ? [] : [{ kind: "activation", fn, alpha: 0.1 }];
}

function groupsFor(rng: Rng, c: number, o: number): number {
  const gs = [1, 2, 3, 4, c].filter((g) => c % g === 0 && o % g === 0);
  return rng.pick(gs);
}

const spatial = (rng: Rng, d: number, lo: number, hi: number) => Array.from({ length: d }, () => rng.int(lo, hi));

/** Any convolution: 1-D to 3-D, any stride, dilation, padding, groups. */
function gemmConfig(rng: Rng): Config {
  const d = rng.pick([1, 2, 2, 2, 3]);
  const kernel = Array.from({ length: d }, () => rng.int(1, d === 3 ? 3 : 5));
  const stride = Array.from({ length: d }, () => rng.pick([1, 1, 2, 3]));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 2]));
  const c = rng.int(1, 6);
  const filters0 = rng.int(1, 9);
  const groups = groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const m = spatial(rng, d, 1, d === 1 ? 40 : d === 2 ? 14 : 6).map((v, i) => v + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride,
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng) };
}

/** 3x3, stride 1, dilation 1, 2-D: channels, groups, padding and sizes vary (small, with boundary tiles). */
function winogradConfig(rng: Rng): Config {
  const c = rng.int(1, 12);
  const filters0 = rng.int(1, 10);
  const groups = groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel: [3, 3],
    stride: [1, 1],
    dilation: [1, 1],
    pad: randomPad(rng, 2, [3, 3]),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, rng.int(3, 20), rng.int(3, 24)], op, epilogue: randomEpilogue(rng) };
}

/** 2-D and 3-D layers whose kernel slices are rank 1: depthwise blurs and general O x C layers. */
function separableConfig(rng: Rng): Config {
  const d = rng.pick([2, 2, 2, 3]);
  const kernel = Array.from({ length: d }, () => rng.int(1, d === 3 ? 4 : 7));
  const stride = Array.from({ length: d }, () => rng.pick([1, 1, 1, 2]));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 2]));
  const c = rng.int(1, 4);
  const depthwise = rng.bool();
  const filters0 = rng.int(1, 4);
  const groups = depthwise ? c : groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const m = spatial(rng, d, 1, d === 2 ? 40 : 8).map((v, i) => v + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride,
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng), rankOne: true };
}

/** Stride 1, 1-D to 3-D, kernels up to 9 (1-D 15), any dilation, padding and groups. */
function fftConfig(rng: Rng): Config {
  const d = rng.pick([1, 2, 2, 2, 3]);
  const kernel = Array.from({ length: d }, () => rng.int(1, d === 1 ? 15 : d === 2 ? 9 : 4));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 2]));
  const c = rng.int(1, 4);
  const filters0 = rng.int(1, 5);
  const groups = groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const m = spatial(rng, d, 1, d === 1 ? 60 : d === 2 ? 24 : 8).map((v, i) => v + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride: kernel.map(() => 1),
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng) };
}

/**
 * Any convolution, with the last axis long enough for interior (unmasked) blocks and both
 * edges: depthwise, pointwise and general layers, 1-D to 3-D, strides 1 to 3, dilation,
 * channel counts that leave partial blocks of 4 filters.
 */
function directSimdConfig(rng: Rng): Config {
  const d = rng.pick([1, 2, 2, 2, 3]);
  const shape = rng.pick(["depthwise", "pointwise", "general", "general"] as const);
  const kernel = Array.from({ length: d }, () => (shape === "pointwise" ? 1 : rng.int(1, d === 3 ? 3 : d === 2 ? 5 : 9)));
  const stride = Array.from({ length: d }, () => rng.pick([1, 1, 2, 2, 3]));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 1, 2]));
  const c = rng.int(1, shape === "pointwise" ? 12 : 6);
  const filters0 = rng.int(1, 10);
  const groups = shape === "depthwise" ? c : groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const lead = d === 3 ? 6 : 12;
  const m = Array.from({ length: d }, (_, i) => rng.int(1, i === d - 1 ? 48 : lead) + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride,
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng) };
}

function run(name: Exclude<AlgorithmName, "direct">, make: (rng: Rng) => Config): void {
  it(`${name} equals direct convolution on ${CONFIGS} random layers (bound ${BOUND[name]})`, async () => {
    let worst = 0;
    for (let i = 0; i < CONFIGS; i++) {
      const seed = 1000 * (Object.keys(BOUND).indexOf(name) + 1) + i;
      const c = make(new Rng(seed));
      const err = await check(name, c, seed);
      if (!(err <= BOUND[name])) throw new Error(`seed ${seed}: ${JSON.stringify(c)}: relative error ${err}`);
      worst = Math.max(worst, err);
    }
    console.log(`${name}: max relative error ${worst.toExponential(2)} over ${CONFIGS} layers`);
    expect(worst).toBeLessThanOrEqual(BOUND[name]);
  });
}

/**
 * The same layer with symbolic spatial sizes: one module, run at three input sizes (the
 * kernels compute tile counts, boundaries and scratch from `run`'s parameters).
 */
async function checkSymbolic(name: AlgorithmName, c: Config, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const d = c.input.length - 1;
  const symbols = ["D", "H", "W"].slice(3 - d);
  const b = new PlanBuilder(symbols);
  const x = b.input("x", [c.input[0], ...symbols.map((s) => D.sym(s))]);
  const op = { ...c.op, bias: c.op.bias === "location" ? ("channel" as const) : c.op.bias };
  b.output("y", b.layer(op, [x], rng, c.epilogue));
  if (c.rankOne) {
    const w = b.layers[0].weight as { shape: number[]; data: Float32Array };
    const vol = op.kernel.reduce((a, v) => a * v, 1);
    for (let s = 0; s < w.data.length / vol; s++) {
      const us = op.kernel.map((n) => rng.f32(n));
      for (let e = 0; e < vol; e++) {
        let rest = e;
        let p = 1;
        for (let i = op.kernel.length - 1; i >= 0; i--) {
          p *= us[i][rest % op.kernel[i]];
          rest = Math.floor(rest / op.kernel[i]);
        }
        w.data[s * vol + e] = Math.fround(p);
      }
    }
  }
  const plan = withAlgorithm(b.build(), name);
  const { emitWasm } = await import("../../../compiler/backends/wasm/module.js");
  const { WasmExecutor } = await import("../../../runtime/wasm.js");
  const { binary, manifest } = emitWasm(plan);
  const exec = await WasmExecutor.create(binary, manifest, plan.weightData);
  let worst = 0;
  for (const grow of [0, 5, 2]) {
    const sizes = c.input.slice(1).map((m, i) => m + (i === d - 1 ? 2 * grow : grow));
    const env = Object.fromEntries(symbols.map((s, i) => [s, sizes[i]]));
    const input = rng.f32(c.input[0] * sizes.reduce((a, v) => a * v, 1), 2);
    const [got] = exec.runSample(env, symbols, [input]);
    const [want] = b.reference([input], env);
    worst = Math.max(worst, relativeError(got, want));
  }
  return worst;
}

function runSymbolic(name: Exclude<AlgorithmName, "direct">, make: (rng: Rng) => Config): void {
  it(`${name} with symbolic sizes: 10 layers, each at 3 input sizes from one module (bound ${BOUND[name]})`, async () => {
    for (let i = 0; i < 10; i++) {
      const seed = 50000 + 100 * (Object.keys(BOUND).indexOf(name) + 1) + i;
      const c = make(new Rng(seed));
      const err = await checkSymbolic(name, c, seed);
      if (!(err <= BOUND[name])) throw new Error(`seed ${seed}: ${JSON.stringify(c)}: relative error ${err}`);
    }
  });
}

describe("convolution algorithms on WASM equal the reference", () => {
  run("gemm", gemmConfig);
  run("winograd2", winogradConfig);
  run("winograd4", winogradConfig);
  run("fft", fftConfig);
  run("separable", separableConfig);
  run("direct_simd", directSimdConfig);
});

describe("convolution algorithms on WASM with symbolic input sizes", () => {
  runSymbolic("gemm", gemmConfig);
  runSymbolic("winograd2", winogradConfig);
  runSymbolic("winograd4", winogradConfig);
  runSymbolic("fft", fftConfig);
  runSymbolic("separable", separableConfig);
  runSymbolic("direct_simd", directSimdConfig);
});
