// Batch norm in training mode (`batchnorm = batch`, the default) in the compiled training
// steps: the forward normalises by the batch's own statistics, the input gradient sums over
// the batch, the running statistics follow each good step (PyTorch's rule), and evaluation
// uses the running ones. Each compiled step is held to the reference (reference-batch.ts,
// itself held to finite differences in grad-ops.test.ts): gradients on seeded networks with
// batch norm after a conv, on a dense output, at the input, twice in a row and inside a
// residual block, for batches of 1, 3 and 5; then whole steps, running statistics and
// evaluation against the reference trainer; a batch larger than the memory first made; a
// NaN named by sample and layer. (The same on threads: batchnorm-threads.test.ts.)

import { describe, expect, it } from "vitest";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER } from "../../compiler/train/optim.js";
import { referenceBatch } from "../../compiler/train/reference-batch.js";
import { WasmTrainer } from "../../compiler/train/wasm-trainer.js";
import { WebGpuTrainer } from "../../compiler/train/webgpu-trainer.js";
import { unsupportedOps as wasmMissing } from "../../compiler/backends/wasm/grad-module.js";
import { unsupportedOps as gpuMissing } from "../../compiler/backends/wgsl/grad-module.js";
import type { TrainGraph } from "../../compiler/train/graph.js";
import type { Batch } from "../../compiler/train/trainer.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import { relativeError } from "../relative-error.js";
import { seedWeights } from "./helpers.js";
import { bnGraphOf, makeBatch, NETWORKS } from "./batchnorm-cases.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;

function reference(tg: TrainGraph, b: Batch) {
  const input = tg.forward.inputs[0];
  const shape = tg.values[input.value].shape as number[];
  const n = shape.reduce((p, d) => p * d, 1);
  const t = tg.targetShape.reduce((p, d) => p * d, 1);
  const samples = Array.from({ length: b.count }, (_, i) => new Map([[input.name, { shape, data: Float64Array.from(b.images.subarray(i * n, (i + 1) * n)) }]]));
  const targets = Array.from({ length: b.count }, (_, i) => ({ shape: [...tg.targetShape], data: b.labels.slice(i * t, (i + 1) * t) }));
  return referenceBatch(tg, samples, targets, new Map(tg.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }])));
}

function expectSame(got: ReadonlyMap<unknown, Float32Array>, want: ReturnType<typeof reference>, count: number, tol: number): void {
  expect(got.size).toBe(want.gradients.size);
  for (const [w, g] of want.gradients) {
    // The steps' sums are over the samples; the reference's gradient is of the mean loss.
    const err = relativeError((got.get(w) as Float32Array).map((v) => v / count), g.data);
    if (err > tol) expect.fail(`${w.name}: relative error ${err}`);
  }
}

describe("batch norm in training mode in the compiled training steps", () => {
  for (const [name, source, loss, classes] of NETWORKS) {
    it(`WebAssembly gradients: ${name}, batches of 1, 3 and 5, 3 seeds`, async () => {
      for (const count of [1, 3, 5]) {
        for (let seed = 1; seed <= 3; seed++) {
          const tg = bnGraphOf(source, loss);
          expect(wasmMissing(tg)).toEqual([]);
          seedWeights(tg, seed);
          const b = makeBatch(tg, seed, count, classes);
          const got = (await WasmTrainer.create(tg, DEFAULT_OPTIMISER)).probe(b);
          expectSame(got.gradients, reference(tg, b), count, 2e-5);
        }
      }
    });

    gpuIt(`WebGPU gradients: ${name}, batches of 1, 3 and 5, 3 seeds`, async () => {
      for (const count of [1, 3, 5]) {
        for (let seed = 1; seed <= 3; seed++) {
          const tg = bnGraphOf(source, loss);
          expect(gpuMissing(tg)).toEqual([]);
          seedWeights(tg, seed);
          const b = makeBatch(tg, seed, count, classes);
          const trainer = await WebGpuTrainer.create(tg, DEFAULT_OPTIMISER);
          try {
            expectSame((await trainer.probe(b)).gradients, reference(tg, b), count, 1e-4);
          } finally {
            trainer.dispose();
          }
        }
      }
    });
  }

  const RESIDUAL = (NETWORKS[2][1] as string).replace("network n", "network r");
  const backends = [["wasm", it] as const, ["webgpu", gpuIt] as const];
  for (const [backend, test] of backends) {
    test(`${backend}: three steps (batches of 6, 70 and 6), the running statistics and evaluation equal the reference trainer's`, async () => {
      const make = (b: "reference" | "wasm" | "webgpu") => {
        const r = compileTraining(RESIDUAL, { fileName: "r.cnn", backend: b, config: { optimiser: { ...DEFAULT_OPTIMISER, kind: "sgd", lr: 0.05, momentum: 0.9 } } });
        if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
        expect(r.backend).toBe(b);
        return r.load();
      };
      const [ref, got] = await Promise.all([make("reference"), make(backend)]);
      try {
        const tg = bnGraphOf(RESIDUAL, "cross_entropy");
        // 70 samples: more than the 64 the WebAssembly step first makes room for.
        for (const [s, count] of [[1, 6], [2, 70], [3, 6]] as const) {
          const b = makeBatch(tg, s, count, 3);
          const [a, w] = [await ref.step(b), await got.step(b)];
          expect(Math.abs(a.loss - w.loss)).toBeLessThan(1e-4);
          expect(w.accuracy).toBe(a.accuracy);
        }
        await got.sync();
        const want = readSafetensors(ref.weights(), "ref");
        const have = readSafetensors(got.weights(), backend);
        if (!want.ok || !have.ok) throw new Error("unreadable weights");
        expect([...want.value.keys()].filter((k) => k.includes("running"))).toHaveLength(4);
        for (const [name, t] of want.value) {
          const err = relativeError((have.value.get(name) as { data: Float32Array }).data, t.data);
          if (err > 1e-4) expect.fail(`${name}: relative error ${err} after 3 steps`);
        }
        // Evaluation normalises by the running statistics, sample by sample.
        const e = makeBatch(tg, 9, 5, 3);
        const [e1, e2] = [await ref.evaluate(e), await got.evaluate(e)];
        expect(Math.abs(e1.loss - e2.loss)).toBeLessThan(1e-4);
        expect(e2.accuracy).toBe(e1.accuracy);
      } finally {
        got.dispose();
      }
    });
  }

  for (const [backend, test] of backends) {
    test(`${backend}: a NaN is named by step, sample and layer, and nothing changes, the running statistics included`, async () => {
      const r = compileTraining(RESIDUAL, { fileName: "r.cnn", backend });
      if (!r.ok) throw new Error("does not compile");
      const t = await r.load();
      try {
        await t.sync();
        const before = t.weights();
        const b = makeBatch(bnGraphOf(RESIDUAL, "cross_entropy"), 4, 4, 3);
        b.images[4 * 36 * 2 + 7] = NaN;
        // The batch's statistics carry sample 2's NaN to every sample, so sample 0 is named. (WGSL
        // need not keep a NaN through every op: on WebGPU the loss may come out finite and a
        // gradient not.)
        await expect(t.step(b)).rejects.toThrow(/step 1: (the loss is NaN|the gradient of \S+ is not finite) on sample 0 of the batch \(layer bn1 is the first to output a non-finite value\)/);
        await t.sync();
        expect(t.weights()).toEqual(before);
      } finally {
        t.dispose();
      }
    });
  }
});
