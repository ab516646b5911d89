// The WebAssembly training step's Winograd F(2x2, 3x3) convolutions (grad-winograd.ts) against
// the float64 reference: seeded random 3x3 stride-1 layers (every padding kind, asymmetric
// too, flipped kernels, channel and no bias, channel counts and sizes that are not multiples
// of 4 or of the 2x2 tile), the kernel and input gradients of batches of 1 and 3 (the kernel
// gradient is summed over the batch in the transform domain); the labeller, whose 3x3 weights
// `repeat` shares; whole residual networks in both step modes; optimiser steps and evaluation against the im2col GEMM step; the cost model's
// picks.

import { describe, expect, it } from "vitest";
import { autodiff } from "../../compiler/train/autodiff.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER } from "../../compiler/train/optim.js";
import { referenceBatch } from "../../compiler/train/reference-batch.js";
import { WasmTrainer } from "../../compiler/train/wasm-trainer.js";
import { chooseTrainConv } from "../../compiler/backends/wasm/grad-algorithms.js";
import type { ConvOp, PadSpec } from "../../compiler/ir/ops.js";
import type { Graph } from "../../compiler/ir/graph.js";
import type { TrainGraph } from "../../compiler/train/graph.js";
import { relativeError } from "../relative-error.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { Builder, type Rng, rng, seedWeights, trainGraphOf } from "./helpers.js";
import { readFileSync } from "node:fs";
import { analyse } from "../../compiler/index.js";
import { specialise } from "../../compiler/train/specialise.js";
import type { Batch } from "../../compiler/train/trainer.js";
import type { TrainAlgorithmSetting } from "../../compiler/backends/wasm/grad-algorithms.js";

const CASES = 24;
const TOL = 2e-5;

const f32 = (r: Rng, n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * r.next());

/** The batch's gradient sums (and the last sample's input gradient) of the forced-Winograd step against the reference's. */
async function compare(tg: TrainGraph, r: Rng, count: number, classes = 0): Promise<void> {
  const input = tg.forward.inputs[0];
  const shape = tg.values[input.value].shape as number[];
  const n = shape.reduce((a, b) => a * b, 1);
  const t = tg.targetShape.reduce((a, b) => a * b, 1);
  const images = f32(r, count * n);
  const labels = classes ? Float64Array.from({ length: count * t }, () => r.int(0, classes - 1)) : Float64Array.from(f32(r, count * t));
  const samples = Array.from({ length: count }, (_, b) => new Map([[input.name, { shape, data: Float64Array.from(images.subarray(b * n, (b + 1) * n)) }]]));
  const targets = Array.from({ length: count }, (_, b) => ({ shape: [...tg.targetShape], data: labels.slice(b * t, (b + 1) * t) }));
  const weights = new Map(tg.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }]));
  const want = referenceBatch(tg, samples, targets, weights);
  const trainer = await WasmTrainer.create(tg, DEFAULT_OPTIMISER, 1, "winograd");
  expect(trainer.algorithms.some((a) => a.algorithm === "winograd")).toBe(true);
  const got = trainer.probe({ count, images, labels });
  for (const [w, g] of want.gradients) {
    const mean = (got.gradients.get(w) as Float32Array).map((v) => v / count);
    const err = relativeError(mean, g.data);
    if (err > TOL) expect.fail(`${w.name}: relative error ${err}`);
  }
  const dx = tg.inputGradients.get(input.name);
  if (dx !== undefined) {
    // The reference's per-sample gradients are of the batch's mean loss; the step's of each sample's.
    const err = relativeError(got.value(dx).map((v) => v / count), (want.inputGradients[count - 1].get(input.name) as { data: Float64Array }).data);
    if (err > TOL) expect.fail(`input gradient: relative error ${err}`);
  }
}

/** A safetensors file's tensors by name. */
function readWeights(bytes: Uint8Array): Map<string, Float32Array> {
  const r = readSafetensors(bytes, "weights");
  if (!r.ok) throw new Error(r.error);
  return new Map([...r.value].map(([name, t]) => [name, t.data]));
}

