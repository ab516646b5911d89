// Fusion on the WebAssembly backend (issue 5): random convolution-like producers with a fused
// activation, residual add and pool (see ../fusion-cases.ts), compiled through the real
// pipeline with fusion on, equal the reference interpreter run on the UNFUSED graph to 1e-5
// relative; symbolic sizes; the plan's split of the fused list; and a fused LeNet's plan has
// no buffer for the pre-pool activations.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { CompileSuccess } from "../../../compiler/index.js";
import * as D from "../../../compiler/ir/dim.js";
import { interpret } from "../../../compiler/reference/interpret.js";
import { type Case, compileOrThrow, type Producer, runCase, runRandomCases } from "../fusion-cases.js";
import { Rng } from "./plan-helper.js";

const PRODUCERS: readonly Producer[] = ["conv", "local", "tiled", "deconv", "dense"];
const CASES = 24;

describe("wasm fusion: fused producers equal the unfused reference", () => {
  PRODUCERS.forEach((kind, k) => {
    // A convolution absorbs a pool only when it runs direct (fuse.ts): asked for here, so
    // that every pool is fused; the cost model's own choices are the next test.
    const options = kind === "conv" ? { algorithms: { p: "direct" as const } } : {};
    it(`${kind}: ${CASES} random configurations with fused activation, residual add and pool`, async () => {
      await runRandomCases(kind, CASES, 50 + k, (c, r, seed) => {
        expect(r.error, `${c.description} (seed ${seed})`).toBeLessThanOrEqual(1e-5);
      }, "wasm", options);
    }, 120_000);
  });

  it(`conv: ${CASES} random configurations with the cost model's algorithm, which keeps a pool apart unless it chose direct`, async () => {
    await runRandomCases("conv", CASES, 60, (c, r, seed) => {
      expect(r.error, `${c.description} (seed ${seed})`).toBeLessThanOrEqual(1e-5);
    });
  }, 120_000);

  for (const algorithm of ["gemm", "winograd4", "fft"] as const) {
    it(`conv with ${algorithm}: a fused activation and residual add (the pool stays apart)`, async () => {
      const c: Case = {
        description: algorithm,
        input: [3, 13, 11],
        producer: "conv(4, 3x3, pad: same)",
        flatten: false,
        pre: "tanh",
        add: "left",
        post: "relu",
        pool: "maxpool(2)",
      };
      const r = await runCase(c, 61, "wasm", { algorithms: { p: algorithm } });
      const steps = r?.fused.plan.steps ?? [];
      expect(steps.map((s) => [s.op.kind, s.algorithm?.name ?? "-", s.epilogue.map((e) => e.kind).join(" ")])).toEqual([
        ["conv", algorithm, "activation add activation"],
        ["pool", "-", ""],
      ]);
      expect(r?.error).toBeLessThanOrEqual(1e-5);
    });
  }

  it("a 3-D conv with groups, stride and padding, + residual, relu, ceil-mode avg pool counting padding", async () => {
    const c: Case = {
      description: "",
      input: [4, 7, 6, 5],
      producer: "conv(6, [3, 2, 3], stride: [1, 2, 1], pad: [[1, 1], [0, 1], [2, 0]], groups: 2)",
      flatten: false,
      add: "right",
      post: "relu",
      pool: "avgpool([2, 2, 3], stride: [2, 1, 2], pad: [[1, 0], [1, 1], [1, 1]], ceil: true, count_pad: true)",
      after: "tanh",
    };
    const r = await runCase(c, 7, "wasm", { algorithms: { p: "direct" } });
    expect(r?.fused.plan.steps.length).toBe(1);
    expect(r?.error).toBeLessThanOrEqual(1e-5);
  });

  it("an overlapping dilated max pool (stride < window) recomputes shared positions correctly", async () => {
    const c: Case = {
      description: "",
      input: [2, 12, 11],
      producer: "conv(3, 3x3, pad: same)",
      flatten: false,
      pre: "leaky_relu(0.2)",
      pool: "maxpool(3x3, stride: 1, dilation: 2, pad: 2)",
    };
    const r = await runCase(c, 8, "wasm", { algorithms: { p: "direct" } });
    expect(r?.fused.plan.steps.length).toBe(1);
    expect(r?.error).toBeLessThanOrEqual(1e-5);
  });
});

