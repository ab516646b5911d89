// The WebAssembly trainer on several threads (compiler/train/train-threads.ts): the batch's
// samples split between the main thread and helper workers, their gradient sums added before
// the one update. Steps equal the one-thread trainer's to float32 summation order (losses,
// accuracies, weights after several steps, with momentum and with Adam), a bad sample in a
// helper's share is named by its place in the whole batch, and the CLI takes --threads.

import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { compileTraining, type Trainer } from "../../compiler/train/compile-training.js";
import { splitSamples } from "../../compiler/train/train-threads.js";
import type { Batch } from "../../compiler/train/trainer.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { relativeError } from "../relative-error.js";
import { rng, LENET } from "./helpers.js";

function batch(seed: number, count: number): Batch {
  const r = rng(seed);
  return {
    count,
    images: Float32Array.from({ length: count * 784 }, () => r.next()),
    labels: Float64Array.from({ length: count }, () => r.int(0, 9)),
  };
}

async function trainer(threads: number, optimizer: string): Promise<Trainer> {
  const source = `${LENET}\ntrain lenet {\n  loss = cross_entropy(probs)\n  optimizer = ${optimizer}\n}\n`;
  const r = compileTraining(source, { fileName: "lenet.cnn", backend: "wasm" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.load({ threads });
}

function weights(t: Trainer): Map<string, Float32Array> {
  const r = readSafetensors(t.weights(), "w");
  if (!r.ok) throw new Error("unreadable weights");
  return new Map([...r.value].map(([k, v]) => [k, v.data]));
}

describe("WebAssembly training on threads", () => {
  it("splits samples into contiguous shares, the first ones a sample longer", () => {
    expect(splitSamples(64, 2)).toEqual([[0, 32], [32, 64]]);
    expect(splitSamples(7, 3)).toEqual([[0, 3], [3, 5], [5, 7]]);
    expect(splitSamples(2, 3)).toEqual([[0, 1], [1, 2], [2, 2]]);
  });

  for (const [name, optimizer] of [
    ["sgd with Nesterov momentum", "sgd(lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.0005)"],
    ["adam with clipping", "adam(lr: 0.002)\n  clip = 0.5"],
  ] as const) {
    it(`2 and 3 threads take the steps one thread takes (${name}), batches of 40 and 7`, async () => {
      const one = await trainer(1, optimizer);
      const many = [await trainer(2, optimizer), await trainer(3, optimizer)];
      expect(one.threading).toBe("one thread");
      expect(many[0].threading).toBe("2 threads");
      try {
        for (let s = 1; s <= 4; s++) {
          const b = batch(s, s % 2 ? 40 : 7);
          const want = await one.step(b);
          for (const t of many) {
            const got = await t.step(b);
            expect(Math.abs(got.loss - want.loss) / Math.abs(want.loss)).toBeLessThan(1e-5);
            expect(got.accuracy).toBe(want.accuracy);
          }
        }
        const w1 = weights(one);
        for (const t of many) {
          expect(t.steps).toBe(4);
          for (const [k, v] of weights(t)) expect(relativeError(v, w1.get(k) as Float32Array), k).toBeLessThan(1e-4);
        }
      } finally {
        for (const t of many) t.dispose();
      }
    });
  }

  it("names a bad sample of a helper's share by its place in the batch, and keeps the weights", async () => {
    const t = await trainer(2, "sgd(lr: 0.05)");
    try {
      await t.step(batch(1, 8));
      const good = t.weights();
      const b = batch(2, 8);
      // Sample 6 is in the helper's share (samples 4 to 7).
      b.images.fill(3e38, 6 * 784, 7 * 784);
      await expect(t.step(b)).rejects.toThrow(/step 2: the loss is NaN on sample 6 of the batch/);
      expect(t.weights()).toEqual(good);
    } finally {
      t.dispose();
    }
  });

  it("a Node script that never disposes its 2-thread trainer still exits (idle helpers hold no handle)", () => {
    const root = path.resolve(__dirname, "../..");
    const script = `
      const { compileTraining } = await import(${JSON.stringify(path.join(root, "dist/compiler/index.js"))});
      const r = compileTraining(${JSON.stringify(LENET)}, { fileName: "lenet.cnn", backend: "wasm" });
      const t = await r.load({ threads: 2 });
      const s = await t.step({ count: 4, images: new Float32Array(4 * 784).fill(0.5), labels: Float64Array.from([1, 2, 3, 4]) });
      console.log(t.threading, Number.isFinite(s.loss));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("2 threads true");
  });

  it("cnnc train --threads 2 trains and says so; --threads with the reference is a usage error", () => {
    const root = path.resolve(__dirname, "../..");
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), "train", "examples/lenet.cnn", "--data", "mnist", ...args], { cwd: root, encoding: "utf8" });
    const ok = run("--limit", "256", "--epochs", "1", "--threads", "2");
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toContain("training lenet on WebAssembly (2 threads): 256 samples");
    const bad = run("--threads", "2", "--backend", "reference");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--threads applies to the WebAssembly trainer (--backend wasm or auto), not reference");
  });
});
