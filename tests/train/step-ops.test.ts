// Channel concat and same-shaped elementwise products (gating) in the compiled training steps:
// the forward kernels and their gradients (slice_channels: each input's run of dy; mul_grad:
// dy times the other operand) on WebAssembly and WebGPU, against the reference's gradients
// (itself held to finite differences in grad-ops.test.ts), on seeded random networks with
// branches concatenated (inception-like), a gate x * sigmoid(conv(x)), a value multiplied by
// itself, and concat feeding a residual add; and broadcasting adds and products (channel-first:
// [C, 1, 1] and rank-1 [C] operands, and two operands repeated along different axes), whose
// gradients sum dy back down to each operand's shape (unbroadcast, mul_grad); and maxout, whose
// gradient goes to each group's first largest channel (ties after a relu included); and the
// Lp and Gaussian pools (padded, strided, dilated), whose gradients the reference defines in
// reference/grad/pool-grad.ts; adaptive pools (their regions as taps, uneven sizes included);
// locally connected and tiled layers with their location and tiled biases; transposed
// convolutions (the transpose of a conv: its input gradient forward, its forward backward);
// batch norm on its running statistics (`batchnorm = running`; the batch's statistics are
// batchnorm-batch.test.ts's); and the activations beyond the common six (clip, hardsigmoid,
// hardswish, selu, abs, neg and pow with whole exponents on signed values; exp, log, sqrt,
// reciprocal and pow with fractional exponents on positive ones, after sigmoid or exp), each
// with values on both sides of its kinks but none on one; slice, pad and resize (their
// gradients gather dy back along the forward's reads) and log_softmax. The last test checks that nothing
// autodiff differentiates lacks a kernel, and that a step lacking one would name it.

import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/index.js";
import { autodiff, type LossName } from "../../compiler/train/autodiff.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER } from "../../compiler/train/optim.js";
import { referenceBatch } from "../../compiler/train/reference-batch.js";
import { WasmTrainer } from "../../compiler/train/wasm-trainer.js";
import { WebGpuTrainer } from "../../compiler/train/webgpu-trainer.js";
import { unsupportedOps as wasmMissing } from "../../compiler/backends/wasm/grad-module.js";
import { unsupportedOps as gpuMissing } from "../../compiler/backends/wgsl/grad-module.js";
import type { TrainGraph } from "../../compiler/train/graph.js";
import { unsupportedStepOps } from "../../compiler/train/step-coverage.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import { relativeError } from "../relative-error.js";
import { rng, seedWeights, trainGraphOf } from "./helpers.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;

const B = 3;

const NETWORKS: [string, string, LossName, number][] = [
  [
    "slices (channels, strided rows, columns), pads (reflect, edge, constant) and linear resizes into a log_softmax",
    `network n(x: f32[3, 7, 6]) -> y {
  a = x |> c1: conv(4, 3x3, pad: same) |> relu
  s = a |> slice(1, 3) |> pad(1, mode: reflect)
  t = a |> slice(0, 6, axis: 1, step: 2) |> pad([[0, 2], 1], mode: edge) |> slice(2, 8, axis: 2)
  u = a |> pad([2, 0], mode: constant, value: -1) |> c2: conv(2, 3x3)
  y = concat(s |> c3: conv(2, 3x3) |> resize(size: [7, 4], mode: linear, coord: align_corners), t |> c4: conv(2, 3x3, pad: same) |> resize(size: [7, 4], mode: linear), u |> slice(0, 7, axis: 1)) |> log_softmax
}`,
    "mse",
    0,
  ],
  [
    "nearest upsampling, a fractional linear resize, edge padding and a log_softmax classifier head",
    `network n(x: f32[2, 5, 4]) -> y {
  h = x |> c1: conv(3, 3x3, pad: same) |> tanh |> resize(2) |> c2: conv(2, 3x3, stride: 2) |> resize([1.5, 0.5], mode: linear)
  y = h |> pad(1, mode: edge) |> flatten |> fc: dense(4) |> log_softmax
}`,
    "mse",
    0,
  ],
  [
    "inception-like branches",
    `network n(x: f32[2, 9, 8]) -> y {
  a = x |> c1: conv(3, 3x3, pad: same) |> relu
  b = x |> c2: conv(2, 1x1) |> tanh
  c = x |> maxpool(3x3, stride: 1, pad: same)
  y = concat(a, b, c) |> c3: conv(4, 3x3, stride: 2) |> relu |> flatten |> fc: dense(5) |> softmax
}`,
    "cross_entropy",
    5,
  ],
  [
    "a sigmoid gate and a square",
    `network n(x: f32[3, 8, 8]) -> y {
  h = x |> c1: conv(4, 3x3, pad: same)
  g = x |> c2: conv(4, 1x1) |> sigmoid
  s = h * g
  y = s * s + h |> c3: conv(2, 3x3)
}`,
    "mse",
    0,
  ],
  [
    "concat into a residual add",
    `network n(x: f32[4, 6, 6]) -> y {
  a = x |> c1: conv(2, 3x3, pad: same) |> relu
  b = x |> c2: conv(2, 3x3, pad: same, dilation: 2)
  y = concat(a, b) + x |> relu |> c3: conv(3, 1x1)
}`,
    "mse",
    0,
  ],
];