function randomPad(r: Rng): PadSpec {
  const kind = r.int(0, 4);
  if (kind === 0) return { kind: "same" };
  if (kind === 1) return { kind: "valid" };
  if (kind === 2) return { kind: "full" };
  return { kind: "explicit", before: [r.int(0, 2), r.int(0, 2)], after: [r.int(0, 2), r.int(0, 2)] };
}

describe("Winograd F(2x2, 3x3) in the WebAssembly training step equals the reference", () => {
  it(`one 3x3 layer: ${CASES} seeded cases, batches of 1 and 3`, async () => {
    for (let i = 0; i < CASES; i++) {
      const r = rng(91000 + i);
      const C = r.int(1, 9);
      const O = r.int(1, 9);
      const H = r.int(3, 13);
      const W = r.int(3, 13);
      const bias = r.pick(["channel", "none"] as const);
      const op: ConvOp = { kind: "conv", filters: O, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: randomPad(r), groups: 1, flip: r.bool(), bias };
      const b = new Builder();
      const x = b.input([C, H, W]);
      const y = b.node(op, [x], { weight: () => [O, C, 3, 3], ...(bias === "none" ? {} : { bias: () => [O] }) });
      const g: Graph = b.graph(y);
      for (const w of g.weights) w.data = f32(r, w.data.length);
      const tg = autodiff(g, { loss: "mse", inputGradients: true });
      try {
        await compare(tg, r, i % 2 ? 3 : 1);
      } catch (e) {
        throw new Error(`case ${i}: ${C}->${O} ${H}x${W} pad ${JSON.stringify(op.pad)} flip ${op.flip} bias ${bias}: ${(e as Error).message}`);
      }
    }
  });
});

/** Two residual blocks of 3x3 convolutions (with and without bias, one flipped) and batch norm. */
const RESIDUAL = `
network n(x: f32[3, 10, 9]) -> y {
  s = x |> c0: conv(6, 3x3, pad: same) |> relu
  h = s |> c1: conv(6, 3x3, pad: same, bias: none) |> bn1: batchnorm |> relu |> c2: conv(6, 3x3, pad: same)
  r = h + s |> relu
  t = r |> c3: conv(5, 3x3) |> bn2: batchnorm |> relu |> avgpool(8x7) |> flatten |> fc: dense(4) |> softmax
  y = t
}`;

