import { describe, expect, it } from "vitest";
import { WASM } from "../../compiler/backends/wasm/target.js";
import { WEBGPU } from "../../compiler/backends/wgsl/target.js";
import type { PassContext } from "../../compiler/passes/pass.js";
import type { Target } from "../../compiler/target.js";
import { deadCode } from "../../compiler/passes/dead-code.js";
import { foldBatchnorm } from "../../compiler/passes/fold-batchnorm.js";
import { fuse } from "../../compiler/passes/fuse.js";
import { simplify } from "../../compiler/passes/simplify.js";
import { chooseAlgorithm } from "../../compiler/passes/choose-algorithm.js";
import { context, lowered, runPass, sameMeaning } from "./helpers.js";

const lines = (...xs: string[]) => xs.join("\n");

describe("fold-batchnorm", () => {
  it("folds batch norm into the preceding convolution", () => {
    const g = lowered(`network n(x: f32[2, 6, 6]) -> y {
  y = x |> c: conv(3, 3x3, init: normal(0, 1)) |> bn: batchnorm(eps: 0.001) |> relu
}`);
    // Give the batch norm statistics that are not the identity.
    const w = g.nodes[1].weights;
    const [gamma, beta, mean, variance] = [w.weight, w.bias, w.running_mean, w.running_var];
    if (!gamma || !beta || !mean || !variance) throw new Error("batchnorm without parameters");
    gamma.data.set([0.5, 2, -1]);
    beta.data.set([0.1, -0.2, 0.3]);
    mean.data.set([1, -1, 0.5]);
    variance.data.set([4, 0.25, 1]);
    const r = runPass(foldBatchnorm, g);
    expect(r.before).toBe(lines(
      "network n(%0 x: f32[2, 6, 6]) -> (y = %3)",
      "  %1 = c: conv2d(3, 3x3)(%0) : f32[3, 4, 4]",
      "  %2 = bn: batchnorm(%1) : f32[3, 4, 4]",
      "  %3 = y.2: relu(%2) : f32[3, 4, 4]",
    ));
    expect(r.after).toBe(lines(
      "network n(%0 x: f32[2, 6, 6]) -> (y = %3)",
      "  %2 = c: conv2d(3, 3x3)(%0) : f32[3, 4, 4]",
      "  %3 = y.2: relu(%2) : f32[3, 4, 4]",
    ));
    expect(r.graph.weights.map((w) => w.source.kind)).toEqual(["folded", "folded"]);
  });

  it("folds into a dense layer without a bias, and leaves a shared producer alone", () => {
    const g = lowered(`network n(x: f32[4, 3, 3]) -> (y, z) {
  a = x |> flatten |> d: dense(5, bias: none) |> bn: batchnorm
  b = x |> c: conv(2, 1x1)
  y = b |> batchnorm
  z = b |> relu
}`);
    const r = runPass(foldBatchnorm, g);
    expect(r.after).toContain("%3 = d: dense(5)(%1) : f32[5]");
    expect(r.after).toContain("y.0: batchnorm(%4)");
  });
});

describe("simplify and dead-code", () => {
  it("removes identity activations and chains of views, then what nobody reads", () => {
    const g = lowered(`network n(x: f32[2, 4, 4]) -> y {
  unused = x |> relu
  y = x |> identity |> reshape([8, 4]) |> flatten |> sigmoid
}`);
    const s = runPass(simplify, g);
    expect(s.after).toBe(lines(
      "network n(%0 x: f32[2, 4, 4]) -> (y = %5)",
      "  %1 = unused.0: relu(%0) : f32[2, 4, 4]",
      "  %3 = y.1: reshape([8, 4])(%0) : f32[8, 4]",
      "  %4 = y.2: flatten(%0) : f32[32]",
      "  %5 = y.3: sigmoid(%4) : f32[32]",
    ));
    const d = runPass(deadCode, s.graph);
    expect(d.after).toBe(lines(
      "network n(%0 x: f32[2, 4, 4]) -> (y = %5)",
      "  %4 = y.2: flatten(%0) : f32[32]",
      "  %5 = y.3: sigmoid(%4) : f32[32]",
    ));
  });
});

