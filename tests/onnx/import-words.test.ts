// `cnnc import` writes the language's own words for PRelu, InstanceNormalization, Max/Min/Mean
// of values and the reductions, not the chains of older ops it wrote before those words
// existed; tests/onnx/import-ops.test.ts checks that what it writes equals onnxruntime.

import { describe, expect, it } from "vitest";
import { fromOnnx } from "../../compiler/import/onnx/index.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { attr, buildModel, type GraphSpec } from "./model.js";

function imported(g: GraphSpec): { source: string; weights: Map<string, readonly number[]> } {
  const r = fromOnnx(buildModel(g));
  if (!r.ok) throw new Error(r.errors.join("\n"));
  const t = readSafetensors(r.weights, "model.safetensors");
  if (!t.ok) throw new Error(t.error);
  return { source: r.source, weights: new Map([...t.value].map(([k, v]) => [k, v.shape])) };
}

const single = (op: string, inputs: string[], initializers: GraphSpec["initializers"] = [], attrs: GraphSpec["nodes"][number]["attrs"] = []): GraphSpec => ({
  nodes: [{ op, inputs, outputs: ["y"], attrs }],
  inputs: [{ name: "x", shape: [1, 3, 5, 4] }],
  outputs: [{ name: "y" }],
  initializers,
});

describe("cnnc import writes the new words", () => {
  it("PRelu with a slope per channel: `label: prelu`, the slope as label.weight [C] (PyTorch's layout)", () => {
    const r = imported(single("PRelu", ["x", "act.weight"], [{ name: "act.weight", shape: [3, 1, 1], data: [0.1, 0.2, 0.3] }]));
    expect(r.source).toMatch(/x \|> act: prelu\b/);
    expect(r.source).not.toMatch(/neg/);
    expect(r.weights.get("act.weight")).toEqual([3]);
  });
  it("PRelu with one slope: prelu(s)", () => {
    const r = imported(single("PRelu", ["x", "s"], [{ name: "s", shape: [1], data: [0.25] }]));
    expect(r.source).toMatch(/x \|> prelu\(0\.25\)/);
  });
  it("InstanceNormalization: `label: instancenorm(eps:)` with label.weight and label.bias", () => {
    const r = imported(single("InstanceNormalization", ["x", "norm.weight", "norm.bias"], [
      { name: "norm.weight", shape: [3], data: [1, 2, 3] },
      { name: "norm.bias", shape: [3], data: [0, 1, 0] },
    ], [attr.float("epsilon", 0.001)]));
    expect(r.source).toMatch(/x \|> norm: instancenorm\(eps: 0\.00100000/);
    expect(r.source).not.toMatch(/avgpool|sqrt/);
    expect(r.weights.get("norm.weight")).toEqual([3]);
    expect(r.weights.get("norm.bias")).toEqual([3]);
  });
  it("Max, Min and Mean of values: max(a, b), min(min(a, b), c), mean(a, b, c)", () => {
    const g = (op: string, ins: string[]): GraphSpec => ({
      nodes: [
        { op: "Tanh", inputs: ["x"], outputs: ["a"] },
        { op: "Sigmoid", inputs: ["x"], outputs: ["b"] },
        { op, inputs: ins, outputs: ["y"] },
      ],
      inputs: [{ name: "x", shape: [1, 3, 5, 4] }],
      outputs: [{ name: "y" }],
    });
    expect(imported(g("Max", ["a", "b"])).source).toMatch(/= max\(n0, n1\)/);
    expect(imported(g("Min", ["a", "b", "x"])).source).toMatch(/= min\(min\(n0, n1\), x\)/);
    expect(imported(g("Mean", ["a", "b", "x"])).source).toMatch(/= mean\(n0, n1, x\)/);
  });
  it("reductions: reduce_*(axes:, keep:) with the axes counted per sample, and no weights", () => {
    const red = (op: string, axes: number[], keep: number) =>
      imported(single(op, ["x", "axes"], [{ name: "axes", shape: [axes.length], data: axes, type: "int64" }], [attr.int("keepdims", keep)]));
    expect(red("ReduceMean", [2, 3], 1).source).toMatch(/x \|> reduce_mean\(axes: \[1, 2\]\)/);
    expect(red("ReduceMax", [1], 1).source).toMatch(/x \|> reduce_max\(axes: \[0\]\)/);
    expect(red("ReduceSum", [1, -1], 0).source).toMatch(/x \|> reduce_sum\(axes: \[0, 2\], keep: false\)/);
    const l2 = red("ReduceL2", [3], 1);
    expect(l2.source).toMatch(/x \|> reduce_l2\(axes: \[2\]\)/);
    expect(l2.weights.size).toBe(0);
  });
  it("constants that vary over space: `const` with the initializer's name sanitised, declared once, the tensor under that name", () => {
    const g: GraphSpec = {
      nodes: [
        { op: "Add", inputs: ["x", "pos.embed"], outputs: ["a"] },
        { op: "Mul", inputs: ["pos.embed", "a"], outputs: ["b"] },
        { op: "Div", inputs: ["scale", "b"], outputs: ["c"] },
        { op: "Max", inputs: ["c", "pos.embed"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", shape: [1, 3, 5, 4] }],
      outputs: [{ name: "y" }],
      initializers: [
        { name: "pos.embed", shape: [1, 3, 5, 4], data: Array.from({ length: 60 }, (_, i) => i / 60) },
        { name: "scale", shape: [3, 1, 1], data: [1, 2, 3] },
      ],
    };
    const r = imported(g);
    expect(r.source).toMatch(/const pos_embed = f32\[3, 5, 4\] from "pos_embed" {2}\/\/ ONNX "pos\.embed"/);
    expect(r.source.match(/const pos_embed/g)).toHaveLength(1);
    expect(r.source).toMatch(/= x \+ pos_embed/);
    expect(r.source).toMatch(/n1 = pos_embed \* n0/);
    expect(r.source).toMatch(/const scale = f32\[3, 1, 1\] from "scale"/);
    expect(r.source).toMatch(/n2 = scale \/ n1/);
    expect(r.source).toMatch(/y = max\(n2, pos_embed\)/);
    expect(r.weights.get("pos_embed")).toEqual([3, 5, 4]);
    expect(r.weights.get("scale")).toEqual([3, 1, 1]);
  });
});