describe("Winograd layers in whole training steps", () => {
  it("the labeller: 3x3 layers whose weights `repeat` shares (one U per weight; their kernel gradients by im2col), a batch of 2", async () => {
    const a = analyse(readFileSync("examples/labeler.cnn", "utf8"), { fileName: "labeler.cnn" });
    if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
    const tg = autodiff(specialise(a.graph, { H: 6, W: 5 }), { loss: "cross_entropy" });
    seedWeights(tg, 4);
    await compare(tg, rng(8), 2, 4);
  });

  for (const batchStatistics of [false, true]) {
    it(`a residual network, batch norm on ${batchStatistics ? "the batch's statistics (batch mode)" : "running statistics"}: gradients of a batch of 4`, async () => {
      const tg = trainGraphOf(RESIDUAL, "cross_entropy", batchStatistics);
      seedWeights(tg, 3);
      await compare(tg, rng(5), 4, 4);
    });
  }

  const source = `${RESIDUAL}
train n {
  loss = cross_entropy(y)
  optimizer = sgd(lr: 0.05, momentum: 0.9)
  batch = 6
}`;
  const batches = (count: number, seed: number): Batch[] => {
    const r = rng(seed);
    return Array.from({ length: count }, () => ({ count: 6, images: f32(r, 6 * 270, 0, 1), labels: Float64Array.from({ length: 6 }, () => r.int(0, 3)) }));
  };
  const trainer = async (convAlgorithm: TrainAlgorithmSetting, threads = 1, config = {}) => {
    const r = compileTraining(source, { fileName: "n.cnn", backend: "wasm", config });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    return r.load({ convAlgorithm, threads });
  };

  for (const batchnorm of ["running", "batch"] as const) {
    it(`three steps, evaluation and a restored state equal the im2col GEMM step's (batchnorm = ${batchnorm})`, async () => {
      const config = { batchStatistics: batchnorm === "batch" };
      const gemm = await trainer("gemm", 1, config);
      const wino = await trainer("winograd", 1, config);
      expect(gemm.algorithms?.every((a) => a.algorithm === "gemm")).toBe(true);
      expect(wino.algorithms?.filter((a) => a.algorithm === "winograd").map((a) => a.layer)).toEqual(["c0", "c1", "c2", "c3"]);
      const data = batches(4, 11);
      const start = readWeights(gemm.weights());
      for (const b of data.slice(0, 3)) {
        const [a, w] = [await gemm.step(b), await wino.step(b)];
        expect(Math.abs(a.loss - w.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(a.loss)));
      }
      // What the steps changed, which is small beside the weights themselves.
      const moved = (t: { weights(): Uint8Array }) => new Map([...readWeights(t.weights())].map(([name, d]) => [name, d.map((v, i) => v - (start.get(name) as Float32Array)[i])]));
      const ga = moved(gemm);
      const wa = moved(wino);
      for (const [name, d] of ga) {
        const err = relativeError(wa.get(name) as Float32Array, Float64Array.from(d));
        if (err > 1e-3) expect.fail(`${name}: relative error ${err} in what three steps changed`);
      }
      const [ea, ew] = [await gemm.evaluate(data[3]), await wino.evaluate(data[3])];
      expect(Math.abs(ea.loss - ew.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ea.loss)));
      // A fresh Winograd trainer restored to the GEMM one's state evaluates as it does: its U comes from the restored weights.
      const fresh = await trainer("winograd", 1, config);
      fresh.restoreState(gemm.saveState());
      const er = await fresh.evaluate(data[3]);
      expect(Math.abs(er.loss - ea.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ea.loss)));
      for (const t of [gemm, wino, fresh]) t.dispose();
    });
  }

  for (const batchnorm of ["running", "batch"] as const)
  it(`two threads take the steps one thread takes (batchnorm = ${batchnorm})`, async () => {
    const config = { batchStatistics: batchnorm === "batch" };
    const one = await trainer("winograd", 1, config);
    const two = await trainer("winograd", 2, config);
    expect(two.threading).toBe("2 threads");
    for (const b of batches(2, 12)) {
      const [a, w] = [await one.step(b), await two.step(b)];
      expect(Math.abs(a.loss - w.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(a.loss)));
    }
    const [wa, wb] = [readWeights(one.weights()), readWeights(two.weights())];
    for (const [name, d] of wa) expect(relativeError(wb.get(name) as Float32Array, Float64Array.from(d))).toBeLessThan(1e-5);
    one.dispose();
    two.dispose();
  });
});

describe("the cost model's picks", () => {
  const conv = (C: number, O: number, k: number, pad: PadSpec = { kind: "same" }): [ConvOp, number] => [{ kind: "conv", filters: O, kernel: [k, k], stride: [1, 1], dilation: [1, 1], pad, groups: 1, flip: false, bias: "channel" }, C];
  it("Winograd for 3x3 layers with channels to share the transforms, im2col GEMM for one input channel or other kernels", () => {
    const pick = ([op, C]: [ConvOp, number], H: number) => chooseTrainConv(op, [C, H, H], "auto", "l").algorithm;
    expect(pick(conv(16, 16, 3), 32)).toBe("winograd");
    expect(pick(conv(32, 32, 3), 8)).toBe("winograd");
    expect(pick(conv(1, 6, 3), 28)).toBe("gemm");
    expect(pick(conv(6, 16, 5), 14)).toBe("gemm");
    expect(chooseTrainConv(conv(6, 16, 5)[0], [6, 14, 14], "winograd", "l").why).toMatch(/3x3/);
  });
});
