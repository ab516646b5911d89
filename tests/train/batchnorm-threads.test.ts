// The WebAssembly step with batch norm in training mode on several threads: each thread holds
// its share of the batch, the batch norms' per-channel sums are exchanged through the main
// thread (compiler/backends/wasm/grad-batchnorm-parts.ts, compiler/train/batch-exchange.ts).
// Steps on 2 and 3 threads equal the one-thread batch-mode step to float rounding (losses,
// accuracies, every weight and running statistic after each step, evaluation) on the
// networks of batchnorm-batch.test.ts, for batches of 5, 2, 70 (past the 64 samples' memory
// first made, on one thread), 1, 3 and 140 (past it on every thread); a NaN step is refused
// with nothing changed and named by sample and layer as on one thread; `threading` says the
// threads.

import { describe, expect, it } from "vitest";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER, type OptimiserConfig } from "../../compiler/train/optim.js";
import { WasmTrainer } from "../../compiler/train/wasm-trainer.js";
import { relativeError } from "../relative-error.js";
import { bnGraphOf, makeBatch, NETWORKS } from "./batchnorm-cases.js";
import { seedWeights } from "./helpers.js";

// Adam only on the residual network: in the other two a bias feeds a batch norm (c1's, and
// bn1's into bn2), so its gradient is 0 but for rounding noise, whose sign Adam's first steps
// turn into a full step of lr either way; SGD moves such a weight by the noise alone.
const SGD: [string, OptimiserConfig] = ["sgd with momentum", { ...DEFAULT_OPTIMISER, kind: "sgd", lr: 0.05, momentum: 0.9 }];
const ADAM: [string, OptimiserConfig] = ["adam with clipping", { ...DEFAULT_OPTIMISER, kind: "adam", lr: 0.01, clip: 0.5 }];
const OPTIMISERS = [SGD, SGD, ADAM];

const TOLERANCE = 1e-5;

function expectClose(got: ReadonlyMap<string, Float32Array>, want: ReadonlyMap<string, Float32Array>, what: string): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, w] of want) {
    const err = relativeError(got.get(name) as Float32Array, w);
    if (err > TOLERANCE) expect.fail(`${what}: ${name}: relative error ${err}`);
  }
}

describe("batch norm in training mode on WebAssembly threads", () => {
  for (const [i, [name, source, loss, classes]] of NETWORKS.entries()) {
    const [optimiserName, optimiser] = OPTIMISERS[i];
    it(`2 and 3 threads take the one-thread steps: ${name} (${optimiserName}), batches of 5, 2, 70, 1, 3 and 140`, async () => {
      const tg = bnGraphOf(source, loss);
      seedWeights(tg, i + 1);
      const one = await WasmTrainer.create(tg, optimiser);
      const many = [await WasmTrainer.create(tg, optimiser, 2), await WasmTrainer.create(tg, optimiser, 3)];
      try {
        expect(many.map((t) => t.threading)).toEqual(["2 threads", "3 threads"]);
        for (const [s, count] of [5, 2, 70, 1, 3, 140].entries()) {
          const b = makeBatch(tg, 10 * i + s, count, classes);
          const want = one.step(b);
          const ref = one.weightTensors();
          for (const t of many) {
            const got = await t.stepAsync(b);
            const what = `${t.threading}, step ${s + 1} (batch of ${count})`;
            expect(Math.abs(got.loss - want.loss) / Math.max(1, Math.abs(want.loss)), what).toBeLessThan(TOLERANCE);
            expect(got.accuracy, what).toBe(want.accuracy);
            // Every weight, the running statistics among them.
            expectClose(t.weightTensors(), ref, what);
          }
        }
        const e = makeBatch(tg, 99, 7, classes);
        const want = one.evaluate(e);
        for (const t of many) {
          expect(t.steps).toBe(6);
          const got = t.evaluate(e);
          expect(Math.abs(got.loss - want.loss) / Math.max(1, Math.abs(want.loss))).toBeLessThan(TOLERANCE);
          expect(got.accuracy).toBe(want.accuracy);
        }
      } finally {
        for (const t of many) t.dispose();
      }
    });
  }

  const RESIDUAL = (NETWORKS[2][1] as string).replace("network n", "network r");

  it("load({ threads: 2 }) trains on 2 threads and says so", async () => {
    const r = compileTraining(RESIDUAL, { fileName: "r.cnn", backend: "wasm" });
    if (!r.ok) throw new Error("does not compile");
    const t = await r.load({ threads: 2 });
    try {
      expect(t.threading).toMatch(/^2 threads/);
      const s = await t.step(makeBatch(bnGraphOf(RESIDUAL, "cross_entropy"), 5, 4, 3));
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(t.steps).toBe(1);
    } finally {
      t.dispose();
    }
  });

  for (const [where, at] of [["the main thread's share", 1], ["a helper's share", 4]] as const) {
    it(`a NaN in ${where} is refused on 3 threads, named as on one thread, with nothing changed (running statistics and momentum included)`, async () => {
      const tg = bnGraphOf(RESIDUAL, "cross_entropy");
      seedWeights(tg, 4);
      const optimiser: OptimiserConfig = { ...DEFAULT_OPTIMISER, kind: "sgd", lr: 0.05, momentum: 0.9 };
      const [one, t] = [await WasmTrainer.create(tg, optimiser), await WasmTrainer.create(tg, optimiser, 3)];
      try {
        const good = makeBatch(tg, 1, 6, 3);
        one.step(good);
        await t.stepAsync(good);
        const before = t.saveState();
        const b = makeBatch(tg, 2, 6, 3);
        // Shares of 6 on 3 threads: [0, 2), [2, 4), [4, 6).
        b.images[at * 4 * 36 + 7] = NaN;
        // The batch's statistics carry the NaN to every sample, so sample 0 is named.
        const message = /step 2: the loss is NaN on sample 0 of the batch \(layer bn1 is the first to output a non-finite value\); the weights are left as they were after step 1/;
        expect(() => one.step(b)).toThrow(message);
        await expect(t.stepAsync(b)).rejects.toThrow(message);
        expect(t.steps).toBe(1);
        expect(t.saveState()).toEqual(before);
        // And the next good step is the one-thread trainer's.
        const next = makeBatch(tg, 3, 5, 3);
        const want = one.step(next);
        const got = await t.stepAsync(next);
        expect(Math.abs(got.loss - want.loss)).toBeLessThan(TOLERANCE);
        expectClose(t.weightTensors(), one.weightTensors(), "after the refused step");
      } finally {
        t.dispose();
      }
    });
  }
});
