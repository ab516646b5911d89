// The ops added for ONNX import (clip, hardsigmoid, hardswish, elu, slice, log_softmax, pad, resize, transpose, matmul, - and /), written in
// `.cnn`, fused and unfused, on WebAssembly and WebGPU against the float64 reference
// (1e-4 relative to max(1, |ref|)); WebGPU is skipped without an adapter (not in CI).

import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import { relativeError } from "../relative-error.js";

const adapter = await testAdapter();
const gpu = Boolean(adapter || process.env.CI);

const NETWORKS: Record<string, string> = {
  activations: `network a(x: f32[3, 9, 8]) -> (c, hs, hg, e) {
    c = x |> clip(-0.25, 0.5)
    hs = x |> hardswish
    hg = x |> hardsigmoid(0.1666666716337204, 0.5)
    e = x |> elu(0.7)
  }`,
  fused: `network f(x: f32[3, 12, 12]) -> y {
    a = x |> conv(8, 3, pad: same) |> clip(0, 6)
    b = a |> depthwise(3, pad: same) |> hardswish
    s = b |> avgpool(out: 1) |> conv(8, 1) |> hardsigmoid(0.2, 0.5)
    y = (s * b) |> conv(4, 1) |> elu(1)
  }`,
  slices: `network s(x: f32[6, 7, 5]) -> (a, b, c, d) {
    a = x |> slice(1, 5) |> relu
    b = x |> slice(-4, axis: 1, step: 2)
    c = x |> conv(4, 3) |> slice(0, 2, axis: 2)
    d = (x |> slice(0, 3)) + (x |> slice(3, 6))
  }`,
  unary: `network u(x: f32[3, 7, 6]) -> (a, b, c, d) {
    a = x |> exp |> log |> abs |> neg
    b = x |> exp |> sqrt |> reciprocal |> pow(1.5)
    c = x |> conv(4, 3) |> selu |> pow(2)
    d = x |> conv(2, 1) |> pow(3) |> abs
  }`,
  logsoftmax: `network l(x: f32[5, 6, 4]) -> (a, b) {
    a = x |> conv(7, 3) |> log_softmax |> neg
    b = x |> flatten |> dense(9) |> log_softmax
  }`,
  pads: `network p(x: f32[3, 7, 6], v: f32[2, 9], w: f32[2, 3, 4, 5]) -> (a, b, c, d, e) {
    a = x |> pad(2, mode: reflect) |> relu
    b = x |> conv(4, 3) |> pad([[1, 3], [0, 2]], mode: edge) |> tanh
    c = x |> pad([1, [2, 0]], mode: constant, value: -1.5) |> maxpool(2)
    d = v |> pad([[3, 1]], mode: reflect) |> pad(2)
    e = w |> pad([1, [0, 2], 2], mode: edge) |> sigmoid
  }`,
  resizes: `network r(x: f32[3, 7, 6], v: f32[2, 9], w: f32[2, 3, 4, 5]) -> (a, b, c, d, e, f) {
    a = x |> resize(2, mode: linear) |> relu
    b = x |> conv(4, 3) |> resize(size: [9, 2], mode: linear, coord: align_corners) |> tanh
    c = x |> resize([1.5, 0.5], round: round_prefer_ceil, coord: half_pixel)
    d = v |> resize(2.5, mode: linear, coord: pytorch_half_pixel)
    e = w |> resize(size: [5, 7, 3], mode: linear, coord: asymmetric) |> sigmoid
    f = w |> resize([2, 1, 0.5], round: simple)
  }`,
  subdiv: `network d(x: f32[3, 7, 6], v: f32[12]) -> (a, b, c) {
    a = (x |> conv(4, 3)) - (x |> conv(4, 3) |> relu) / ((x |> conv(4, 3) |> sigmoid) + (x |> conv(4, 3) |> sigmoid))
    b = x - (x |> avgpool(out: 1)) / (x |> maxpool(out: 1) |> exp)
    c = (v |> dense(5)) - (v |> dense(5) |> tanh) / (v |> dense(5) |> exp)
  }`,
  transposes: `network t(x: f32[3, 7, 6], v: f32[2, 9], w: f32[2, 3, 4, 5]) -> (a, b, c, d) {
    a = x |> transpose([2, 0, 1]) |> conv(4, 3) |> relu
    b = x |> conv(4, 3) |> transpose([0, 2, 1]) |> tanh
    c = v |> transpose([1, 0])
    d = w |> transpose([3, 1, 0, 2]) |> sigmoid
  }`,
  matmuls: `network m(x: f32[3, 7, 6], v: f32[5, 4]) -> (a, b, c) {
    a = matmul(x |> conv(4, 3) |> relu, x |> conv(4, 3) |> transpose([0, 2, 1])) |> tanh
    b = v |> matmul(v |> transpose([1, 0]))
    c = matmul(x |> reshape([21, 6]), x |> reshape([6, 21]) |> sigmoid)
  }`,
  flat: `network h(v: f32[12]) -> y {
    y = v |> dense(8) |> hardswish |> slice(2, 7) |> dense(3) |> softmax
  }`,
};

describe("new ops: backends equal the reference", () => {
  for (const [name, src] of Object.entries(NETWORKS)) {
    for (const fuse of [true, false]) {
      it(`${name}${fuse ? "" : " (no fusion)"}`, async () => {
        const r = compile(src, { fileName: `${name}.cnn`, target: gpu ? "all" : "wasm", fuse });
        if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
        const inputs = r.graph.inputs.map((io, i) => {
          const shape = evalDims(r.graph.values[io.value].shape, {});
          return { name: io.name, shape, data: initialise({ kind: "uniform", low: -4, high: 4, seed: 50 + i }, shape, 1, 1) };
        });
        const ref = interpret(r.source, new Map(inputs.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data) }])));
        for (const backend of gpu ? (["wasm", "webgpu"] as const) : (["wasm"] as const)) {
          const net = await r.load({ backend });
          try {
            const got = await net.run(Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, shape: t.shape }])));
            for (const [out, want] of ref) {
              const y = got[out];
              expect(y.shape).toEqual([1, ...want.shape]);
              expect(relativeError(y.data, want.data), `${backend} ${out}`).toBeLessThan(1e-4);
            }
          } finally {
            net.dispose();
          }
        }
      }, 60_000);
    }
  }
});
