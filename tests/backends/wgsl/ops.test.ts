// Every op, in every family and attribute, compiled to WGSL and run on WebGPU (Dawn: a GPU if
// there is one, else Mesa's llvmpipe through OpenGL ES in compatibility mode) equals the
// float64 reference to 1e-4 relative (max abs diff / max(1, max abs ref)): f32 arithmetic
// and the GPU's exp/pow (a few ulp) against the reference's float64, on small tensors.
// In CI a missing adapter fails the tests; locally they are skipped without one.

import { describe, expect, it } from "vitest";
import type { Dim } from "../../../compiler/ir/dim.js";
import type { ActivationFn, ConvOp, DeconvOp, LocalOp, Op, PadSpec, PoolOp, TiledOp } from "../../../compiler/ir/ops.js";
import type { Epilogue } from "../../../compiler/plan/plan.js";
import { executorFor, oneStepPlan, randomData, referenceOf, relError, runOnWebGpu, testAdapter } from "./plan-helper.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;
const TOLERANCE = 1e-4;

const valid: PadSpec = { kind: "valid" };
const same: PadSpec = { kind: "same" };
const full: PadSpec = { kind: "full" };
const explicit = (before: number[], after: number[]): PadSpec => ({ kind: "explicit", before, after });

function conv(filters: number, kernel: number[], o: Partial<Omit<ConvOp, "kind" | "filters" | "kernel">> = {}): ConvOp {
  const d = kernel.length;
  return {
    kind: "conv",
    filters,
    kernel,
    stride: o.stride ?? new Array<number>(d).fill(1),
    dilation: o.dilation ?? new Array<number>(d).fill(1),
    pad: o.pad ?? valid,
    groups: o.groups ?? 1,
    flip: o.flip ?? false,
    bias: o.bias ?? "channel",
  };
}

function pool(mode: PoolOp["mode"], window: number[], o: Partial<Omit<PoolOp, "kind" | "mode" | "window">> = {}): PoolOp {
  const d = window.length;
  return {
    kind: "pool",
    mode,
    window,
    stride: o.stride ?? window,
    dilation: o.dilation ?? new Array<number>(d).fill(1),
    pad: o.pad ?? valid,
    ceil: o.ceil ?? false,
    countPad: o.countPad ?? false,
    p: o.p ?? 2,
    sigma: o.sigma ?? 1,
  };
}

function local(filters: number, kernel: number[], o: Partial<Omit<LocalOp, "kind" | "filters" | "kernel">> = {}): LocalOp {
  const d = kernel.length;
  return {
    kind: "local",
    filters,
    kernel,
    stride: o.stride ?? new Array<number>(d).fill(1),
    dilation: o.dilation ?? new Array<number>(d).fill(1),
    pad: o.pad ?? valid,
    bias: o.bias ?? "location",
  };
}

function tiled(filters: number, kernel: number[], tiles: number[], o: Partial<Omit<TiledOp, "kind" | "filters" | "kernel" | "tiles">> = {}): TiledOp {
  const d = kernel.length;
  return {
    kind: "tiled",
    filters,
    kernel,
    tiles,
    stride: o.stride ?? new Array<number>(d).fill(1),
    dilation: o.dilation ?? new Array<number>(d).fill(1),
    pad: o.pad ?? valid,
    bias: o.bias ?? "tiled",
  };
}

function deconv(filters: number, kernel: number[], out: number[], o: Partial<Omit<DeconvOp, "kind" | "filters" | "kernel" | "out">> = {}): DeconvOp {
  const d = kernel.length;
  return {
    kind: "deconv",
    filters,
    kernel,
    out,
    stride: o.stride ?? new Array<number>(d).fill(1),
    dilation: o.dilation ?? new Array<number>(d).fill(1),
    pad: o.pad ?? valid,
    groups: o.groups ?? 1,
    bias: o.bias ?? "channel",
  };
}

