// The compiled WebGPU training step against the reference, on whatever adapter Node finds
// (Dawn: a GPU, else Mesa's llvmpipe through OpenGL ES); skipped where there is none, as the
// other WebGPU tests are. On seeded random small graphs (1-D, 2-D and 3-D, strides, padding,
// dilation, groups, flipped kernels, channel and location biases, max and avg pools with ceil
// and count_pad, dense, every trainable activation, softmax cross-entropy, mse and l1, a
// residual add), a batch of 3 gives every weight gradient and the input gradient of the
// reference within f32 tolerance (so every kernel over the batch dimension is checked); then
// LeNet's steps under each optimiser equal the reference trainer's losses, accuracies and
// weights; a NaN step is refused with no weight changed; the weights load into `cnnc compile
// --weights`; a larger batch after a smaller one reallocates and still agrees; the gradients of
// whole examples (lenet, the labeller through `repeat`, the 1-D and 3-D networks) agree.

import { describe, expect, it } from "vitest";
import type { Graph } from "../../compiler/ir/graph.js";
import type { ActivationFn } from "../../compiler/ir/ops.js";
import { windowGeometry } from "../../compiler/ir/ops.js";
import { autodiff, type LossName } from "../../compiler/train/autodiff.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER, type OptimiserConfig } from "../../compiler/train/optim.js";
import { referenceBatch } from "../../compiler/train/reference-batch.js";
import type { Batch } from "../../compiler/train/trainer.js";
import { WebGpuTrainer } from "../../compiler/train/webgpu-trainer.js";
import { emitTrainingWgsl, unsupportedOps } from "../../compiler/backends/wgsl/grad-module.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { analyse, compile } from "../../compiler/index.js";
import type { Tensor } from "../../compiler/reference/tensor.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { specialise } from "../../compiler/train/specialise.js";
import { readFileSync } from "node:fs";
import { relativeError } from "../relative-error.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import { Builder, type Rng, randomWindow, rng, LENET } from "./helpers.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;

const CASES = 20;
const TOL = 1e-4;
const B = 3;

const f32 = (r: Rng, n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * r.next());

/** A batch of B through the WebGPU step and the reference: every weight gradient and the input gradient. */
async function compare(g: Graph, r: Rng, loss: LossName = "mse", target?: (n: number) => number): Promise<void> {
  for (const w of g.weights) w.data = f32(r, w.data.length);
  const tg = autodiff(g, { loss, inputGradients: true });
  expect(unsupportedOps(tg)).toEqual([]);
  const input = g.inputs[0];
  const inShape = g.values[input.value].shape as number[];
  const n = inShape.reduce((a, b) => a * b, 1);
  const t = tg.targetShape.reduce((a, b) => a * b, 1);
  const images = f32(r, B * n);
  const labels = Float64Array.from({ length: B * t }, () => (target ? target(t) : Math.fround(r.next() * 2 - 1)));
  const samples = Array.from({ length: B }, (_, b) => new Map([[input.name, { shape: inShape, data: Float64Array.from(images.subarray(b * n, (b + 1) * n)) }]]));
  const targets = Array.from({ length: B }, (_, b) => ({ shape: [...tg.targetShape], data: labels.slice(b * t, (b + 1) * t) }));
  const want = referenceBatch(tg, samples, targets, new Map(tg.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }])));
  const trainer = await WebGpuTrainer.create(tg, DEFAULT_OPTIMISER);
  try {
    const dxValue = tg.inputGradients.get(input.name) as number;
    const got = await trainer.probe({ count: B, images, labels }, [dxValue]);
    expect(got.gradients.size).toBe(want.gradients.size);
    for (const [w, grad] of want.gradients) {
      // The step's sums are over the samples; the reference's gradient is of the batch's mean loss.
      const mean = (got.gradients.get(w) as Float32Array).map((v) => v / B);
      const err = relativeError(mean, grad.data);
      if (err > TOL) expect.fail(`${w.name}: relative error ${err}`);
    }
    // The reference's input gradients are of the mean loss too: times B for each sample's own.
    const dx = Float64Array.from(want.inputGradients.flatMap((m) => [...(m.get(input.name) as Tensor).data].map((v) => v * B)));
    const err = relativeError(got.values[0], dx);
    if (err > TOL) expect.fail(`input gradient: relative error ${err}`);
  } finally {
    trainer.dispose();
  }
}

