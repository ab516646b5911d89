// The words added so that `cnnc import` can write readable source (prelu, instancenorm,
// max/min/mean of values): each equals, on the reference, the chain of older ops it stands for
// (the chain the importer used to write), and WebAssembly and WebGPU equal the reference
// (1e-4 relative to max(1, |ref|)); WebGPU is skipped without an adapter (not in CI).

import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../compiler/diagnostics.js";
import { analyse, compile } from "../../compiler/index.js";
import { autodiff } from "../../compiler/train/autodiff.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import { relativeError } from "../relative-error.js";

const adapter = await testAdapter();
const gpu = Boolean(adapter || process.env.CI);

const SLOPES = "[[[[0.1]]], [[[-0.3]]], [[[2]]]]";
const SCALE = "[[[[1.5]]], [[[-0.5]]], [[[0.25]]]]";

/** name -> [with the new words, the same written with the old ops]. */
const PAIRS: Record<string, [string, string]> = {
  extrema: [
    `network e(x: f32[3, 7, 6], y: f32[3, 7, 6]) -> (a, b, c) {
      a = max(x, y)
      b = x |> min(y |> relu)
      c = max(x, x |> avgpool(out: 1))
    }`,
    `network e(x: f32[3, 7, 6], y: f32[3, 7, 6]) -> (a, b, c) {
      a = x + ((y - x) |> relu)
      b = x - ((x - (y |> relu)) |> relu)
      c = x + (((x |> avgpool(out: 1)) - x) |> relu)
    }`,
  ],
  mean: [
    `network m(x: f32[3, 7, 6], y: f32[3, 7, 6], z: f32[3, 7, 6]) -> (a, b) {
      a = mean(x, y, z)
      b = x |> mean(y)
    }`,
    `network m(x: f32[3, 7, 6], y: f32[3, 7, 6], z: f32[3, 7, 6]) -> (a, b) {
      a = (x + y + z) |> depthwise(1, bias: none, weight: [[0.3333333432674408]])
      b = (x + y) |> depthwise(1, bias: none, weight: [[0.5]])
    }`,
  ],
  prelu: [
    `network p(x: f32[3, 7, 6], v: f32[3, 10]) -> (a, b, c) {
      a = x |> p: prelu(weight: ${SLOPES})
      b = x |> prelu(0.2)
      c = v |> prelu(weight: [[[0.5]], [[-1]], [[0.125]]])
    }`,
    `network p(x: f32[3, 7, 6], v: f32[3, 10]) -> (a, b, c) {
      a = (x |> relu) - (x |> neg |> relu |> depthwise(1, bias: none, weight: ${SLOPES}))
      b = x |> leaky_relu(0.2)
      c = (v |> relu) - (v |> neg |> relu |> depthwise(1, bias: none, weight: [[[0.5]], [[-1]], [[0.125]]]))
    }`,
  ],
  instancenorm: [
    `network i(x: f32[3, 7, 6]) -> y {
      y = x |> k: conv(3, 3) |> n: instancenorm(eps: 0, weight: ${SCALE}) |> relu
    }`,
    `network i(x: f32[3, 7, 6]) -> y {
      c = x |> k: conv(3, 3)
      d = c - (c |> avgpool(out: 1))
      rstd = (d * d) |> avgpool(out: 1) |> depthwise(1, weight: [[1]]) |> sqrt |> reciprocal
      y = (d * rstd) |> depthwise(1, weight: ${SCALE}) |> relu
    }`,
  ],
  reductions: [
    `network r(x: f32[4, 6, 5]) -> (a, b, c, d, e, f, g) {
      a = x |> reduce_mean(axes: [1, 2])
      b = x |> reduce_max(axes: [0])
      c = x |> reduce_sum(axes: [2], keep: false)
      d = x |> reduce_l2(axes: [0, 1, 2])
      e = x |> reduce_mean(axes: [0, 2], keep: false)
      f = x |> reduce_max(axes: [1, 2], keep: false)
      g = x |> reduce_sum(axes: 0)
    }`,
    `network r(x: f32[4, 6, 5]) -> (a, b, c, d, e, f, g) {
      a = x |> avgpool(out: 1)
      b = x |> maxout(4)
      c = x |> avgpool(1x5, stride: 1x5) |> depthwise(1, bias: none, weight: [[5]]) |> reshape([4, 6])
      d = (x * x) |> conv(1, 1, bias: none, weight: [[1]]) |> avgpool(6x5, stride: 6x5) |> depthwise(1, bias: none, weight: [[30]]) |> sqrt
      e = x |> conv(1, 1, bias: none, weight: [[0.25]]) |> avgpool(1x5, stride: 1x5) |> reshape([6])
      f = x |> maxpool(out: 1) |> flatten
      g = x |> conv(1, 1, bias: none, weight: [[1]])
    }`,
  ],
};

