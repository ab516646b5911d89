// The compiled WebAssembly training step against the reference (itself held to finite
// differences in grad-ops.test.ts): on seeded random one-layer graphs (1-D, 2-D and 3-D,
// strides, every padding kind, dilation, groups, flipped kernels, every bias kind, ceil and
// count_pad pools), every weight gradient and the input gradient equal the reference's within
// f32 tolerance, so each gradient kernel (conv_grad_input, conv_grad_kernel, bias_grad,
// pool_grad, dense_grad_*, activation_grad, softmax_grad, the losses) is checked; then a few
// optimiser steps of whole networks equal the reference trainer's weights, and the gradients of
// every example whose ops all have kernels (lenet, the labeller through `repeat`, the fixed
// classifier, the 1-D and 3-D networks) equal the reference's.

import { describe, expect, it } from "vitest";
import type { Graph } from "../../compiler/ir/graph.js";
import type { ActivationFn } from "../../compiler/ir/ops.js";
import { windowGeometry } from "../../compiler/ir/ops.js";
import { autodiff, type LossName } from "../../compiler/train/autodiff.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER, type OptimiserConfig } from "../../compiler/train/optim.js";
import { referenceSample } from "../../compiler/train/reference-step.js";
import type { Batch } from "../../compiler/train/trainer.js";
import { WasmTrainer } from "../../compiler/train/wasm-trainer.js";
import { unsupportedOps } from "../../compiler/backends/wasm/grad-module.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { readFileSync } from "node:fs";
import { analyse } from "../../compiler/index.js";
import { specialise } from "../../compiler/train/specialise.js";
import { referenceBatch } from "../../compiler/train/reference-batch.js";
import type { Tensor } from "../../compiler/reference/tensor.js";
import { relativeError } from "../relative-error.js";
import { Builder, type Rng, randomWindow, rng, LENET } from "./helpers.js";
import { taps, type Taps } from "../../compiler/reference/grad/taps.js";
import { windowRuns } from "../../compiler/backends/wasm/grad-im2col.js";
import { strideTwoRows } from "../../compiler/backends/wasm/grad-pool.js";

/** Some row of the window meets two real input elements (else a strided last axis still runs). */
function hasRealRun(t: Taps): boolean {
  const W = t.out[t.out.length - 1];
  for (let j = 0; j + 1 < t.outVolume; j++) {
    if ((j + 1) % W === 0) continue;
    for (let n = 0; n < t.kVolume; n++) if (t.pos[j * t.kVolume + n] >= 0 && t.pos[(j + 1) * t.kVolume + n] >= 0) return true;
  }
  return false;
}

const CASES = 20;
const TOL = 2e-5;


const f32 = (r: Rng, n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * r.next());

/**
 * Random f32 weights, input and target; the wasm step's gradients (batch of one) against
 * referenceSample's, for every trained weight and the input.
 */
async function compare(g: Graph, r: Rng, loss: LossName = "mse", target?: (n: number) => Float64Array, imageOf?: (n: number) => Float32Array): Promise<void> {
  for (const w of g.weights) w.data = f32(r, w.data.length);
  const tg = autodiff(g, { loss, inputGradients: true });
  expect(unsupportedOps(tg)).toEqual([]);
  const input = g.inputs[0];
  const inShape = g.values[input.value].shape as number[];
  const image = (imageOf ?? ((n: number) => f32(r, n)))(inShape.reduce((a, b) => a * b, 1));
  const tn = tg.targetShape.reduce((a, b) => a * b, 1);
  const labels = target ? target(tn) : Float64Array.from(f32(r, tn));
  const want = referenceSample(tg, new Map([[input.name, { shape: inShape, data: Float64Array.from(image) }]]), { shape: [...tg.targetShape], data: labels });
  const trainer = await WasmTrainer.create(tg, DEFAULT_OPTIMISER);
  const got = trainer.probe({ count: 1, images: image, labels });
  for (const [w, grad] of want.gradients) {
    const err = relativeError(got.gradients.get(w) as Float32Array, grad.data);
    if (err > TOL) expect.fail(`${w.name}: relative error ${err}`);
  }
  const dx = want.inputGradients.get(input.name) as Tensor;
  const err = relativeError(got.value(tg.inputGradients.get(input.name) as number), dx.data);
  if (err > TOL) expect.fail(`input gradient: relative error ${err}`);
}