const act = (fn: ActivationFn, alpha = 0): Op => ({ kind: "activation", fn, alpha });
const epi = (fn: ActivationFn, alpha = 0): Epilogue => ({ kind: "activation", fn, alpha });

interface Case {
  readonly name: string;
  readonly op: Op;
  readonly shapes: number[][];
  readonly epilogue?: Epilogue[];
  /** Input magnitude (large values test overflow-safe formulas). */
  readonly scale?: number;
}

const cases: Case[] = [
  // Convolution: 1-D, 2-D, 3-D; stride, every padding form, dilation, groups, flip, bias kinds.
  { name: "conv 1-D valid", op: conv(3, [3]), shapes: [[2, 11]] },
  { name: "conv 1-D stride 2 same dilation 2", op: conv(4, [3], { stride: [2], pad: same, dilation: [2] }), shapes: [[3, 13]] },
  { name: "conv 2-D same", op: conv(3, [3, 3], { pad: same }), shapes: [[2, 6, 7]] },
  { name: "conv 2-D full", op: conv(2, [2, 3], { pad: full }), shapes: [[2, 5, 4]] },
  { name: "conv 2-D explicit padding", op: conv(2, [3, 2], { pad: explicit([1, 0], [2, 1]) }), shapes: [[1, 5, 6]] },
  { name: "conv 2-D stride 2x1 dilation 1x2", op: conv(3, [3, 3], { stride: [2, 1], dilation: [1, 2], pad: same }), shapes: [[2, 9, 8]] },
  { name: "conv 2-D same stride 2 (odd pixel after)", op: conv(2, [4, 3], { stride: [2, 2], pad: same }), shapes: [[2, 7, 6]] },
  { name: "conv 2-D groups 2", op: conv(6, [3, 3], { groups: 2, pad: same }), shapes: [[4, 5, 5]] },
  { name: "conv 2-D depthwise (groups = channels, multiplier 2)", op: conv(6, [3, 3], { groups: 3 }), shapes: [[3, 6, 6]] },
  { name: "conv 2-D flip (true convolution)", op: conv(2, [3, 2], { flip: true, pad: same }), shapes: [[2, 5, 6]] },
  { name: "conv 2-D flip 3-D kernel", op: conv(2, [2, 3, 2], { flip: true }), shapes: [[1, 4, 5, 4]] },
  { name: "conv 2-D bias per location", op: conv(3, [3, 3], { bias: "location" }), shapes: [[2, 6, 5]] },
  { name: "conv 2-D no bias", op: conv(3, [1, 1], { bias: "none" }), shapes: [[4, 3, 3]] },
  { name: "conv 3-D same stride 2", op: conv(3, [3, 2, 2], { stride: [2, 2, 1], pad: same }), shapes: [[2, 5, 6, 4]] },
  { name: "conv 3-D dilation, explicit padding", op: conv(2, [2, 2, 2], { dilation: [2, 1, 2], pad: explicit([1, 0, 1], [0, 1, 1]) }), shapes: [[2, 5, 4, 5]] },
  { name: "conv + relu epilogue", op: conv(4, [3, 3], { pad: same }), shapes: [[2, 6, 6]], epilogue: [epi("relu")] },
  { name: "conv + leaky_relu + tanh epilogue", op: conv(3, [3]), shapes: [[2, 9]], epilogue: [epi("leaky_relu", 0.2), epi("tanh")] },
  // Residual connections fused into the producer: relu(conv(x) + r).
  { name: "conv + residual add + relu epilogue", op: conv(3, [3, 3], { pad: same }), shapes: [[2, 5, 6], [3, 5, 6]], epilogue: [{ kind: "add", input: 1 }, epi("relu")] },
  { name: "dense (cooperative) + residual add", op: { kind: "dense", units: 5, bias: "channel" }, shapes: [[300], [5]], epilogue: [{ kind: "add", input: 1 }] },
  { name: "pool + residual add", op: pool("avg", [2, 2]), shapes: [[2, 6, 6], [2, 3, 3]], epilogue: [{ kind: "add", input: 1 }, epi("tanh")] },

  // Locally connected, tiled and transposed convolution, batch norm, maxout.
  { name: "local 2-D", op: local(3, [3, 3]), shapes: [[2, 6, 5]] },
  { name: "local 1-D stride 2 same, no bias", op: local(2, [3], { stride: [2], pad: same, bias: "none" }), shapes: [[3, 9]] },
  { name: "local 3-D dilation", op: local(2, [2, 2, 2], { dilation: [1, 2, 1] }), shapes: [[2, 4, 5, 3]] },
  { name: "tiled 2-D 2x2 tiles", op: tiled(3, [3, 3], [2, 2]), shapes: [[2, 7, 6]] },
  { name: "tiled 1-D 3 tiles same stride 2, no bias", op: tiled(2, [3], [3], { stride: [2], pad: same, bias: "none" }), shapes: [[2, 13]] },
  { name: "tiled 3-D", op: tiled(2, [2, 2, 2], [2, 1, 2]), shapes: [[1, 4, 4, 5]] },
  { name: "deconv 2-D stride 2", op: deconv(3, [3, 3], [9, 9], { stride: [2, 2] }), shapes: [[2, 4, 4]] },
  { name: "deconv 2-D same stride 2 (size 8)", op: deconv(2, [3, 3], [8, 7], { stride: [2, 2], pad: same }), shapes: [[3, 4, 4]] },
  { name: "deconv 1-D dilation 2 padding, groups 2", op: deconv(4, [3], [12], { dilation: [2], pad: explicit([1], [2]), groups: 2 }), shapes: [[4, 11]] },
  { name: "deconv 3-D stride 2, no bias", op: deconv(2, [2, 2, 2], [6, 4, 5], { stride: [2, 2, 2], bias: "none" }), shapes: [[2, 3, 2, 2]] },
  { name: "deconv full padding + relu", op: deconv(2, [3, 2], [4, 5], { pad: full }), shapes: [[2, 6, 6]], epilogue: [epi("relu")] },
  { name: "batchnorm 2-D", op: { kind: "batchnorm", eps: 1e-5 }, shapes: [[4, 5, 6]] },
  { name: "batchnorm flat [C]", op: { kind: "batchnorm", eps: 1e-3 }, shapes: [[7]] },
  { name: "maxout 2", op: { kind: "maxout", k: 2 }, shapes: [[6, 4, 5]] },
  { name: "maxout 3 1-D", op: { kind: "maxout", k: 3 }, shapes: [[6, 7]], epilogue: [epi("sigmoid")] },

  // Pooling: every mode, stride, padding, dilation, ceil, countPad; 1-D, 2-D, 3-D.
  { name: "maxpool 2x2", op: pool("max", [2, 2]), shapes: [[2, 6, 7]] },
  { name: "maxpool 3x3 stride 2 same (padding never wins)", op: pool("max", [3, 3], { stride: [2, 2], pad: same }), shapes: [[2, 7, 7]], scale: 1 },
  { name: "maxpool all-negative input with padding", op: pool("max", [3], { stride: [1], pad: explicit([1], [1]) }), shapes: [[1, 6]] },
  { name: "maxpool ceil mode", op: pool("max", [2, 2], { ceil: true }), shapes: [[1, 5, 7]] },
  { name: "maxpool dilation 2", op: pool("max", [2, 2], { stride: [1, 1], dilation: [2, 2] }), shapes: [[2, 6, 6]] },
  { name: "maxpool 1-D", op: pool("max", [3], { stride: [2] }), shapes: [[3, 10]] },
  { name: "maxpool 3-D ceil", op: pool("max", [2, 2, 2], { ceil: true }), shapes: [[2, 5, 4, 3]] },
  { name: "avgpool 2x2", op: pool("avg", [2, 2]), shapes: [[2, 6, 6]] },
  { name: "avgpool padding (real elements only)", op: pool("avg", [3, 3], { stride: [2, 2], pad: explicit([1, 1], [1, 1]) }), shapes: [[2, 5, 6]] },
  { name: "avgpool countPad", op: pool("avg", [3, 3], { stride: [2, 2], pad: explicit([1, 1], [1, 1]), countPad: true }), shapes: [[2, 5, 6]] },
  { name: "avgpool countPad ceil (overhang not counted)", op: pool("avg", [3, 3], { stride: [2, 2], pad: explicit([1, 0], [1, 0]), ceil: true, countPad: true }), shapes: [[1, 6, 6]] },
  { name: "avgpool ceil dilation 3-D", op: pool("avg", [2, 2, 2], { stride: [2, 2, 2], dilation: [1, 2, 1], ceil: true }), shapes: [[1, 5, 6, 5]] },
  { name: "avgpool 1-D dilation 3 padding", op: pool("avg", [3], { stride: [2], dilation: [3], pad: explicit([1], [1]) }), shapes: [[2, 11]] },
  { name: "l2pool", op: pool("lp", [2, 2], { p: 2 }), shapes: [[2, 6, 6]] },
  { name: "lppool p=3 padding", op: pool("lp", [3, 3], { p: 3, stride: [2, 2], pad: same }), shapes: [[2, 7, 5]] },
  { name: "lppool p=1 1-D", op: pool("lp", [3], { p: 1, stride: [1] }), shapes: [[2, 8]] },
  { name: "gausspool 3x3 stride 1 same", op: pool("gauss", [3, 3], { stride: [1, 1], pad: same, sigma: 1.0 }), shapes: [[2, 6, 6]] },
  { name: "gausspool 4x4 dilation stride 2 sigma 1.5", op: pool("gauss", [4, 4], { stride: [2, 2], dilation: [1, 2], pad: same, sigma: 1.5 }), shapes: [[1, 9, 10]] },
  { name: "gausspool 3-D ceil", op: pool("gauss", [3, 3, 2], { stride: [2, 2, 2], ceil: true, sigma: 0.8 }), shapes: [[1, 6, 5, 5]] },
  { name: "maxpool + sigmoid epilogue", op: pool("max", [2, 2]), shapes: [[2, 4, 4]], epilogue: [epi("sigmoid")] },

  // Adaptive pooling.
  { name: "adaptive max 2-D 7x5 -> 3x2", op: { kind: "adaptive_pool", mode: "max", out: [3, 2] }, shapes: [[2, 7, 5]] },
  { name: "adaptive avg 2-D 7x5 -> 3x2", op: { kind: "adaptive_pool", mode: "avg", out: [3, 2] }, shapes: [[2, 7, 5]] },
  { name: "adaptive avg global", op: { kind: "adaptive_pool", mode: "avg", out: [1, 1] }, shapes: [[3, 5, 6]] },
  { name: "adaptive max 1-D 10 -> 4", op: { kind: "adaptive_pool", mode: "max", out: [4] }, shapes: [[2, 10]] },
  { name: "adaptive avg 3-D", op: { kind: "adaptive_pool", mode: "avg", out: [2, 3, 2] }, shapes: [[2, 5, 7, 3]] },

  // Dense: short rows (an invocation per unit) and long ones (a workgroup per unit).
  { name: "dense short", op: { kind: "dense", units: 7, bias: "channel" }, shapes: [[20]] },
  { name: "dense over a [C, H, W] input", op: { kind: "dense", units: 5, bias: "channel" }, shapes: [[2, 3, 4]] },
  { name: "dense long (cooperative)", op: { kind: "dense", units: 10, bias: "channel" }, shapes: [[3, 10, 11]] },
  { name: "dense no bias + relu", op: { kind: "dense", units: 6, bias: "none" }, shapes: [[300]], epilogue: [epi("relu")] },

  // Activations, with large inputs where a naive formula overflows.
  { name: "relu", op: act("relu"), shapes: [[3, 5, 5]] },
  { name: "leaky_relu", op: act("leaky_relu", 0.1), shapes: [[3, 5, 5]] },
  { name: "sigmoid", op: act("sigmoid"), shapes: [[3, 5, 5]], scale: 4 },
  { name: "sigmoid of large |x|", op: act("sigmoid"), shapes: [[4, 50]], scale: 200 },
  { name: "tanh", op: act("tanh"), shapes: [[3, 5, 5]], scale: 3 },
  { name: "tanh of large |x|", op: act("tanh"), shapes: [[4, 50]], scale: 200 },
  { name: "tanh near 0", op: act("tanh"), shapes: [[4, 50]], scale: 0.05 },
  { name: "identity", op: act("identity"), shapes: [[2, 9]] },

  // Softmax over channels at every position.
  { name: "softmax [5, 3, 4]", op: { kind: "softmax" }, shapes: [[5, 3, 4]], scale: 3 },
  { name: "softmax of large logits", op: { kind: "softmax" }, shapes: [[6, 4, 4]], scale: 500 },
  { name: "softmax flat [10]", op: { kind: "softmax" }, shapes: [[10]], scale: 4 },
  { name: "softmax 3-D", op: { kind: "softmax" }, shapes: [[3, 2, 3, 4]] },

  // Elementwise add and multiply with trailing-1 broadcasting.
  { name: "add same shape", op: { kind: "add" }, shapes: [[2, 4, 5], [2, 4, 5]] },
  { name: "mul by a per-channel vector [C]", op: { kind: "mul" }, shapes: [[3, 4, 5], [3]] },
  { name: "add [C, 1, W]", op: { kind: "add" }, shapes: [[3, 4, 5], [3, 1, 5]] },
  { name: "mul [1, H, W] (shared over channels)", op: { kind: "mul" }, shapes: [[3, 4, 5], [1, 4, 5]] },
  { name: "add [1] scalar, operand first", op: { kind: "add" }, shapes: [[1], [2, 3, 4]] },
  { name: "mul 1-D [C, 1] + relu", op: { kind: "mul" }, shapes: [[3, 7], [3, 1]], epilogue: [epi("relu")] },
  { name: "add 3-D [C] broadcast", op: { kind: "add" }, shapes: [[2, 3, 2, 4], [2]] },

  // Concatenation along channels.
  { name: "concat three", op: { kind: "concat" }, shapes: [[2, 4, 5], [1, 4, 5], [3, 4, 5]] },
  { name: "concat 1-D + tanh", op: { kind: "concat" }, shapes: [[2, 6], [3, 6]], epilogue: [epi("tanh")] },
];

