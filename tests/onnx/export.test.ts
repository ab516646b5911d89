// Export: `.cnn` -> ONNX (opset 17) -> onnxruntime-node equals cnnc's reference (1e-5
// relative), for the examples ONNX can express and a network using the ops added for
// import; the exported file imports back to the same numbers; layers with no ONNX
// operator are refused by name.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { exportOnnx } from "../../compiler/export/onnx.js";
import { decodeModel } from "../../compiler/import/onnx/decode.js";
import { fromOnnx } from "../../compiler/import/onnx/index.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";
import { analyse } from "../../compiler/index.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { relativeError } from "../reference/helpers.js";
import { compareWithOrt, runOrt, seeded } from "./compare.js";

const NEW_OPS = `network newops(x: f32[4, 10, 9]) -> (y, z) {
  a = x |> c1: conv(8, 3, pad: same) |> clip(0, 6) |> bn: batchnorm
  b = a |> depthwise(3, stride: 2, pad: 1) |> hardswish
  s = b |> avgpool(out: 1) |> conv(8, 1) |> hardsigmoid(0.2, 0.5)
  m = (s * b) |> slice(2, 8) |> elu(0.5) |> maxpool(2, ceil: true) |> lppool(2, stride: 1, p: 2)
  y = m |> flatten |> fc: dense(5) |> leaky_relu(0.1) |> softmax
  z = concat(m, m |> tanh) |> reshape([12, 2, 2]) |> sigmoid
}`;

// The ops added for the rest of ONNX import.
const MORE_OPS = `network moreops(x: f32[3, 8, 7]) -> (y, z, p, u, t, m) {
  a = x |> conv(6, 3) |> relu
  y = a |> log_softmax
  z = a |> flatten |> dense(4) |> log_softmax
  u = a |> resize(1.5, mode: linear) |> resize([2, 0.5], coord: half_pixel, round: round_prefer_floor)
  t = a |> transpose([1, 2, 0]) |> conv(2, 1) |> transpose([2, 0, 1])
  m = matmul(a |> reshape([6, 30]), a |> reshape([30, 6]))
  p = a |> pad(2, mode: reflect) |> pad([[1, 0], [0, 2]], mode: edge) |> pad(1, mode: constant, value: 0.5) |> pad(1)
}`;

// The words for ops the importer once wrote as chains (prelu, instancenorm, max/min/mean, reductions).
const NAMED_OPS = `network namedops(x: f32[3, 8, 7]) -> (y, r, s) {
  a = x |> conv(4, 3) |> act: prelu
  b = a |> norm: instancenorm(eps: 0.001) |> prelu(0.1)
  y = mean(max(a, b), min(a, b), b)
  r = y |> reduce_l2(axes: [0, 2], keep: false)
  s = concat(y |> reduce_mean(axes: [1, 2]), y |> reduce_max(axes: [1, 2]), y |> reduce_sum(axes: [0, 1, 2]))
}`;

const CASES: Record<string, { source: string; sizes?: Record<string, number> }> = {
  lenet: { source: readFileSync("examples/lenet.cnn", "utf8") },
  residual: { source: readFileSync("examples/residual.cnn", "utf8"), sizes: { H: 12, W: 10 } },
  audio1d: { source: readFileSync("examples/audio1d.cnn", "utf8") },
  classifier_fcn: { source: readFileSync("examples/classifier_fcn.cnn", "utf8"), sizes: { H: 16, W: 20 } },
  volume3d: { source: readFileSync("examples/volume3d.cnn", "utf8") },
  newops: { source: NEW_OPS },
  moreops: { source: MORE_OPS },
  namedops: { source: NAMED_OPS },
};