// Broadcasting: a squeeze-and-excitation-like gate ([C, 1, 1] from a whole-image conv), a
// rank-1 gate from a dense layer (lined up with the channels), and [C, 1, W] with [C, H, 1].
NETWORKS.push(
  [
    "a broadcast [C, 1, 1] gate and bias",
    `network n(x: f32[3, 5, 5]) -> y {
  h = x |> c1: conv(4, 3x3, pad: same) |> relu
  s = h |> c2: conv(4, 5x5) |> sigmoid
  t = x |> c3: conv(4, 5x5)
  y = h * s + t |> c4: conv(2, 3x3)
}`,
    "mse",
    0,
  ],
  [
    "a rank-1 gate from a dense layer",
    `network n(x: f32[2, 6, 6]) -> y {
  h = x |> c1: conv(3, 3x3) |> tanh
  g = x |> flatten |> fc: dense(3) |> sigmoid
  y = g * h + g |> flatten |> out: dense(4) |> softmax
}`,
    "cross_entropy",
    4,
  ],
  [
    "maxout, after a conv and after a relu (ties at 0)",
    `network n(x: f32[2, 7, 7]) -> y {
  h = x |> c1: conv(6, 3x3) |> maxout(3)
  r = x |> c2: conv(4, 3x3) |> relu |> maxout(2)
  y = concat(h, r) |> c3: conv(3, 3x3) |> flatten |> fc: dense(3) |> softmax
}`,
    "cross_entropy",
    3,
  ],
  [
    "Lp pools (p = 2, 3 and 1, padded) and Gaussian pools",
    `network n(x: f32[2, 8, 8]) -> y {
  h = x |> c1: conv(3, 3x3, pad: same)
  a = h |> l2pool(2x2)
  b = h |> lppool(3x3, p: 3, stride: 2, pad: 1)
  c = h |> lppool(2x2, p: 1)
  d = h |> gausspool(3x3, sigma: 1.5, stride: 2, pad: 1)
  e = h |> gausspool(2x2, sigma: 0.8, dilation: 2, stride: 2, ceil: true)
  y = concat(a, b, c, d, e) |> c2: conv(2, 3x3) |> flatten |> fc: dense(3) |> softmax
}`,
    "cross_entropy",
    3,
  ],
  [
    "adaptive pools: a global average gate, uneven regions, max and avg",
    `network n(x: f32[2, 7, 7]) -> y {
  h = x |> c1: conv(4, 3x3, pad: same) |> relu
  s = h |> avgpool(out: 1) |> sigmoid
  g = h * s
  a = g |> maxpool(out: 3x2)
  b = g |> avgpool(out: 3x2)
  y = concat(a, b) |> flatten |> fc: dense(3) |> softmax
}`,
    "cross_entropy",
    3,
  ],
  [
    "locally connected layers (location bias, none, strided, padded, dilated)",
    `network n(x: f32[2, 7, 6]) -> y {
  h = x |> l1: local(3, 3x3, pad: 1) |> relu
  g = h |> l2: local(2, 2x2, stride: 2, bias: none)
  k = x |> l3: local(2, 3x2, dilation: 2)
  y = concat(g |> flatten, k |> flatten) |> fc: dense(3) |> softmax
}`,
    "cross_entropy",
    3,
  ],
  [
    "tiled layers (tiled bias, none, uneven tiles, strided)",
    `network n(x: f32[2, 7, 7]) -> y {
  h = x |> t1: tiled(3, 3x3, tiles: 2x3, pad: same) |> tanh
  y = h |> t2: tiled(2, 2x2, tiles: 2x2, stride: 2, bias: none) |> t3: tiled(2, 1x1, tiles: 3x1)
}`,
    "mse",
    0,
  ],
  [
    "transposed convolutions (strided, padded, grouped, dilated; channel bias and none)",
    `network n(x: f32[4, 5, 5]) -> y {
  e = x |> c1: conv(4, 3x3, stride: 2, pad: 1) |> relu
  d = e |> d1: deconv(4, 3x3, stride: 2, pad: 1, like: x)
  g = x |> d2: deconv(2, 2x2, groups: 2, dilation: 2, bias: none, size: 7x7)
  y = concat((d + x) |> c2: conv(2, 3x3) |> flatten, g |> flatten) |> fc: dense(3) |> softmax
}`,
    "cross_entropy",
    3,
  ],
  [
    "batch norm on its running statistics (frozen), after a conv and on a dense layer's output",
    `network n(x: f32[3, 6, 6]) -> y {
  h = x |> c1: conv(4, 3x3, pad: same) |> bn1: batchnorm |> relu
  y = h |> flatten |> fc: dense(5) |> bn2: batchnorm |> softmax
}`,
    "cross_entropy",
    5,
  ],
  [
    "rows and columns repeated",
    `network n(x: f32[2, 4, 6]) -> y {
  h = x |> c1: conv(2, 3x3, pad: same)
  r = h |> maxpool(4x1)
  c = h |> avgpool(1x6)
  y = r + c + h * r * c |> c2: conv(3, 1x1)
}`,
    "mse",
    0,
  ],
);