const dims = (i: number): number => 1 + (i % 3);

function each(name: string, body: (r: Rng, i: number) => Promise<void>): void {
  it(`${name}: ${CASES} seeded cases`, async () => {
    for (let i = 0; i < CASES; i++) await body(rng(7000 + 1000 * name.length + i), i);
  });
}

describe("WebAssembly training kernels equal the reference", () => {
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

  // The SIMD loops (grad-simd.ts) run 16 columns, then 4, then n mod 4 scalar: sizes that
  // take every path. Conv: J = 7x7 = 49 outputs (3 blocks of 16, 1 scalar), R = 5 x 3x3 = 45
  // weights per filter (2 blocks, 3 vectors, 1 scalar), 3 filters; dense: 45 -> 37 -> 6, with
  // relu (four lanes, then 1 scalar) between.
  it("SIMD blocks and tails: conv and dense at sizes not multiples of 4 or 16", async () => {
    const r = rng(424242);
    for (const bias of ["channel", "location", "none"] as const) {
      for (const groups of [1, 5]) {
        const b = new Builder();
        const x = b.input([5, 9, 9]);
        const O = groups === 1 ? 3 : 5;
        const op = { kind: "conv" as const, filters: O, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: { kind: "valid" as const }, groups, flip: false, bias };
        const ws = { weight: () => [O, 5 / groups, 3, 3], ...(bias === "none" ? {} : { bias: (_: number[], y: number[]) => (bias === "channel" ? [O] : y) }) };
        await compare(b.graph(b.node(op, [x], ws)), r);
      }
    }
    const b = new Builder();
    const x = b.input([45]);
    const d1 = b.node({ kind: "dense", units: 37, bias: "channel" }, [x], { weight: () => [37, 45], bias: () => [37] });
    const a = b.node({ kind: "activation", fn: "relu", alpha: 0 }, [d1]);
    await compare(b.graph(b.node({ kind: "dense", units: 6, bias: "none" }, [a], { weight: () => [6, 37] })), r);
  });

  // grad-gemm.ts's blocks (4 rows x 8 columns, a 4-wide column block, scalar columns; 4 x 2
  // dot products and their remainders) and grad-im2col.ts's row runs against the generic tap
  // walk: 6 filters (4 + 2), R = 3 x 3 = 9 weights per filter (4 pairs + 1), J = 29 outputs
  // (3 x 8 + 4 + 1); a last axis of stride 1 takes the runs, stride 2 the generic path.
  it("register-blocked products and row-run im2col/col2im, every block and both paths", async () => {
    const r = rng(515151);
    const cases = [
      { spatial: [31], kernel: [3], stride: [1], pad: { kind: "valid" as const } },
      { spatial: [29], kernel: [3], stride: [1], pad: { kind: "same" as const } },
      { spatial: [59], kernel: [3], stride: [2], pad: { kind: "valid" as const } },
      { spatial: [9, 31], kernel: [2, 3], stride: [2, 1], pad: { kind: "explicit" as const, before: [1, 2], after: [0, 1] } },
      { spatial: [5, 59], kernel: [1, 3], stride: [1, 2], pad: { kind: "same" as const } },
    ];
    for (const c of cases) {
      for (const flip of [false, true]) {
        const b = new Builder();
        const x = b.input([3, ...c.spatial]);
        const op = { kind: "conv" as const, filters: 6, kernel: c.kernel, stride: c.stride, dilation: c.kernel.map(() => 1), pad: c.pad, groups: 1, flip, bias: "channel" as const };
        // A second conv after it, so that the first one's input gradient is computed and held.
        const c1 = b.node(op, [x], { weight: () => [6, 3, ...c.kernel], bias: () => [6] });
        await compare(b.graph(b.node({ ...op, filters: 5, stride: c.kernel.map(() => 1), pad: { kind: "same" as const } }, [c1], { weight: () => [5, 6, ...c.kernel], bias: () => [5] })), r);
      }
    }
  });

  it("row runs reproduce the tap table, and only where the last axis has stride 1", () => {
    const r = rng(616161);
    let withRuns = 0;
    for (let i = 0; i < 60; i++) {
      const w = randomWindow(r, dims(i));
      const geo = windowGeometry(w.spatial, w.kernel, w.stride, w.dilation, w.pad);
      if ((geo.out as number[]).some((n) => n < 1)) continue;
      const t = taps(w.spatial, w.kernel, w.stride, w.dilation, w.pad);
      const runs = windowRuns(t);
      expect(runs === undefined).toBe(w.stride[w.stride.length - 1] !== 1 && t.out[t.out.length - 1] > 1 && t.kVolume > 0 && hasRealRun(t));
      if (!runs) continue;
      withRuns++;
      const W = t.out[t.out.length - 1];
      const K = t.kVolume;
      for (let j = 0; j < t.outVolume; j++) {
        for (let n = 0; n < K; n++) {
          const at = (n * (t.outVolume / W) + Math.floor(j / W)) * 4;
          const [lo, hi, src] = [runs[at], runs[at + 1], runs[at + 2]];
          const ow = j % W;
          expect(ow >= lo && ow < hi ? src + ow - lo : -1).toBe(t.pos[j * K + n]);
        }
      }
    }
    expect(withRuns).toBeGreaterThan(10);
  });

  each("pool (max, avg)", async (r, i) => {
    const d = dims(i);
    let w = randomWindow(r, d);
    // Padding no larger than the window, as the language requires of pools.
    if (w.pad.kind === "full" || w.pad.kind === "explicit") w = { ...w, pad: { kind: "valid" } };
    const mode = r.pick(["max", "avg"] as const);
    const op = { kind: "pool" as const, mode, window: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, ceil: r.bool(), countPad: r.bool(), p: 2, sigma: 1 };
    const geo = windowGeometry(w.spatial, w.kernel, w.stride, w.dilation, w.pad, op.ceil);
    if ((geo.out as number[]).some((n) => n < 1)) return;
    const b = new Builder();
    // A conv first, so that the pool's input gradient flows into a trained weight too.
    const x = b.input([2, ...w.spatial]);
    const c = b.node({ kind: "conv", filters: 2, kernel: w.kernel.map(() => 1), stride: w.kernel.map(() => 1), dilation: w.kernel.map(() => 1), pad: { kind: "valid" }, groups: 1, flip: false, bias: "channel" }, [x], { weight: () => [2, 2, ...w.kernel.map(() => 1)], bias: () => [2] });
    await compare(b.graph(b.node(op, [c], {})), r);
  });

  // grad-pool.ts's lanes (every tap real, stride 2 along the last axis, rows of 4 or more):
  // vector blocks and the scalar rest of each row, in 1-D, 2-D and 3-D, on inputs of three
  // levels so that windows hold equal maxima (the first must win, as in the reference).
  it("max pools of stride 2 on four lanes: first arg-max among ties, every row length", async () => {
    const r = rng(717171);
    const cases = [
      { spatial: [9, 12], window: [2, 2], stride: [2, 2] },
      { spatial: [19], window: [3], stride: [2] },
      { spatial: [4, 4, 10], window: [2, 2, 2], stride: [2, 2, 2] },
      { spatial: [7, 17], window: [3, 2], stride: [1, 2] },
    ];
    for (const c of cases) {
      const b = new Builder();
      const x = b.input([1, ...c.spatial]);
      const ones = c.window.map(() => 1);
      // A 1x1 conv of one channel keeps the input's ties (y = w x + b per filter).
      const conv = b.node({ kind: "conv", filters: 3, kernel: ones, stride: ones, dilation: ones, pad: { kind: "valid" }, groups: 1, flip: false, bias: "channel" }, [x], { weight: () => [3, 1, ...ones], bias: () => [3] });
      const pool = { kind: "pool" as const, mode: "max" as const, window: c.window, stride: c.stride, dilation: ones, pad: { kind: "valid" as const }, ceil: false, countPad: false, p: 2, sigma: 1 };
      const t = taps(c.spatial, c.window, c.stride, ones, pool.pad);
      expect(strideTwoRows(t)).toBeDefined();
      await compare(b.graph(b.node(pool, [conv], {})), r, "mse", undefined, (n) => Float32Array.from({ length: n }, () => r.int(0, 2) / 2));
    }
  });

  each("dense and activations", async (r) => {
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
    const c1 = b.node({ kind: "conv", filters: C, kernel: per.length ? [1, 1] : [3], stride: per.length ? [1, 1] : [1], dilation: per.length ? [1, 1] : [1], pad: { kind: "valid" }, groups: 1, flip: false, bias: "channel" }, [x], { weight: () => [C, 2, ...(per.length ? [1, 1] : [3])], bias: () => [C] });
    const c2 = b.node({ kind: "activation", fn: "tanh", alpha: 0 }, [c1]);
    const sum = b.node({ kind: "add" }, [c1, c2]);
    const logits = per.length ? sum : b.node({ kind: "flatten" }, [sum]);
    const probs = b.node({ kind: "softmax" }, [logits]);
    // Classes at every position; `cross_entropy` on a softmax output fuses into softmax_cross_entropy.
    await compare(b.graph(probs), r, "cross_entropy", (n) => Float64Array.from({ length: n }, () => r.int(0, C - 1)));
  });
});