describe("wasm fusion: symbolic sizes", () => {
  it("one fused kernel (conv + residual + relu + ceil-mode avg pool + tanh) serves several input sizes", async () => {
    const r = compileOrThrow(`network n(x: f32[2, H, W]) -> y {
  h = x |> a: conv(3, 3x3, pad: same, init: uniform(-1, 1, seed: 4))
  y = h + (x |> b: conv(3, 3x3, stride: 1, dilation: 2, pad: same, init: uniform(-1, 1, seed: 5)) |> sigmoid) |> relu |> avgpool(3, stride: 2, pad: 1, ceil: true) |> tanh
}`, { algorithms: { b: "direct" } });
    expect(r.plan.steps.map((s) => [s.layer, s.pool?.op.mode ?? "-"])).toEqual([["a", "-"], ["b", "avg"]]);
    const net = await r.load({ backend: "wasm" });
    const rng = new Rng(11);
    for (const [H, W] of [[9, 7], [12, 5], [4, 4]]) {
      const shape = [2, H, W];
      const data = rng.f32(2 * H * W);
      const got = await net.run({ x: { data, shape } });
      const want = interpret(r.source, new Map([["x", { shape, data: Float64Array.from(data) }]])).get("y");
      if (!want) throw new Error("no output");
      expect(got.y.shape).toEqual([1, ...want.shape]);
      const scale = Math.max(...Array.from(want.data, Math.abs));
      const diff = Math.max(...Array.from(want.data, (v, i) => Math.abs(v - got.y.data[i])));
      expect(diff / scale, `${H}x${W}`).toBeLessThanOrEqual(1e-5);
    }
    net.dispose();
  });
});

describe("wasm fusion: the plan", () => {
  it("splits the fused list at the pool: epilogue before it (with the residual's input index), activations after it", () => {
    const r = compileOrThrow(`network n(x: f32[2, 8, 8], r: f32[3, 8, 8]) -> y {
  y = r + (x |> c: conv(3, 3x3, pad: same) |> tanh) |> relu |> maxpool(2) |> sigmoid
}`, { algorithms: { c: "direct" } });
    expect(r.plan.steps.length).toBe(1);
    const [step] = r.plan.steps;
    const bufferOf = (name: string) => r.plan.inputs.find((i) => i.name === name)?.buffer;
    expect(step.inputs.map((t) => t.buffer)).toEqual([bufferOf("x"), bufferOf("r")]);
    expect(step.epilogue).toEqual([
      { kind: "activation", fn: "tanh", alpha: 0 },
      { kind: "add", input: 1 },
      { kind: "activation", fn: "relu", alpha: 0 },
    ]);
    expect(step.pool?.op.mode).toBe("max");
    expect(step.pool?.inShape).toEqual([3, 8, 8]);
    expect(step.pool?.epilogue).toEqual([{ kind: "activation", fn: "sigmoid", alpha: 0 }]);
    expect(step.output.shape).toEqual([3, 4, 4]);
  });

  it("a fused LeNet with direct convolutions stores no pre-pool activations: fewer steps, a smaller arena", () => {
    const text = readFileSync("examples/lenet.cnn", "utf8");
    // Direct, as --algorithm conv1=direct gives (and as WebGPU always runs): the only
    // algorithm a pool fuses into (fuse.ts). The cost model's own choice is the next test.
    const algorithms = { conv1: "direct", conv2: "direct" } as const;
    const fused = compileOrThrow(text, { algorithms });
    const unfused = compileOrThrow(text, { fuse: false, algorithms });
    // conv1 + relu + pool, conv2 + relu + pool, fc1 + relu, fc2 + relu, fc3, softmax: 6
    // kernels instead of 12.
    expect(fused.plan.steps.map((s) => [s.op.kind, s.epilogue.length, s.pool?.op.mode ?? "-"])).toEqual([
      ["conv", 1, "max"],
      ["conv", 1, "max"],
      ["dense", 1, "-"],
      ["dense", 1, "-"],
      ["dense", 0, "-"],
      ["softmax", 0, "-"],
    ]);
    expect(unfused.plan.steps.length).toBe(12);
    const elements = (r: CompileSuccess) => r.plan.buffers.map((b) => D.evalDim(b.elements, {}));
    // conv1's pre-pool output [6, 28, 28] and conv2's [16, 10, 10]: buffers without fusion only.
    for (const n of [6 * 28 * 28, 16 * 10 * 10]) {
      expect(elements(unfused)).toContain(n);
      expect(elements(fused)).not.toContain(n);
    }
    expect(D.evalDim(fused.plan.arenaElements, {})).toBeLessThan(D.evalDim(unfused.plan.arenaElements, {}));
  });

  it("a LeNet whose convolutions get faster algorithms keeps its pools apart, and fuses the rest", () => {
    const text = readFileSync("examples/lenet.cnn", "utf8");
    const r = compileOrThrow(text);
    const steps = r.plan.steps.map((s) => [s.op.kind, s.epilogue.length, s.pool ? "pooled" : "-"]);
    // Direct convolution and direct_simd pool their values (LeNet's 2x2 max pools tile their inputs).
    const pools = (s: (typeof r.plan.steps)[number]) => s.algorithm?.name === "direct" || s.algorithm?.name === "direct_simd";
    const fast = r.plan.steps.filter((s) => s.op.kind === "conv" && !pools(s)).length;
    // Each conv the cost model runs with another algorithm keeps its max pool as a step of its own.
    expect(steps.filter((s) => s[0] === "pool").length).toBe(fast);
    expect(r.plan.steps.filter((s) => s.op.kind === "conv").every((s) => s.epilogue.length === 1 && (s.pool !== undefined) === pools(s))).toBe(true);
    expect(r.plan.steps.length).toBe(6 + fast);
  });
});