const dims = (i: number): number => 1 + (i % 3);

function each(name: string, body: (r: Rng, i: number) => Promise<void>): void {
  gpuIt(`${name}: ${CASES} seeded cases`, async () => {
    for (let i = 0; i < CASES; i++) await body(rng(9000 + 1000 * name.length + i), i);
  });
}

describe("WebGPU training kernels equal the reference (a batch of 3)", () => {
  each("conv", async (r, i) => {
    const w = randomWindow(r, dims(i));
    const groups = r.pick([1, 2]);
    const C = groups * r.int(1, 2);
    const O = groups * r.int(1, 2);
    const bias = r.pick(["channel", "location", "none"] as const);
    const b = new Builder();
    const x = b.input([C, ...w.spatial]);
    const op = { kind: "conv" as const, filters: O, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, groups, flip: r.bool(), bias };
    const ws = { weight: () => [O, C / groups, ...w.kernel], ...(bias === "none" ? {} : { bias: (_: number[], y: number[]) => (bias === "channel" ? [O] : y) }) };
    await compare(b.graph(b.node(op, [x], ws)), r);
  });

  each("pool (max, avg)", async (r, i) => {
    let w = randomWindow(r, dims(i));
    if (w.pad.kind === "full" || w.pad.kind === "explicit") w = { ...w, pad: { kind: "valid" } };
    const mode = r.pick(["max", "avg"] as const);
    const op = { kind: "pool" as const, mode, window: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, ceil: r.bool(), countPad: r.bool(), p: 2, sigma: 1 };
    const geo = windowGeometry(w.spatial, w.kernel, w.stride, w.dilation, w.pad, op.ceil);
    if ((geo.out as number[]).some((n) => n < 1)) return;
    const b = new Builder();
    const x = b.input([2, ...w.spatial]);
    const ones = w.kernel.map(() => 1);
    const c = b.node({ kind: "conv", filters: 2, kernel: ones, stride: ones, dilation: ones, pad: { kind: "valid" }, groups: 1, flip: false, bias: "channel" }, [x], { weight: () => [2, 2, ...ones], bias: () => [2] });
    await compare(b.graph(b.node(op, [c], {})), r);
  });

  each("dense and activations (mse, l1)", async (r) => {
    const fns: ActivationFn[] = ["relu", "leaky_relu", "sigmoid", "tanh", "identity", "elu"];
    const fn = r.pick(fns);
    const n = r.int(1, 12);
    const b = new Builder();
    const x = b.input([r.int(1, 3), n]);
    const f = b.node({ kind: "flatten" }, [x]);
    const hidden = r.int(1, 9);
    const bias = r.pick(["channel", "none"] as const);
    const d1 = b.node({ kind: "dense", units: hidden, bias }, [f], { weight: (xs) => [hidden, xs.reduce((a, c) => a * c, 1)], ...(bias === "none" ? {} : { bias: () => [hidden] }) });
    const a = b.node({ kind: "activation", fn, alpha: 0.3 }, [d1]);
    const units = r.int(1, 5);
    await compare(b.graph(b.node({ kind: "dense", units, bias: "channel" }, [a], { weight: (xs) => [units, xs[0]], bias: () => [units] })), r, r.pick(["mse", "l1"] as const));
  });

  each("softmax, cross-entropy and a residual add", async (r, i) => {
    const C = r.int(2, 6);
    const per = i % 2 === 0 ? [] : [r.int(1, 3), r.int(1, 3)];
    const b = new Builder();
    const x = b.input([2, ...(per.length ? per : [3])]);
    const k = per.length ? [1, 1] : [3];
    const ones = k.map(() => 1);
    const c1 = b.node({ kind: "conv", filters: C, kernel: k, stride: ones, dilation: ones, pad: { kind: "valid" }, groups: 1, flip: false, bias: "channel" }, [x], { weight: () => [C, 2, ...k], bias: () => [C] });
    const c2 = b.node({ kind: "activation", fn: "tanh", alpha: 0 }, [c1]);
    const sum = b.node({ kind: "add" }, [c1, c2]);
    const logits = per.length ? sum : b.node({ kind: "flatten" }, [sum]);
    const probs = b.node({ kind: "softmax" }, [logits]);
    await compare(b.graph(probs), r, "cross_entropy", () => r.int(0, C - 1));
  });
});