describe("export to ONNX", () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: onnxruntime on the export equals cnnc, and it imports back`, async () => {
      const a = analyse(c.source, { fileName: `${name}.cnn` });
      if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
      const r = exportOnnx(a.graph);
      if (!r.ok) throw new Error(r.errors.join("\n"));
      const feeds = Object.fromEntries(a.graph.inputs.map((io, i) => {
        const shape = evalDims(a.graph!.values[io.value].shape, c.sizes ?? {});
        return [io.name, { shape: [1, ...shape], data: seeded(40 + i, shape.reduce((p, d) => p * d, 1)) }];
      }));
      const ort = await runOrt(r.bytes, feeds);
      const ref = interpret(a.graph, new Map(Object.entries(feeds).map(([k, t]) => [k, { shape: t.shape.slice(1), data: Float64Array.from(t.data) }])));
      for (const [out, want] of ref) {
        expect(ort[out].dims).toEqual([1, ...want.shape]);
        expect(relativeError(ort[out].data, want.data), out).toBeLessThan(1e-5);
      }
      // Round trip: the exported file, imported, computes the same (fixed-size models only).
      if (!c.sizes) {
        const e = await compareWithOrt(r.bytes, feeds, ["reference"]);
        expect(e.reference).toBeLessThan(1e-5);
      }
    }, 60_000);
  }

  it("named constants: ONNX's Add/Sub/Mul/Div on the constant's initializer, and back to `const` on import", async () => {
    // (w: a bias per location, exported as Conv then Add.)
    const source = `network consts(x: f32[3, 6, 5]) -> (y, z, w) {
      const pos = f32[3, 6, 5] from "pos"
      const gain = f32[3, 1, 1] from "gain"
      const row = f32[1, 6, 1] from "row.bias"
      a = x |> conv(3, 3, pad: same) |> relu
      b = (a + pos) * gain - row
      c = gain / (b |> sigmoid) + (row - b)
      y = max(c, row) |> min(pos) |> conv(2, 1)
      z = concat(pos, b * row, x / pos)
      w = x |> conv(2, 3, bias: location, init: normal(std: 0.5)) |> relu
    }`;
    const tensors = new Map([
      ["pos", { shape: [3, 6, 5], data: seeded(5, 90, 0.5, 2) }],
      ["gain", { shape: [3, 1, 1], data: seeded(6, 3, 0.5, 2) }],
      ["row.bias", { shape: [1, 6, 1], data: seeded(7, 6, -1, 1) }],
    ]);
    const a = analyse(source, { fileName: "consts.cnn", weights: writeSafetensors(tensors) });
    if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
    const r = exportOnnx(a.graph);
    if (!r.ok) throw new Error(r.errors.join("\n"));
    const feeds = { x: { shape: [1, 3, 6, 5], data: seeded(41, 90) } };
    const ort = await runOrt(r.bytes, feeds);
    const ref = interpret(a.graph, new Map([["x", { shape: [3, 6, 5], data: Float64Array.from(feeds.x.data) }]]));
    for (const [out, want] of ref) expect(relativeError(ort[out].data, want.data), out).toBeLessThan(1e-5);
    // One ONNX op on the initializer per use: Convs only for the network's two convolutions,
    // w's, and pos made a value for concat (ONNX's Concat does not broadcast).
    const d = decodeModel(r.bytes);
    if (!d.ok) throw new Error(d.error);
    const ops = d.model.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === "Conv")).toHaveLength(4);
    expect(ops.filter((o) => o === "Div")).toHaveLength(1);
    expect([...d.model.initializers.keys()].filter((k) => ["pos", "gain", "row.bias"].includes(k)).sort()).toEqual(["gain", "pos", "row.bias"]);
    // Imported back, the constants are named constants again, with their names (sanitised).
    const back = fromOnnx(r.bytes);
    if (!back.ok) throw new Error(back.errors.join("\n"));
    expect(back.source).toMatch(/const pos = f32\[3, 6, 5\] from "pos"/);
    expect(back.source).toMatch(/const row_bias = f32\[1, 6, 1\] from "row_bias" {2}\/\/ ONNX "row\.bias"/);
    const e = await compareWithOrt(r.bytes, feeds, ["reference", "wasm"]);
    expect(e.reference).toBeLessThan(1e-5);
    expect(e.wasm).toBeLessThan(1e-4);
  }, 60_000);

  it("composite ops are their one ONNX operator, not the chains they lower to", () => {
    const a = analyse(NAMED_OPS, { fileName: "namedops.cnn" });
    if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
    const r = exportOnnx(a.graph);
    if (!r.ok) throw new Error(r.errors.join("\n"));
    const d = decodeModel(r.bytes);
    if (!d.ok) throw new Error(d.error);
    const ops = d.model.nodes.map((n) => n.opType);
    const count = (op: string): number => ops.filter((o) => o === op).length;
    expect([count("PRelu"), count("LeakyRelu")]).toEqual([1, 1]);
    expect(count("InstanceNormalization")).toBe(1);
    expect([count("Max"), count("Min"), count("Mean")]).toEqual([1, 1, 1]);
    expect([count("ReduceL2"), count("ReduceMean"), count("ReduceMax"), count("ReduceSum")]).toEqual([1, 1, 1, 1]);
    // Nothing of the chains: no Relu, Neg, Sqrt, Reciprocal, GlobalAveragePool or 1x1 depthwise Conv beyond the network's one conv.
    for (const op of ["Relu", "Neg", "Sqrt", "Reciprocal", "GlobalAveragePool", "AveragePool", "LpPool"]) expect(count(op), op).toBe(0);
    expect(count("Conv")).toBe(1);
    // The slope and the scale keep the layer's names; ONNX's layouts: PRelu [C, 1, 1], scale and B [C].
    expect(d.model.initializers.get("act.weight")?.dims).toEqual([4, 1, 1]);
    expect(d.model.initializers.get("norm.weight")?.dims).toEqual([4]);
    expect(d.model.initializers.get("norm.bias")?.dims).toEqual([4]);
  });

  it("layers without an ONNX operator are refused by name", () => {
    for (const [file, layer, kind] of [["face_local", "parts", "local"], ["tiled", "t1", "tiled"], ["maxout", "h.1", "maxout"]]) {
      const a = analyse(readFileSync(`examples/${file}.cnn`, "utf8"), { fileName: file });
      const r = exportOnnx(a.graph!);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors[0]).toBe(`layer ${layer}: ${kind} has no ONNX operator`);
    }
  });
});