describe("fuse", () => {
  const lenetish = `network n(x: f32[1, 12, 12]) -> y {
  a = x |> c1: conv(4, 3x3, pad: same) |> relu |> maxpool(2)
  y = a |> flatten |> d: dense(3) |> relu |> softmax
}`;

  it("makes conv + relu + maxpool one kernel, and dense + relu another", () => {
    const r = runPass(fuse, lowered(lenetish));
    expect(r.after).toBe(lines(
      "network n(%0 x: f32[1, 12, 12]) -> (y = %7)",
      "  %3 = c1: conv2d(4, 3x3, pad same)(%0) |> relu |> maxpool2d(2x2, stride 2x2) : f32[4, 6, 6]",
      "  %4 = y.0: flatten(%3) : f32[144]",
      "  %6 = d: dense(3)(%4) |> relu : f32[3]",
      "  %7 = y.3: softmax(%6) : f32[3]",
    ));
  });

  it("absorbs a residual add and the relu after it", () => {
    const g = lowered(`network n(x: f32[4, 6, 6]) -> y {
  h = x |> a: conv(4, 3x3, pad: same) |> relu |> b: conv(4, 3x3, pad: same)
  y = relu(x + h)
}`);
    const r = runPass(fuse, g);
    expect(r.after).toBe(lines(
      "network n(%0 x: f32[4, 6, 6]) -> (y = %5)",
      "  %2 = a: conv2d(4, 3x3, pad same)(%0) |> relu : f32[4, 6, 6]",
      "  %5 = b: conv2d(4, 3x3, pad same)(%2) |> + %0 |> relu : f32[4, 6, 6]",
    ));
  });

  it("absorbs a residual add whose operand is also the convolution's own input", () => {
    // y = a + conv(a): the fused node reads %2 twice, as its input and as the add's operand
    // (the verifier once took both for the add and crashed on a conv with no input).
    const g = lowered(`network n(x: f32[2, 6, 6]) -> y {
  a = x |> c: conv(2, 3x3, pad: same) |> relu
  y = a + (a |> b: conv(2, 3x3, pad: same))
}`);
    const r = runPass(fuse, g);
    expect(r.after).toBe(lines(
      "network n(%0 x: f32[2, 6, 6]) -> (y = %4)",
      "  %2 = c: conv2d(2, 3x3, pad same)(%0) |> relu : f32[2, 6, 6]",
      "  %4 = b: conv2d(2, 3x3, pad same)(%2) |> + %2 : f32[2, 6, 6]",
    ));
    sameMeaning(g, r.graph);
  });

  it("never fuses away a value that someone else reads", () => {
    const g = lowered(`network n(x: f32[1, 6, 6]) -> (y, z) {
  a = x |> c: conv(2, 3x3)
  y = a |> relu
  z = a |> sigmoid
}`);
    const r = runPass(fuse, g);
    expect(r.after).toBe(r.before);
  });

  it("fuses only what the target implements, and nothing with --no-fuse", () => {
    const g = lowered(lenetish);
    const activationOnly: Target = { ...WASM, fuses: (producer, item) => item === "activation" && WASM.fuses(producer, item) };
    expect(runPass(fuse, g, context(activationOnly)).after).toContain("c1: conv2d(4, 3x3, pad same)(%0) |> relu : f32[4, 12, 12]");
    expect(runPass(fuse, g, context(WASM)).after).toContain("c1: conv2d(4, 3x3, pad same)(%0) |> relu |> maxpool2d(2x2, stride 2x2) : f32[4, 6, 6]");
    expect(runPass(fuse, g, context(WASM, false)).after).toBe(runPass(fuse, g, context(WASM, false)).before);
  });

  it("absorbs a residual add before a pool, and activations after the pool", () => {
    const g = lowered(`network n(x: f32[2, 8, 8], r: f32[3, 8, 8]) -> y {
  y = (x |> c: conv(3, 3x3, pad: same) |> tanh) + r |> relu |> avgpool(3, stride: 2, pad: 1, ceil: true) |> sigmoid
}`);
    const r = runPass(fuse, g);
    expect(r.after).toBe(lines(
      "network n(%0 x: f32[2, 8, 8], %1 r: f32[3, 8, 8]) -> (y = %7)",
      "  %7 = c: conv2d(3, 3x3, pad same)(%0) |> tanh |> + %1 |> relu |> avgpool2d(3x3, stride 2x2, ceil) |> sigmoid : f32[3, 5, 5]",
    ));
  });

  it("fuses local, tiled and deconv producers with their pool, 1-D and 3-D", () => {
    const g = lowered(`network n(x: f32[2, 9], v: f32[1, 6, 6, 6]) -> (a, b, c) {
  a = x |> l: local(3, 3) |> relu |> maxpool(2)
  b = v |> t: tiled(2, 3x3x3, tiles: 2x1x2) |> l2pool(2)
  c = x |> d: deconv(2, 3, stride: 2, size: [19]) |> leaky_relu(0.1) |> avgpool(3, stride: 3)
}`);
    const r = runPass(fuse, g);
    expect(r.after).toBe(lines(
      "network n(%0 x: f32[2, 9], %1 v: f32[1, 6, 6, 6]) -> (a = %4, b = %6, c = %9)",
      "  %4 = l: local1d(3, 3)(%0) |> relu |> maxpool1d(2, stride 2) : f32[3, 3]",
      "  %6 = t: tiled3d(2, 3x3x3, tiles 2x1x2)(%1) |> lppool3d(2x2x2, stride 2x2x2) : f32[2, 2, 2, 2]",
      "  %9 = d: deconv1d(2, 3, stride 2, out 19)(%0) |> leaky_relu(0.1) |> avgpool1d(3, stride 3) : f32[2, 6]",
    ));
  });

  it("keeps a pool apart from a convolution that gets a faster algorithm than direct, unless asked for direct", () => {
    // 64 -> 64 channels: Winograd beats direct_simd even with a separate pool pass.
    const g = lowered(`network n(x: f32[64, 32, 32]) -> y {
  y = x |> c: conv(64, 3x3, pad: same) |> relu |> maxpool(2)
}`);
    const apart = lines(
      "network n(%0 x: f32[64, 32, 32]) -> (y = %3)",
      "  %2 = c: conv2d(64, 3x3, pad same)(%0) |> relu : f32[64, 32, 32]",
      "  %3 = y.2: maxpool2d(2x2, stride 2x2)(%2) : f32[64, 16, 16]",
    );
    const fused = lines(
      "network n(%0 x: f32[64, 32, 32]) -> (y = %3)",
      "  %3 = c: conv2d(64, 3x3, pad same)(%0) |> relu |> maxpool2d(2x2, stride 2x2) : f32[64, 16, 16]",
    );
    expect(runPass(fuse, g).after).toBe(apart);
    const direct: PassContext = { ...context(), options: { fuse: true, algorithms: new Map([["c", "direct"]]) } };
    expect(runPass(fuse, g, direct).after).toBe(fused);
    // WebGPU has Winograd too (and no direct_simd): the pool stays apart there as well.
    expect(runPass(fuse, g, context(WEBGPU)).after).toBe(apart);
  });

  it("fuses a tiling pool into a convolution that direct_simd computes faster than its choice plus a pool pass", () => {
    const g = lowered(`network n(x: f32[8, 16, 16]) -> y {
  y = x |> c: conv(8, 3x3, pad: same) |> relu |> maxpool(2)
}`);
    const fused = lines(
      "network n(%0 x: f32[8, 16, 16]) -> (y = %3)",
      "  %3 = c: conv2d(8, 3x3, pad same)(%0) |> relu |> maxpool2d(2x2, stride 2x2) : f32[8, 8, 8]",
    );
    expect(runPass(fuse, g).after).toBe(fused);
    // Asked for Winograd, the pool stays apart.
    const winograd: PassContext = { ...context(), options: { fuse: true, algorithms: new Map([["c", "winograd4"]]) } };
    expect(runPass(fuse, g, winograd).after).toBe(lines(
      "network n(%0 x: f32[8, 16, 16]) -> (y = %3)",
      "  %2 = c: conv2d(8, 3x3, pad same)(%0) |> relu : f32[8, 16, 16]",
      "  %3 = y.2: maxpool2d(2x2, stride 2x2)(%2) : f32[8, 8, 8]",
    ));
  });

  it("leaves a residual computed after the producer, and anything after a pool but activations, unfused", () => {
    const g = lowered(`network n(x: f32[2, 6, 6]) -> y {
  h = x |> a: conv(2, 3x3, pad: same) |> maxpool(2)
  y = h + (x |> b: conv(2, 3x3, stride: 2, pad: same))
}`);
    const r = runPass(fuse, g);
    expect(r.after).toBe(lines(
      "network n(%0 x: f32[2, 6, 6]) -> (y = %4)",
      "  %2 = a: conv2d(2, 3x3, pad same)(%0) |> maxpool2d(2x2, stride 2x2) : f32[2, 3, 3]",
      "  %4 = b: conv2d(2, 3x3, stride 2x2, pad same)(%0) |> + %2 : f32[2, 3, 3]",
    ));
  });
});

describe("choose-algorithm", () => {
  it("records a choice and its reason on every convolution", () => {
    const r = runPass(chooseAlgorithm, lowered(`network n(x: f32[1, 8, 8]) -> y {
  y = x |> c: conv(2, 3x3) |> relu
}`), context(WASM));
    expect(r.after).toContain("c: conv2d(2, 3x3)(%0) : f32[2, 6, 6] @direct");
    expect(r.graph.nodes[0].algorithm?.reason).toBeTruthy();
  });
});
