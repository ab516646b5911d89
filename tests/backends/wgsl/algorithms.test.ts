// Every convolution algorithm's WGSL kernels equal the reference (float64 direct
// convolution) on the same seeded random layers as the WASM algorithm test
// (tests/backends/conv-configs.ts): sizes, channels, groups, stride, dilation, padding, flip,
// bias kind, activation epilogues, plus a fused residual add on every third layer. The
// layers of an algorithm are batched into a few plans (one layer per input), so the software
// GPU compiles and runs each batch in one load and one submission. Each algorithm is held to
// a bound measured for it (relative to the output's largest magnitude or 1), kept tight
// around what was observed, all within the backend's 1e-4 contract. The manifest is checked
// too: every layer ran its algorithm's kernels, not the direct fallback.
import { describe, expect, it } from "vitest";
import * as D from "../../../compiler/ir/dim.js";
import type { AlgorithmName } from "../../../compiler/ir/graph.js";
import type { Epilogue, Plan } from "../../../compiler/plan/plan.js";
import { type Config, fftConfig, gemmConfig, makeRankOne, separableConfig, winogradConfig } from "../conv-configs.js";
import { PlanBuilder, relativeError, Rng } from "../wasm/plan-helper.js";
import { executorFor } from "./plan-helper.js";

/**
 * The bound per algorithm; measured worst relative error over its 100 layers in the comment
 * (llvmpipe, f32 everywhere; Winograd's transforms amplify rounding, the FFT's DFT sums run
 * over whole tiles). winograd1d, like direct_simd, is WebAssembly's alone.
 */
const BOUND: Record<Exclude<AlgorithmName, "direct" | "direct_simd" | "winograd1d">, number> = {
  gemm: 1e-6, // measured 4.0e-7
  winograd2: 2e-6, // measured 8.3e-7
  winograd4: 8e-6, // measured 3.9e-6
  fft: 8e-6, // measured 3.3e-6
  separable: 5e-7, // measured 2.3e-7
};

const CONFIGS = 100;
const BATCH = 25;

function withAlgorithm(plan: Plan, name: AlgorithmName): Plan {
  return { ...plan, steps: plan.steps.map((s) => ({ ...s, algorithm: { name, reason: "test" } })) };
}

/** Builds one plan from several configurations (each its own input, layer and output); returns the worst error per layer. */
async function checkBatch(name: Exclude<AlgorithmName, "direct" | "direct_simd" | "winograd1d">, configs: readonly Config[], seeds: readonly number[], symbolic = false): Promise<number[]> {
  const symbolsOf = (k: number, d: number) => ["D", "H", "W"].slice(3 - d).map((s) => `${s}${k}`);
  const b = new PlanBuilder(symbolic ? configs.flatMap((c, k) => symbolsOf(k, c.input.length - 1)) : []);
  const residual = configs.map((_, k) => k % 3 === 1);
  const xs = configs.map((c, k) => b.input(`x${k}`, symbolic ? [c.input[0], ...symbolsOf(k, c.input.length - 1).map((s) => D.sym(s))] : c.input));
  // Residual inputs: the layer's output shape, found by a throwaway builder.
  const outShapes = configs.map((c, k) => {
    const probe = new PlanBuilder(symbolic ? symbolsOf(k, c.input.length - 1) : []);
    const x = probe.input("x", symbolic ? [c.input[0], ...symbolsOf(k, c.input.length - 1).map((s) => D.sym(s))] : c.input);
    const op = symbolic && c.op.bias === "location" ? { ...c.op, bias: "channel" as const } : c.op;
    return probe.shapes[probe.layer(op, [x], new Rng(1))];
  });
  const rs = configs.map((_, k) => (residual[k] ? b.input(`r${k}`, outShapes[k]) : -1));
  const rngs = seeds.map((s) => new Rng(s));
  configs.forEach((c, k) => {
    const op = symbolic && c.op.bias === "location" ? { ...c.op, bias: "channel" as const } : c.op;
    const epilogue: Epilogue[] = residual[k] ? [{ kind: "add", input: 1 }, ...c.epilogue] : c.epilogue;
    const y = b.layer(op, residual[k] ? [xs[k], rs[k]] : [xs[k]], rngs[k], epilogue);
    if (c.rankOne) makeRankOne(b.layers[b.layers.length - 1].weight as { data: Float32Array }, c.op.kernel, rngs[k]);
    b.output(`y${k}`, y);
  });
  const plan = withAlgorithm(b.build(), name);
  const { exec, wgsl } = await executorFor(plan);
  try {
    // Every step ran its algorithm's kernels (no silent direct fallback).
    const families = new Map<number, Set<string>>();
    for (const c of wgsl.manifest.commands) {
      if (c.kind !== "dispatch") continue;
      const set = families.get(c.step) ?? new Set<string>();
      set.add(wgsl.manifest.programs[c.program].family);
      families.set(c.step, set);
    }
    const prefix = name === "fft" ? "fft" : name;
    plan.steps.forEach((s) => expect([...(families.get(s.id) ?? [])].every((f) => f.startsWith(prefix)), `${s.layer}: ${[...(families.get(s.id) ?? [])]}`).toBe(true));
    const worst = configs.map(() => 0);
    for (const grow of symbolic ? [0, 5, 2] : [0]) {
      const env: Record<string, number> = {};
      const sizes = configs.map((c, k) => {
        const d = c.input.length - 1;
        const m = c.input.slice(1).map((v, i) => v + (i === d - 1 ? 2 * grow : grow));
        symbolsOf(k, d).forEach((s, i) => (env[s] = m[i]));
        return m;
      });
      const inputs: Float32Array[] = configs.map((c, k) => rngs[k].f32(c.input[0] * sizes[k].reduce((a, v) => a * v, 1), 2));
      configs.forEach((_, k) => {
        if (residual[k]) inputs.push(rngs[k].f32(D.evalDims(outShapes[k], env).reduce((a, v) => a * v, 1), 1));
      });
      // Inputs in declaration order: all x first, then the residuals.
      const ordered = [...inputs];
      const got = await exec.runSample(env, ordered);
      const want = b.reference(ordered, env);
      configs.forEach((_, k) => (worst[k] = Math.max(worst[k], relativeError(got[k], want[k]))));
    }
    return worst;
  } finally {
    exec.dispose();
  }
}