// The other activations. The first network's values are signed: clip's and hardsigmoid's
// bounds sit inside their range, and hardswish takes a cube, whose values pass -3 and 3; pow(3)
// and pow(4) differentiate to even and odd whole powers of a signed base (WGSL takes |v| and the
// sign). The second's are positive where the function needs them: sigmoid's (0, 1) and exp's.
NETWORKS.push(
  [
    "clip, hardsigmoid, hardswish, selu, abs, neg and whole powers, on signed values",
    `network n(x: f32[2, 6, 6]) -> y {
  h = x |> c1: conv(6, 3x3, pad: same)
  a = h |> clip(-0.5, 0.5)
  b = h |> hardsigmoid(0.5, 0.5)
  c = h |> pow(3) |> hardswish
  d = h |> selu |> abs
  e = h |> neg |> pow(4)
  f = h |> pow(2)
  y = concat(a, b, c, d, e, f) |> c2: conv(2, 3x3)
}`,
    "mse",
    0,
  ],
  [
    "exp, log, sqrt, reciprocal and fractional powers, on positive values",
    `network n(x: f32[2, 6, 6]) -> y {
  h = x |> c1: conv(4, 3x3, pad: same)
  p = h |> sigmoid
  q = h |> exp
  a = p |> log
  b = q |> sqrt
  c = p |> reciprocal
  d = p |> pow(2.5)
  e = q |> pow(-0.5)
  y = concat(a, b, c, d, e) |> flatten |> fc: dense(3) |> softmax
}`,
    "cross_entropy",
    3,
  ],
);

