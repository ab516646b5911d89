// Every convolution algorithm's WASM kernel equals the reference (float64 direct convolution)
// on seeded random configurations: sizes, channels, groups, stride, dilation, padding, flip,
// bias kind and epilogue. The kernels compute in f32 (the direct kernel accumulates in f64),
// so each is held to a bound measured for it (max over its configurations, relative to the
// output's largest magnitude or 1), kept tight around what was observed; the 1e-5 contract
// holds for all of them.
import { describe, expect, it } from "vitest";
import type { AlgorithmName } from "../../../compiler/ir/graph.js";
import type { Plan } from "../../../compiler/plan/plan.js";
import * as D from "../../../compiler/ir/dim.js";
import { type Config, directSimdConfig, fftConfig, gemmConfig, makeRankOne, separableConfig, winograd1dConfig, winogradConfig } from "../conv-configs.js";
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
  winograd1d: 5e-6, // measured 3.2e-6
};

const CONFIGS = 100;

function withAlgorithm(plan: Plan, name: AlgorithmName): Plan {
  return { ...plan, steps: plan.steps.map((s) => ({ ...s, algorithm: { name, reason: "test" } })) };
}

async function check(name: AlgorithmName, c: Config, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const b = new PlanBuilder();
  const x = b.input("x", c.input);
  const y = b.layer(c.op, [x], rng, c.epilogue);
  b.output("y", y);
  // Replace each kernel slice by an outer product of random vectors.
  if (c.rankOne) makeRankOne(b.layers[0].weight as { data: Float32Array }, c.op.kernel, rng);
  const input = rng.f32(c.input.reduce((a, v) => a * v, 1), 2);
  const plan = withAlgorithm(b.build(), name);
  const [got] = await runWasm(plan, [input]);
  const [want] = b.reference([input]);
  return relativeError(got, want);
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
  if (c.rankOne) makeRankOne(b.layers[0].weight as { data: Float32Array }, op.kernel, rng);
  const plan = withAlgorithm(b.build(), name);
  const { emitWasm } = await import("../../../compiler/backends/wasm/module.js");
  const { WasmExecutor } = await import("../../../runtime/wasm.js");
  const emitted = emitWasm(plan);
  const { manifest } = emitted;
  const exec = await WasmExecutor.create(emitted, manifest, plan.weightData);
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
  run("winograd1d", winograd1dConfig);
});

describe("convolution algorithms on WASM with symbolic input sizes", () => {
  runSymbolic("gemm", gemmConfig);
  runSymbolic("winograd2", winogradConfig);
  runSymbolic("winograd4", winogradConfig);
  runSymbolic("fft", fftConfig);
  runSymbolic("separable", separableConfig);
  runSymbolic("direct_simd", directSimdConfig);
  runSymbolic("winograd1d", winograd1dConfig);
});