function batch(seed: number, count: number, n: number, classes: number): Batch {
  const r = rng(seed);
  return { count, images: f32(r, count * n, 0, 1), labels: Float64Array.from({ length: count }, () => r.int(0, classes - 1)) };
}

describe("WebAssembly training steps equal the reference trainer", () => {
  const optimisers: [string, Partial<OptimiserConfig>][] = [
    ["sgd with Nesterov momentum and weight decay", { kind: "sgd", lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }],
    ["adamw with clipping and a step schedule", { kind: "adamw", lr: 0.002, weightDecay: 0.01, clip: 0.5, schedule: { kind: "step", every: 2, gamma: 0.5 } }],
  ];
  for (const [name, opt] of optimisers) {
    // 40 samples in the second step: the dense kernel gradients' chunk of 16 fills twice
    // within the step, then the last 8 are flushed at its end (grad-module.ts).
    it(`lenet, 3 steps of 8, 40 and 8 samples: ${name}`, async () => {
      const make = (backend: "reference" | "wasm") => {
        const r = compileTraining(LENET, { fileName: "lenet.cnn", backend, config: { optimiser: { ...DEFAULT_OPTIMISER, ...opt } } });
        if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
        expect(r.backend).toBe(backend);
        return r.load();
      };
      const [ref, wasm] = await Promise.all([make("reference"), make("wasm")]);
      for (let s = 0; s < 3; s++) {
        const b = batch(s, s === 1 ? 40 : 8, 784, 10);
        const [a, w] = [await ref.step(b), await wasm.step(b)];
        expect(Math.abs(a.loss - w.loss)).toBeLessThan(1e-4);
        expect(w.accuracy).toBe(a.accuracy);
      }
      const want = readSafetensors(ref.weights(), "ref");
      const got = readSafetensors(wasm.weights(), "wasm");
      if (!want.ok || !got.ok) throw new Error("unreadable weights");
      for (const [name, t] of want.value) {
        const err = relativeError((got.value.get(name) as { data: Float32Array }).data, t.data);
        if (err > 1e-4) expect.fail(`${name}: relative error ${err} after 3 steps`);
      }
      const e1 = await ref.evaluate(batch(9, 16, 784, 10));
      const e2 = await wasm.evaluate(batch(9, 16, 784, 10));
      expect(Math.abs(e1.loss - e2.loss)).toBeLessThan(1e-4);
    });
  }

  it("saves and restores its state in the reference trainer's format", async () => {
    const opt = { kind: "sgd" as const, lr: 0.05, momentum: 0.9, nesterov: false };
    const load = (backend: "reference" | "wasm") => {
      const r = compileTraining(LENET, { fileName: "lenet.cnn", backend, config: { optimiser: { ...DEFAULT_OPTIMISER, ...opt } } });
      if (!r.ok) throw new Error("does not compile");
      return r.load();
    };
    const a = await load("wasm");
    await a.step(batch(1, 4, 784, 10));
    const ref = await load("reference");
    ref.restoreState(a.saveState());
    const b = await load("wasm");
    b.restoreState(a.saveState());
    expect(b.steps).toBe(1);
    const [x, y, z] = [await a.step(batch(2, 4, 784, 10)), await b.step(batch(2, 4, 784, 10)), await ref.step(batch(2, 4, 784, 10))];
    expect(y.loss).toBe(x.loss);
    expect(Math.abs(z.loss - x.loss)).toBeLessThan(1e-4);
  });

  it("refuses a NaN step without changing a weight, naming the layer", async () => {
    const r = compileTraining(LENET, { fileName: "lenet.cnn", backend: "wasm" });
    if (!r.ok) throw new Error("does not compile");
    const t = await r.load();
    const before = t.weights();
    const b = batch(3, 4, 784, 10);
    b.images[5] = NaN;
    await expect(t.step(b)).rejects.toThrow(/step 1: .* sample 0 .*layer conv1 is the first to output a non-finite value/);
    expect(t.weights()).toEqual(before);
  });

  it("trains batch norm in training mode, and auto picks it (tests/train/batchnorm-batch holds it to the reference)", () => {
    const src = `network n(x: f32[1, 8, 8]) -> y {\n  y = x |> c: conv(2, 3x3, pad: same) |> bn: batchnorm |> flatten |> fc: dense(2)\n}\n`;
    const r = compileTraining(src, { fileName: "n.cnn", backend: "wasm" });
    expect(r.ok && r.graph.batchStatistics).toBe(true);
    const auto = compileTraining(src, { fileName: "n.cnn", backend: "auto" });
    expect(auto.ok && auto.backend).toBe("wasm");
  });
});