/** The batch, and the reference's gradients of its mean loss. */
function reference(tg: TrainGraph, seed: number, classes: number) {
  const r = rng(seed);
  const input = tg.forward.inputs[0];
  const shape = tg.values[input.value].shape as number[];
  const n = shape.reduce((p, d) => p * d, 1);
  const t = tg.targetShape.reduce((p, d) => p * d, 1);
  const images = Float32Array.from({ length: B * n }, () => r.next() * 2 - 1);
  const labels = classes ? Float64Array.from({ length: B * t }, () => r.int(0, classes - 1)) : Float64Array.from({ length: B * t }, () => Math.fround(r.next() * 2 - 1));
  const samples = Array.from({ length: B }, (_, b) => new Map([[input.name, { shape, data: Float64Array.from(images.subarray(b * n, (b + 1) * n)) }]]));
  const targets = Array.from({ length: B }, (_, b) => ({ shape: [...tg.targetShape], data: labels.slice(b * t, (b + 1) * t) }));
  const want = referenceBatch(tg, samples, targets, new Map(tg.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }])));
  return { batch: { count: B, images, labels }, want };
}

function expectSame(got: ReadonlyMap<unknown, Float32Array>, want: ReturnType<typeof reference>["want"], tol: number): void {
  expect(got.size).toBe(want.gradients.size);
  for (const [w, g] of want.gradients) {
    // The steps' sums are over the samples; the reference's gradient is of the mean loss.
    const err = relativeError((got.get(w) as Float32Array).map((v) => v / B), g.data);
    if (err > tol) expect.fail(`${w.name}: relative error ${err}`);
  }
}

describe("the compiled training steps' other ops: concat, mul, broadcasting, maxout, the pools, local, tiled and transposed layers, frozen batch norm, every activation", () => {
  for (const [name, source, loss, classes] of NETWORKS) {
    it(`WebAssembly: ${name}, 3 seeds`, async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const tg = trainGraphOf(source, loss);
        expect(wasmMissing(tg)).toEqual([]);
        seedWeights(tg, seed);
        const { batch, want } = reference(tg, seed, classes);
        const got = (await WasmTrainer.create(tg, DEFAULT_OPTIMISER)).probe(batch);
        expectSame(got.gradients, want, 2e-5);
      }
    });

    gpuIt(`WebGPU: ${name}, 3 seeds`, async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const tg = trainGraphOf(source, loss);
        expect(gpuMissing(tg)).toEqual([]);
        seedWeights(tg, seed);
        const { batch, want } = reference(tg, seed, classes);
        const trainer = await WebGpuTrainer.create(tg, DEFAULT_OPTIMISER);
        try {
          expectSame((await trainer.probe(batch)).gradients, want, 1e-4);
        } finally {
          trainer.dispose();
        }
      }
    });
  }

  it("every op autodiff differentiates has kernels on both steps; a step lacking one would name it", () => {
    const src = `network n(x: f32[2, 6, 6]) -> y {\n  y = x |> c: conv(4, 3x3, pad: same) |> bn: batchnorm |> relu |> maxpool(2x2) |> lppool(2x2, p: 2) |> flatten\n}\n`;
    const a = analyse(src, { fileName: "n.cnn" });
    if (!a.graph) throw new Error("does not analyse");
    const tg = autodiff(a.graph, { loss: "mse", batchStatistics: true });
    expect(wasmMissing(tg)).toEqual([]);
    expect(gpuMissing(tg)).toEqual([]);
    // The table compile-training.ts names missing kernels from (and `auto` falls back on).
    expect(unsupportedStepOps(tg, { pool: (op) => op.mode === "max", activation: () => false, batchStatistics: false }).sort()).toEqual(["activation relu", "batch norm in training mode", "gradient of relu", "lp pooling", "lp pooling gradient"]);
    const r = compileTraining(src, { fileName: "n.cnn", backend: "auto" });
    expect(r.ok && r.backend).toBe("wasm");
  });
});