describe("WGSL kernels equal the reference", () => {
  for (const c of cases) {
    gpuIt(c.name, async () => {
      const s = oneStepPlan(c.op, c.shapes, { seed: c.name.length, epilogue: c.epilogue });
      const inputs = c.shapes.map((shape, k) => ({ shape, data: randomData(shape.reduce((a, b) => a * b, 1), 100 + k + c.name.length, c.scale ?? 1) }));
      if (c.name.includes("all-negative")) inputs[0].data.forEach((v, i, a) => (a[i] = -Math.abs(v) - 1));
      const want = referenceOf(s, inputs);
      const { output } = await runOnWebGpu(s.plan, inputs.map((i) => i.data));
      if (process.env.CNNC_PRINT) console.log(c.name, relError(output, want.data), want.data.length);
      expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
    });
  }
});

describe("symbolic sizes", () => {
  gpuIt("one executor runs a strided same-padded conv on H x W at three sizes (buffers grow once, then are reused)", async () => {
    const H: Dim = { op: "sym", name: "H" };
    const W: Dim = { op: "sym", name: "W" };
    const op = conv(3, [3, 3], { stride: [2, 2], pad: same });
    const s = oneStepPlan(op, [[2, H, W]], { symbols: ["H", "W"], env: { H: 9, W: 7 }, epilogue: [epi("relu")] });
    const { exec, wgsl } = await executorFor(s.plan);
    // Sizes the shader cannot know are uniforms, not constants.
    expect(wgsl.manifest.programs[0].uniforms).toBeGreaterThan(0);
    try {
      for (const [h, w] of [
        [9, 7],
        [13, 11],
        [5, 6],
        [13, 11],
      ]) {
        const x = randomData(2 * h * w, h * 31 + w);
        const want = referenceOf(s, [{ shape: [2, h, w], data: x }]);
        const [output] = await exec.runSample({ H: h, W: w }, [x]);
        expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
      }
    } finally {
      exec.dispose();
    }
  });

  gpuIt("symbolic pool (ceil, padding), softmax and broadcast add", async () => {
    const T: Dim = { op: "sym", name: "T" };
    const env = { T: 11 };
    const steps: { op: Op; shapes: Dim[][]; statics: number[][] }[] = [
      { op: pool("avg", [3], { stride: [2], pad: explicit([1], [1]), ceil: true, countPad: true }), shapes: [[3, T]], statics: [[3, 11]] },
      { op: pool("gauss", [3], { stride: [2], pad: same, sigma: 1 }), shapes: [[3, T]], statics: [[3, 11]] },
      { op: { kind: "softmax" }, shapes: [[4, T]], statics: [[4, 11]] },
      { op: { kind: "add" }, shapes: [[3, T], [3]], statics: [[3, 11], [3]] },
      { op: { kind: "concat" }, shapes: [[1, T], [2, T]], statics: [[1, 11], [2, 11]] },
    ];
    for (const st of steps) {
      const s = oneStepPlan(st.op, st.shapes, { symbols: ["T"], env });
      const inputs = st.statics.map((shape, k) => ({ shape, data: randomData(shape.reduce((a, b) => a * b, 1), 7 + k) }));
      const want = referenceOf(s, inputs);
      const { output } = await runOnWebGpu(s.plan, inputs.map((i) => i.data), env);
      expect(relError(output, want.data), st.op.kind).toBeLessThan(TOLERANCE);
    }
  });
});

