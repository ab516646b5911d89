// Batch norm in training mode: the batch's own statistics normalise, so a sample's loss depends
// on every sample of the batch. The gradient of the batch's mean loss (the batch-level input
// gradient, and gamma's and beta's with batch statistics) against central finite differences of
// that mean loss, on seeded random batches; and the running statistics the trainer keeps.

import { describe, expect, it } from "vitest";
import type { Weight } from "../../compiler/ir/graph.js";
import { autodiff } from "../../compiler/train/autodiff.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { referenceBatch } from "../../compiler/train/reference-batch.js";
import type { Tensor } from "../../compiler/reference/tensor.js";
import { Builder, randomTensor, rng } from "./helpers.js";

describe("batch norm with batch statistics", () => {
  it("matches finite differences of the batch's mean loss (24 seeded batches)", () => {
    for (let k = 0; k < 24; k++) {
      const r = rng(500 + k);
      const b = new Builder();
      const d = 1 + (k % 3);
      const C = r.int(1, 3);
      const x = b.input([C, ...Array.from({ length: d }, () => r.int(1, 3))]);
      const ones = Array.from({ length: d }, () => 1);
      const h = b.node({ kind: "conv", filters: 2, kernel: ones, stride: ones, dilation: ones, pad: { kind: "valid" }, groups: 1, flip: false, bias: "channel" }, [x], { weight: () => [2, C, ...ones], bias: () => [2] });
      const c = (s: number[]): number[] => [s[0]];
      const n = b.node({ kind: "batchnorm", eps: 1e-3 }, [h], { weight: c, bias: c, running_mean: c, running_var: c }, "bn");
      const y = b.node({ kind: "activation", fn: "tanh", alpha: 0 }, [n]);
      const g = b.graph(b.node({ kind: "dense", units: 2, bias: "channel" }, [y], { weight: (s) => [2, s.reduce((p, q) => p * q, 1)], bias: () => [2] }));
      const tg = autodiff(g, { loss: "mse", batchStatistics: true, inputGradients: true });
      const B = r.int(2, 4);
      const inputs = Array.from({ length: B }, () => new Map([["x0", randomTensor(r, g.values[x].shape as number[])]]));
      const targets = Array.from({ length: B }, () => randomTensor(r, tg.targetShape));
      const weights = new Map<Weight, Tensor>(g.weights.map((w) => [w, randomTensor(r, w.shape, 0.5, 1.5)]));
      const J = (): number => {
        const res = referenceBatch(tg, inputs, targets, weights);
        return res.losses.reduce((a, v) => a + v, 0) / B;
      };
      const got = referenceBatch(tg, inputs, targets, weights);
      const h6 = 1e-6;
      const check = (what: string, t: Tensor, grad: Tensor): void => {
        for (let i = 0; i < t.data.length; i++) {
          const keep = t.data[i];
          t.data[i] = keep + h6;
          const up = J();
          t.data[i] = keep - h6;
          const down = J();
          t.data[i] = keep;
          const numeric = (up - down) / (2 * h6);
          if (Math.abs(grad.data[i] - numeric) > 1e-6 * Math.max(1, Math.abs(numeric))) expect.fail(`case ${k}: ${what}[${i}]: ${grad.data[i]} vs ${numeric}`);
        }
      };
      for (const w of g.weights) if (!w.name.includes("running")) check(w.name, weights.get(w) as Tensor, got.gradients.get(w) as Tensor);
      // Each sample's input moves every sample's loss through the batch statistics.
      inputs.forEach((inp, s) => check(`x of sample ${s}`, inp.get("x0") as Tensor, got.inputGradients[s].get("x0") as Tensor));
    }
  });

  it("updates the running statistics as PyTorch does (momentum 0.1, unbiased variance)", async () => {
    const src = `network n(x: f32[2, 3]) -> y {\n y = x |> bn: batchnorm |> flatten |> fc: dense(2)\n}\ntrain n { loss = mse \n optimizer = sgd(lr: 0.001) }\n`;
    const res = compileTraining(src, { fileName: "t.cnn" });
    if (!res.ok) throw new Error(res.diagnostics.map((d) => d.message).join("\n"));
    const t = await res.load();
    const images = Float32Array.from([1, 2, 3, 4, 5, 6, 0, 0, 3, 1, 1, 1]);
    await t.step({ count: 2, images, labels: new Float64Array(4) });
    const { readSafetensors } = await import("../../compiler/tensors/safetensors.js");
    const w = readSafetensors(t.weights(), "w");
    if (!w.ok) throw new Error(w.error);
    // Channel 0 sees 1, 2, 3, 0, 0, 3: mean 1.5, unbiased variance 9.5 / 5 = 1.9;
    // channel 1 sees 4, 5, 6, 1, 1, 1: mean 3, unbiased variance 26 / 5 = 5.2.
    const rm = w.value.get("bn.running_mean")?.data as Float32Array;
    const rv = w.value.get("bn.running_var")?.data as Float32Array;
    expect(rm[0]).toBeCloseTo(0.15, 6);
    expect(rm[1]).toBeCloseTo(0.3, 6);
    expect(rv[0]).toBeCloseTo(0.9 + 0.19, 6);
    expect(rv[1]).toBeCloseTo(0.9 + 0.52, 6);
  });
});