const seedOf = (name: string, i: number) => 1000 * (Object.keys(BOUND).indexOf(name) + 1) + i;

function run(name: Exclude<AlgorithmName, "direct" | "direct_simd" | "winograd1d">, make: (rng: Rng) => Config): void {
  it(`${name} equals direct convolution on ${CONFIGS} random layers (bound ${BOUND[name]})`, async () => {
    let worst = 0;
    for (let i0 = 0; i0 < CONFIGS; i0 += BATCH) {
      const seeds = Array.from({ length: BATCH }, (_, k) => seedOf(name, i0 + k));
      const configs = seeds.map((s) => make(new Rng(s)));
      const errs = await checkBatch(name, configs, seeds);
      errs.forEach((err, k) => {
        if (!(err <= BOUND[name])) throw new Error(`seed ${seeds[k]}: ${JSON.stringify(configs[k])}: relative error ${err}`);
        worst = Math.max(worst, err);
      });
    }
    console.log(`${name} (WGSL): max relative error ${worst.toExponential(2)} over ${CONFIGS} layers`);
    expect(worst).toBeLessThanOrEqual(BOUND[name]);
  });
}

function runSymbolic(name: Exclude<AlgorithmName, "direct" | "direct_simd" | "winograd1d">, make: (rng: Rng) => Config): void {
  it(`${name} with symbolic sizes: 8 layers, each at 3 input sizes from one compiled network`, async () => {
    const seeds = Array.from({ length: 8 }, (_, k) => 50000 + 100 * (Object.keys(BOUND).indexOf(name) + 1) + k);
    const configs = seeds.map((s) => make(new Rng(s)));
    const errs = await checkBatch(name, configs, seeds, true);
    errs.forEach((err, k) => {
      if (!(err <= BOUND[name])) throw new Error(`seed ${seeds[k]}: ${JSON.stringify(configs[k])}: relative error ${err}`);
    });
  });
}

describe("convolution algorithms on WebGPU equal the reference", () => {
  run("gemm", gemmConfig);
  run("winograd2", winogradConfig);
  run("winograd4", winogradConfig);
  run("fft", fftConfig);
  run("separable", separableConfig);
});

describe("convolution algorithms on WebGPU with symbolic input sizes", () => {
  runSymbolic("gemm", gemmConfig);
  runSymbolic("winograd2", winogradConfig);
  runSymbolic("winograd4", winogradConfig);
  runSymbolic("fft", fftConfig);
  runSymbolic("separable", separableConfig);
});

describe("an algorithm whose kernels a limit refuses falls back to direct convolution", () => {
  const layer = async (name: Exclude<AlgorithmName, "direct" | "direct_simd" | "winograd1d">, input: number[], op: Config["op"], limits: Parameters<typeof executorFor>[1]) => {
    const rng = new Rng(7);
    const b = new PlanBuilder();
    const x = b.input("x", input);
    b.output("y", b.layer(op, [x], rng, [{ kind: "activation", fn: "relu", alpha: 0 }]));
    const plan = withAlgorithm(b.build(), name);
    const { exec, wgsl } = await executorFor(plan, limits);
    try {
      const data = rng.f32(input.reduce((a, v) => a * v, 1), 2);
      const [got] = await exec.runSample({}, [data]);
      const families = new Set(wgsl.manifest.programs.map((p) => p.family));
      return { err: relativeError(got, b.reference([data])[0]), families };
    } finally {
      exec.dispose();
    }
  };
  const conv = (kernel: number[], stride = 1): Config["op"] => ({
    kind: "conv",
    filters: 8,
    kernel,
    stride: kernel.map(() => stride),
    dilation: kernel.map(() => 1),
    pad: { kind: "same" },
    groups: 1,
    flip: false,
    bias: "channel",
  });

  it("Winograd scratch over a small storage binding: the direct kernel, split, computes the layer", async () => {
    const r = await layer("winograd4", [8, 40, 40], conv([3, 3]), { limits: { maxStorageBufferBindingSize: 32 * 1024 } });
    expect([...r.families]).toEqual(["conv"]);
    expect(r.err).toBeLessThanOrEqual(1e-5);
  });

  it("GEMM's workgroup memory over the limit: direct", async () => {
    const r = await layer("gemm", [4, 12, 12], conv([3, 3], 2), { limits: { maxComputeWorkgroupStorageSize: 1024 } });
    expect([...r.families]).toEqual(["conv"]);
    expect(r.err).toBeLessThanOrEqual(1e-5);
  });

  it("within the limits the algorithm's own kernels run", async () => {
    const r = await layer("fft", [2, 20, 20], conv([5, 5]), {});
    expect([...r.families].sort()).toEqual(["fft-input", "fft-kernel", "fft-output", "fft-product"]);
    expect(r.err).toBeLessThanOrEqual(BOUND.fft);
  });
});