describe("WebGPU gradients of whole examples equal the reference's", () => {
  // The examples whose every op has a kernel (the same set as the WebAssembly step's).
  const cases: [string, Record<string, number>, LossName, number][] = [
    ["lenet", {}, "cross_entropy", 10],
    ["labeler", { H: 5, W: 4 }, "cross_entropy", 4],
    ["classifier_fixed", {}, "cross_entropy", 10],
    ["audio1d", {}, "mse", 0],
    ["volume3d", {}, "mse", 0],
  ];
  for (const [name, sizes, loss, classes] of cases) {
    gpuIt(`${name} (${loss}), a batch of 3`, async () => {
      const a = analyse(readFileSync(`examples/${name}.cnn`, "utf8"), { fileName: `examples/${name}.cnn` });
      if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
      const tg = autodiff(specialise(a.graph, sizes), { loss });
      expect(unsupportedOps(tg)).toEqual([]);
      const r = rng(name.length);
      const input = tg.forward.inputs[0];
      const n = (tg.values[input.value].shape as number[]).reduce((p, d) => p * d, 1);
      const t = tg.targetShape.reduce((p, d) => p * d, 1);
      const images = f32(r, B * n, 0, 1);
      const labels = classes ? Float64Array.from({ length: B * t }, () => r.int(0, classes - 1)) : Float64Array.from(f32(r, B * t));
      const samples = Array.from({ length: B }, (_, b) => new Map([[input.name, { shape: tg.values[input.value].shape as number[], data: Float64Array.from(images.subarray(b * n, (b + 1) * n)) }]]));
      const targets = Array.from({ length: B }, (_, b) => ({ shape: [...tg.targetShape], data: labels.slice(b * t, (b + 1) * t) }));
      const want = referenceBatch(tg, samples, targets, new Map(tg.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }])));
      const trainer = await WebGpuTrainer.create(tg, DEFAULT_OPTIMISER);
      try {
        const got = await trainer.probe({ count: B, images, labels });
        expect(got.gradients.size).toBe(want.gradients.size);
        for (const [w, g] of want.gradients) {
          const err = relativeError((got.gradients.get(w) as Float32Array).map((v) => v / B), g.data);
          if (err > TOL) expect.fail(`${w.name}: relative error ${err}`);
        }
      } finally {
        trainer.dispose();
      }
    });
  }
});

function batch(seed: number, count: number, n: number, classes: number): Batch {
  const r = rng(seed);
  return { count, images: f32(r, count * n, 0, 1), labels: Float64Array.from({ length: count }, () => r.int(0, classes - 1)) };
}

function load(backend: "reference" | "webgpu", opt: Partial<OptimiserConfig> = {}, source = LENET) {
  const r = compileTraining(source, { fileName: "lenet.cnn", backend, config: { optimiser: { ...DEFAULT_OPTIMISER, ...opt } } });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  expect(r.backend).toBe(backend);
  return r.load();
}

function sameWeights(want: Uint8Array, got: Uint8Array, tol: number, when: string): void {
  const a = readSafetensors(want, "reference");
  const b = readSafetensors(got, "webgpu");
  if (!a.ok || !b.ok) throw new Error("unreadable weights");
  for (const [name, t] of a.value) {
    const err = relativeError((b.value.get(name) as { data: Float32Array }).data, t.data);
    if (err > tol) expect.fail(`${name}: relative error ${err} ${when}`);
  }
}