describe("WebAssembly gradients of whole examples equal the reference's", () => {
  // The examples whose every op has a WebAssembly kernel; the others are named by unsupportedOps.
  const cases: [string, Record<string, number>, LossName, number][] = [
    ["lenet", {}, "cross_entropy", 10],
    ["labeler", { H: 5, W: 4 }, "cross_entropy", 4],
    ["classifier_fixed", {}, "cross_entropy", 10],
    ["audio1d", {}, "mse", 0],
    ["volume3d", {}, "mse", 0],
    // Adaptive pools, maxout, and broadcasting.
    ["classifier_variable", { H: 12, W: 10 }, "cross_entropy", 10],
    ["classifier_fcn", { H: 12, W: 10 }, "mse", 0],
    ["maxout", {}, "cross_entropy", 10],
    ["edges", { H: 9, W: 8 }, "mse", 0],
    // Locally connected and tiled layers.
    ["face_local", {}, "cross_entropy", 2],
    ["tiled", {}, "mse", 0],
    // Transposed convolutions.
    ["autoencoder", { H: 12, W: 16 }, "mse", 0],
    // Batch norm on its running statistics (autodiff's default; `batchnorm = running`).
    ["residual", { H: 8, W: 8 }, "cross_entropy", 10],
  ];
  for (const [name, sizes, loss, classes] of cases) {
    it(`${name} (${loss}), a batch of 2`, async () => {
      const a = analyse(readFileSync(`examples/${name}.cnn`, "utf8"), { fileName: `examples/${name}.cnn` });
      if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
      const tg = autodiff(specialise(a.graph, sizes), { loss });
      expect(unsupportedOps(tg)).toEqual([]);
      const r = rng(name.length);
      const input = tg.forward.inputs[0];
      const n = (tg.values[input.value].shape as number[]).reduce((p, d) => p * d, 1);
      const t = tg.targetShape.reduce((p, d) => p * d, 1);
      const images = f32(r, 2 * n, 0, 1);
      const labels = classes ? Float64Array.from({ length: 2 * t }, () => r.int(0, classes - 1)) : Float64Array.from(f32(r, 2 * t));
      const samples = [0, 1].map((b) => new Map([[input.name, { shape: tg.values[input.value].shape as number[], data: Float64Array.from(images.subarray(b * n, (b + 1) * n)) }]]));
      const targets = [0, 1].map((b) => ({ shape: [...tg.targetShape], data: labels.slice(b * t, (b + 1) * t) }));
      const weights = new Map(tg.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }]));
      const want = referenceBatch(tg, samples, targets, weights);
      const got = (await WasmTrainer.create(tg, DEFAULT_OPTIMISER)).probe({ count: 2, images, labels });
      expect(got.gradients.size).toBe(want.gradients.size);
      for (const [w, g] of want.gradients) {
        // The step's sums are over the samples; the reference's gradient is of the batch's mean loss.
        const mean = (got.gradients.get(w) as Float32Array).map((v) => v / 2);
        const err = relativeError(mean, g.data);
        if (err > 1e-4) expect.fail(`${w.name}: relative error ${err}`);
      }
    });
  }
});