describe("in place", () => {
  gpuIt("an elementwise step writing over its input reads it through the output's binding", async () => {
    const s = oneStepPlan(act("tanh"), [[2, 5, 5]], { aliasOutput: true });
    const x = randomData(50, 3, 2);
    const want = referenceOf(s, [{ shape: [2, 5, 5], data: x }]);
    const { output, wgsl } = await runOnWebGpu(s.plan, [x]);
    expect(wgsl.manifest.commands.map((c) => c.kind)).toEqual(["dispatch"]);
    expect(wgsl.programs[0].code).not.toContain("var<storage, read> x");
    expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
  });

  gpuIt("so does softmax, split over several dispatches", async () => {
    const s = oneStepPlan({ kind: "softmax" }, [[2, 400]], { aliasOutput: true });
    const x = randomData(800, 4, 5);
    const want = referenceOf(s, [{ shape: [2, 400], data: x }]);
    const { output, wgsl } = await runOnWebGpu(s.plan, [x], {}, { limits: { maxStorageBufferBindingSize: 2048 } });
    expect(wgsl.manifest.commands.length).toBeGreaterThan(1);
    expect(wgsl.manifest.commands.every((c) => c.kind === "dispatch" && c.bindings.length === 1)).toBe(true);
    expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
  });

  gpuIt("any other step whose output is its input's buffer computes into scratch and copies back", async () => {
    const s = oneStepPlan(conv(2, [3, 3], { pad: same }), [[2, 5, 5]], { aliasOutput: true });
    const x = randomData(50, 3, 2);
    const want = referenceOf(s, [{ shape: [2, 5, 5], data: x }]);
    const { output, wgsl } = await runOnWebGpu(s.plan, [x]);
    expect(wgsl.manifest.commands.map((c) => c.kind)).toEqual(["dispatch", "copy"]);
    expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
  });
});