describe("WebGPU training steps equal the reference trainer", () => {
  const optimisers: [string, Partial<OptimiserConfig>][] = [
    ["plain sgd", { kind: "sgd", lr: 0.1 }],
    ["sgd with momentum", { kind: "sgd", lr: 0.05, momentum: 0.9 }],
    ["sgd with Nesterov momentum and weight decay", { kind: "sgd", lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }],
    ["adam with weight decay and a cosine schedule", { kind: "adam", lr: 0.001, weightDecay: 1e-3, schedule: { kind: "cosine", total: 4, min: 1e-4 } }],
    ["adamw with clipping and a step schedule", { kind: "adamw", lr: 0.002, weightDecay: 0.01, clip: 0.5, schedule: { kind: "step", every: 2, gamma: 0.5 } }],
  ];
  for (const [name, opt] of optimisers) {
    gpuIt(`lenet, 3 steps of 8 samples: ${name}`, async () => {
      const [ref, gpu] = await Promise.all([load("reference", opt), load("webgpu", opt)]);
      for (let s = 0; s < 3; s++) {
        const b = batch(s, 8, 784, 10);
        const [a, w] = [await ref.step(b), await gpu.step(b)];
        expect(Math.abs(a.loss - w.loss)).toBeLessThan(1e-4);
        expect(w.accuracy).toBe(a.accuracy);
      }
      await gpu.sync();
      sameWeights(ref.weights(), gpu.weights(), 1e-4, "after 3 steps");
      const e1 = await ref.evaluate(batch(9, 16, 784, 10));
      const e2 = await gpu.evaluate(batch(9, 16, 784, 10));
      expect(Math.abs(e1.loss - e2.loss)).toBeLessThan(1e-4);
      expect(e2.accuracy).toBe(e1.accuracy);
    });
  }

  gpuIt("an autoencoder-like mse network with avg pools, sigmoid and a larger batch after a smaller one", async () => {
    const src = `
network ae(x: f32[2, 8, 8]) -> y {
  y = x |> c1: conv(4, 3x3, stride: 2, pad: same, groups: 2) |> tanh |> avgpool(2x2) |> flatten |> fc: dense(128) |> sigmoid
}
`;
    const opt = { kind: "adam" as const, lr: 0.01 };
    const make = (backend: "reference" | "webgpu") => {
      const r = compileTraining(src, { fileName: "ae.cnn", backend, config: { loss: "mse", optimiser: { ...DEFAULT_OPTIMISER, ...opt } } });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
      return r.load();
    };
    const [ref, gpu] = await Promise.all([make("reference"), make("webgpu")]);
    for (const [s, count] of [[0, 2], [1, 5], [2, 3]]) {
      const r = rng(s);
      const b = { count, images: f32(r, count * 128), labels: Float64Array.from(f32(r, count * 128, 0, 1)) };
      const [a, w] = [await ref.step(b), await gpu.step(b)];
      expect(Math.abs(a.loss - w.loss)).toBeLessThan(1e-5);
      expect(w.accuracy).toBeUndefined();
    }
    await gpu.sync();
    sameWeights(ref.weights(), gpu.weights(), 1e-4, "after 3 steps");
  });

  gpuIt("frozen layers stay as they are; the rest trains as on the reference", async () => {
    const make = (backend: "reference" | "webgpu") => {
      const r = compileTraining(LENET, { fileName: "lenet.cnn", backend, config: { frozen: new Set(["conv1", "fc1"]), optimiser: { ...DEFAULT_OPTIMISER, kind: "sgd", lr: 0.1, momentum: 0.5 } } });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
      return r.load();
    };
    const [ref, gpu] = await Promise.all([make("reference"), make("webgpu")]);
    await gpu.sync();
    const before = readSafetensors(gpu.weights(), "before");
    for (let s = 0; s < 2; s++) {
      const b = batch(20 + s, 6, 784, 10);
      const [a, w] = [await ref.step(b), await gpu.step(b)];
      expect(Math.abs(a.loss - w.loss)).toBeLessThan(1e-4);
    }
    await gpu.sync();
    sameWeights(ref.weights(), gpu.weights(), 1e-4, "after 2 steps");
    const after = readSafetensors(gpu.weights(), "after");
    if (!before.ok || !after.ok) throw new Error("unreadable weights");
    for (const name of ["conv1.weight", "conv1.bias", "fc1.weight"]) expect(after.value.get(name)?.data).toEqual(before.value.get(name)?.data);
    expect(after.value.get("conv2.weight")?.data).not.toEqual(before.value.get("conv2.weight")?.data);
  });

  gpuIt("evaluates a batch larger than one buffer holds in parts; refuses to step on one", async () => {
    const r = compileTraining(LENET, { fileName: "lenet.cnn", backend: "webgpu" });
    if (!r.ok) throw new Error("does not compile");
    const whole = await WebGpuTrainer.create(r.graph, r.config.optimiser);
    // Room for the fixed part and 5 samples: a batch of 16 runs as 5 + 5 + 5 + 1.
    const L = emitTrainingWgsl(r.graph, r.config.optimiser).layout;
    const small = await WebGpuTrainer.create(r.graph, r.config.optimiser, { maxStorageBufferBindingSize: 4 * (L.batchedBase + 5 * L.perSample) });
    try {
      const b = batch(11, 16, 784, 10);
      const [a, c] = [await whole.evaluate(b), await small.evaluate(b)];
      expect(Math.abs(a.loss - c.loss)).toBeLessThan(1e-6);
      expect(c.accuracy).toBe(a.accuracy);
      await expect(small.step(b)).rejects.toThrow(/a batch of 16 needs .* MiB of device memory in one buffer; .* use a smaller batch/);
      expect(small.steps).toBe(0);
    } finally {
      whole.dispose();
      small.dispose();
    }
  });

  gpuIt("saves and restores its state in the reference trainer's format", async () => {
    const opt = { kind: "sgd" as const, lr: 0.05, momentum: 0.9 };
    const a = await load("webgpu", opt);
    await a.step(batch(1, 4, 784, 10));
    expect(() => a.weights()).toThrow(/await trainer.sync\(\)/);
    await a.sync();
    const ref = await load("reference", opt);
    ref.restoreState(a.saveState());
    const b = await load("webgpu", opt);
    b.restoreState(a.saveState());
    expect(b.steps).toBe(1);
    const [x, y, z] = [await a.step(batch(2, 4, 784, 10)), await b.step(batch(2, 4, 784, 10)), await ref.step(batch(2, 4, 784, 10))];
    expect(y.loss).toBe(x.loss);
    expect(Math.abs(z.loss - x.loss)).toBeLessThan(1e-4);
  });

  gpuIt("refuses a NaN step without changing a weight, naming the layer", async () => {
    const t = await load("webgpu");
    await t.sync();
    const before = t.weights();
    const b = batch(3, 4, 784, 10);
    b.images[5] = NaN;
    await expect(t.step(b)).rejects.toThrow(/step 1: .* sample 0 .*layer conv1 is the first to output a non-finite value/);
    await t.sync();
    expect(t.weights()).toEqual(before);
    expect(t.steps).toBe(0);
    // The next good step runs from the same weights as a fresh trainer's first.
    const fresh = await load("webgpu");
    const good = batch(4, 4, 784, 10);
    expect((await t.step(good)).loss).toBe((await fresh.step(good)).loss);
  });

  gpuIt("writes weights that `cnnc compile --weights` takes", async () => {
    const t = await load("webgpu", { kind: "sgd", lr: 0.1 });
    await t.step(batch(5, 8, 784, 10));
    await t.sync();
    const bytes = t.weights();
    const c = compile(LENET, { fileName: "lenet.cnn", weights: bytes });
    if (!c.ok) throw new Error(c.diagnostics.map((d) => d.message).join("\n"));
    // The compiled network runs the trained weights: its output is the trainer's evaluation.
    const b = batch(6, 1, 784, 10);
    const out = interpret(c.graph, new Map([["image", { shape: [1, 28, 28], data: Float64Array.from(b.images) }]]));
    const probs = out.get("probs") as Tensor;
    const e = await t.evaluate(b);
    expect(Math.abs(-Math.log(probs.data[b.labels[0]]) - e.loss)).toBeLessThan(1e-4);
  });
});

describe("WebGPU training: what reaches its shaders", () => {
  it("puts no name from the source into a shader", () => {
    const src = LENET.replace(/conv1/g, "zzqconvone").replace(/fc3/g, "zzqlast").replace(/lenet/g, "zzqnet");
    const r = compileTraining(src, { fileName: "n.cnn", backend: "webgpu" });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    const w = emitTrainingWgsl(r.graph, r.config.optimiser);
    const code = [...w.forward, ...w.loss, ...w.backward, w.stats, w.update].map((k) => `${k.label}\n${k.code}`).join("\n");
    expect(code).not.toMatch(/zzq|image|probs/);
  });

  it("auto never picks WebGPU", () => {
    const r = compileTraining(LENET, { fileName: "lenet.cnn", backend: "auto" });
    expect(r.ok && r.backend).toBe("wasm");
  });
});