/** Compiled on the backends only (their rewrite needs a constant shift the old words cannot write). */
const MORE: Record<string, string> = {
  instancenorm_eps: `network j(x: f32[4, 9, 5], v: f32[2, 3, 4, 5]) -> (a, b) {
    a = x |> conv(4, 3) |> instancenorm(eps: 0.001) |> prelu(weight: [[[[0.5]]], [[[-1]]], [[[0.125]]], [[[2]]]])
    b = v |> instancenorm |> conv(3, 1) |> max(v |> conv(3, 1))
  }`,
};

function inputsOf(r: Compiled) {
  return r.graph.inputs.map((io, i) => {
    const shape = evalDims(r.graph.values[io.value].shape, {});
    return { name: io.name, shape, data: initialise({ kind: "uniform", low: -4, high: 4, seed: 70 + i }, shape, 1, 1) };
  });
}

type Compiled = Extract<ReturnType<typeof compile>, { ok: true }>;

function compiled(src: string, name: string): Compiled {
  const r = compile(src, { fileName: `${name}.cnn`, target: "wasm" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r;
}

function reference(src: Compiled["source"], inputs: ReturnType<typeof inputsOf>) {
  return interpret(src, new Map(inputs.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data) }])));
}

describe("named ops equal their rewrites on the reference", () => {
  for (const [name, [words, chain]] of Object.entries(PAIRS)) {
    it(name, () => {
      const r = compiled(words, name);
      const inputs = inputsOf(r);
      const got = reference(r.source, inputs);
      const want = reference(compiled(chain, name).source, inputs);
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [out, w] of want) {
        const g = got.get(out);
        expect(g?.shape).toEqual(w.shape);
        expect(relativeError(Float32Array.from(g?.data ?? []), Float32Array.from(w.data)), out).toBeLessThan(1e-6);
      }
    });
  }
});

describe("named ops: backends equal the reference", () => {
  for (const [name, src] of [...Object.entries(PAIRS).map(([k, [w]]) => [k, w] as const), ...Object.entries(MORE)]) {
    for (const fuse of [true, false]) {
      it(`${name}${fuse ? "" : " (no fusion)"}`, async () => {
        const r = compile(src, { fileName: `${name}.cnn`, target: gpu ? "all" : "wasm", fuse });
        if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
        const inputs = inputsOf(r);
        const ref = reference(r.source, inputs);
        for (const backend of gpu ? (["wasm", "webgpu"] as const) : (["wasm"] as const)) {
          const net = await r.load({ backend });
          try {
            const got = await net.run(Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, shape: t.shape }])));
            for (const [out, want] of ref) {
              expect(got[out].shape).toEqual([1, ...want.shape]);
              expect(relativeError(got[out].data, want.data), `${backend} ${out}`).toBeLessThan(1e-4);
            }
          } finally {
            net.dispose();
          }
        }
      }, 60_000);
    }
  }
});

describe("named ops: wrong arguments are diagnostics at the place", () => {
  const cases: [string, string][] = [
    ["y = max(x)", "t.cnn:2:7: error: max takes two values, max(a, b); for more, nest them: max(max(a, b), c)"],
    ["y = min(x, x, x)", "t.cnn:2:7: error: min takes two values, min(a, b); for more, nest them: min(min(a, b), c)"],
    ["y = mean(x)", "t.cnn:2:7: error: mean takes two or more values: mean(a, b, ...)"],
    ["y = v |> prelu", "t.cnn:2:12: error: prelu needs a value with channels and spatial axes, but its input has shape [8]"],
    ["y = x |> prelu(0.1, weight: [[[0.5]]])", "t.cnn:2:31: error: prelu with one slope has no weight; give the slope or 'weight:', not both"],
    ["y = x |> p: prelu |> p", "t.cnn:2:24: error: layer 'p' is a prelu, which cannot be applied again; write another prelu with its own label"],
    ["y = x |> instancenorm(eps: -1)", "t.cnn:2:30: error: argument 'eps' of instancenorm must be zero or positive, got -1"],
    ["y = x |> instancenorm(3)", "t.cnn:2:25: error: instancenorm takes no positional arguments"],
    ["y = x |> reduce_mean", "t.cnn:2:12: error: reduce_mean needs axes: the axes of a sample to reduce, 0 for channels and 1 to 2 for the spatial axes, such as axes: [1, 2]"],
    ["y = x |> reduce_mean(axes: [3])", "t.cnn:2:30: error: argument 'axes' of reduce_mean expects axes of a sample, 0 for channels and 1 to 2 for the spatial axes, such as axes: [1, 2]"],
    ["y = x |> reduce_l2(axes: [1.5])", "t.cnn:2:28: error: argument 'axes' of reduce_l2 expects axes of a sample, 0 for channels and 1 to 2 for the spatial axes, such as axes: [1, 2]"],
    ["y = x |> reduce_max(axes: [0, 1, 2], keep: false)", "t.cnn:2:46: error: reduce_max with keep: false over every axis leaves nothing; a value keeps at least one axis per sample"],
    ["y = x |> reduce_sum(axes: 1, keep: 2)", "t.cnn:2:38: error: argument 'keep' of reduce_sum expects true or false, but got 2"],
  ];
  for (const [line, want] of cases) {
    it(line, () => {
      const r = compile(`network n(x: f32[2, 4, 4], v: f32[8]) -> y {\n  ${line}\n}\n`, { fileName: "t.cnn", target: "wasm" });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.diagnostics.map((d) => formatDiagnostic(d).split("\n")[0])).toEqual([want]);
    });
  }
});

describe("named ops: the numbers they are written with are constants", () => {
  it("training differentiates prelu's and instancenorm's weights, never mean's 1/n, eps or a reduction's count", () => {
    const a = analyse(`network t(x: f32[3, 6, 5]) -> y {
      a = x |> c: conv(4, 3) |> act: prelu |> norm: instancenorm
      y = mean(a, a |> relu) |> reduce_sum(axes: [0, 2]) |> reduce_l2(axes: 1)
    }`, { fileName: "t.cnn" });
    if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
    const trained = autodiff(a.graph, { loss: "mse" }).gradients.map((g) => g.weight.name).sort();
    expect(trained).toEqual(["act.weight", "c.bias", "c.weight", "norm.bias", "norm.weight"]);
    const constants = a.graph.weights.filter((w) => w.source.kind === "constant").map((w) => w.name).sort();
    expect(constants).toEqual(["norm.eps.bias", "norm.eps.weight", "y.1.scale.weight", "y.2.channels.weight", "y.2.count.weight", "y.3.count.weight"]);
  });
});

describe("named ops: prelu's and instancenorm's per-channel weights in PyTorch's layout [C]", () => {
  const src = `network t(x: f32[3, 6, 5]) -> y {
    y = x |> act: prelu |> norm: instancenorm
  }`;
  const slope = [0.1, -0.3, 2];
  const scale = [1.5, -0.5, 0.25];
  const x = initialise({ kind: "uniform", low: -2, high: 2, seed: 8 }, [3, 6, 5], 1, 1);
  const run = (weights: Map<string, { shape: number[]; data: Float32Array }>) => {
    const a = analyse(src, { fileName: "t.cnn", weights: writeSafetensors(weights) });
    if (!a.graph) throw new Error(a.log.items.map((d) => formatDiagnostic(d)).join("\n"));
    return interpret(a.graph, new Map([["x", { shape: [3, 6, 5], data: Float64Array.from(x) }]])).get("y")?.data;
  };
  const tensors = (shape: (c: number) => number[]) => new Map([
    ["act.weight", { shape: shape(3), data: Float32Array.from(slope) }],
    ["norm.weight", { shape: shape(3), data: Float32Array.from(scale) }],
    ["norm.bias", { shape: [3], data: Float32Array.from([0, 1, -1]) }],
  ]);
  it("a weights file with [C] (a state_dict) gives what [C, 1, 1, 1] gives", () => {
    const flat = run(tensors((c) => [c]));
    expect(flat).toBeDefined();
    expect(Array.from(flat ?? [])).toEqual(Array.from(run(tensors((c) => [c, 1, 1, 1])) ?? []));
  });
  it("a literal may be [C] too, and another shape is an error naming both", () => {
    const lit = analyse(`network t(x: f32[3, 6, 5]) -> y {\n  y = x |> prelu(weight: [0.1, -0.3, 2])\n}`, { fileName: "t.cnn" });
    expect(lit.log.hasErrors).toBe(false);
    const bad = analyse(src, { fileName: "t.cnn", weights: writeSafetensors(new Map([["act.weight", { shape: [3, 1], data: Float32Array.from(slope) }]])) });
    expect(bad.log.items.map((d) => d.message)).toContain("weights: tensor 'act.weight' has shape [3, 1] but layer act needs [3, 1, 1, 1] (or [3])");
  });
});
