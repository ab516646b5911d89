// k-means features (section 9.9, compiler/train/kmeans.ts and `cnnc kmeans`): spherical k-means
// recovers known clusters up to permutation, a seeded run is reproducible, patches are
// normalised as Coates and Ng do, the command writes filters that compile, and bad arguments
// are one clear message. The last test is the section's point on MNIST: frozen k-means conv1
// features beat frozen random ones when only the last layer is trained.

import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { bundledMnist } from "../../compiler/train/data.js";
import { trainCommand } from "../../compiler/train/cli.js";
import { checkKmeans, extractPatches, KmeansError, kmeansFilters, sphericalKmeans } from "../../compiler/train/kmeans.js";
import { kmeansCommand } from "../../compiler/train/kmeans-cli.js";
import { Random } from "../../compiler/tensors/random.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { writeNpy } from "../../compiler/tensors/npy.js";

type Io = { code: number; err: string; out: string };

async function cli(fn: typeof kmeansCommand | typeof trainCommand, argv: string[]): Promise<Io> {
  let err = "";
  let out = "";
  const code = await fn(argv, { stderr: { write: (s: string) => (err += s) }, stdout: { write: (s: string) => (out += s) } });
  return { code, err, out };
}

const unit = (v: Float64Array): Float64Array => {
  const n = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  return v.map((x) => x / n);
};

describe("spherical k-means", () => {
  it("recovers known clusters up to permutation", () => {
    const d = 9;
    const k = 4;
    const rng = new Random(3);
    const centres = Array.from({ length: k }, () => unit(Float64Array.from({ length: d }, () => rng.normal())));
    const n = 400;
    const data = new Float32Array(n * d);
    for (let p = 0; p < n; p++) for (let i = 0; i < d; i++) data[p * d + i] = centres[p % k][i] + 0.05 * rng.normal();
    const r = sphericalKmeans(data, d, { k, seed: 1 });
    const matched = centres.map((c) => {
      const cos = Array.from({ length: k }, (_, j) => c.reduce((a, x, i) => a + x * r.centroids[j * d + i], 0));
      const best = cos.indexOf(Math.max(...cos));
      expect(cos[best]).toBeGreaterThan(0.99);
      return best;
    });
    expect(new Set(matched).size).toBe(k);
    // Every point went to the centroid of its own centre.
    for (let p = 0; p < n; p++) expect(r.assignment[p]).toBe(matched[p % k]);
    for (let j = 0; j < k; j++) {
      let norm = 0;
      for (let i = 0; i < d; i++) norm += r.centroids[j * d + i] ** 2;
      expect(norm).toBeCloseTo(1, 5);
    }
  });

  it("is reproducible from its seed", () => {
    const rng = new Random(5);
    const images = Float32Array.from({ length: 20 * 12 * 12 }, () => rng.uniform());
    const run = (seed: number) => kmeansFilters(images, 20, [1, 12, 12], { k: 6, kernel: [3, 3], patches: 300, seed }).weight;
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it("normalises each patch: minus its mean, over sqrt(variance + eps); flat patches are skipped", () => {
    // Images the size of the kernel, so that each patch is a whole image.
    const rng = new Random(11);
    const images = Float32Array.from({ length: 5 * 2 * 3 * 3 }, () => rng.uniform());
    const patches = extractPatches(images, 5, { sampleShape: [2, 3, 3], kernel: [3, 3], patches: 10, seed: 1, eps: 0.01 });
    const d = 18;
    const expected = Array.from({ length: 5 }, (_, img) => {
      const p = Array.from(images.subarray(img * d, img * d + d));
      const mean = p.reduce((a, b) => a + b, 0) / d;
      const variance = p.reduce((a, b) => a + (b - mean) ** 2, 0) / d;
      return p.map((x) => (x - mean) / Math.sqrt(variance + 0.01));
    });
    for (let q = 0; q < 10; q++) {
      const got = Array.from(patches.subarray(q * d, q * d + d));
      const match = expected.find((e) => e.every((x, i) => Math.abs(x - got[i]) < 1e-5));
      expect(match).toBeDefined();
    }
    const flat = new Float32Array(4 * 8 * 8).fill(0.5);
    expect(() => extractPatches(flat, 4, { sampleShape: [1, 8, 8], kernel: [3, 3], patches: 10, seed: 1 })).toThrow(/found only 0 non-flat 3x3 patches/);
  });

  it("takes a dilated conv's patches, and flips the filters of a flipped one", () => {
    // 5x5 images and a 3x3 kernel dilated 2: each patch is the image's even rows and columns.
    const rng = new Random(13);
    const images = Float32Array.from({ length: 4 * 25 }, () => rng.uniform());
    const patches = extractPatches(images, 4, { sampleShape: [1, 5, 5], kernel: [3, 3], dilation: [2, 2], patches: 8, seed: 2, eps: 0 });
    const expected = Array.from({ length: 4 }, (_, img) => {
      const p = [0, 2, 4].flatMap((y) => [0, 2, 4].map((x) => images[img * 25 + y * 5 + x]));
      const mean = p.reduce((a, b) => a + b, 0) / 9;
      const sd = Math.sqrt(p.reduce((a, b) => a + (b - mean) ** 2, 0) / 9);
      return p.map((x) => (x - mean) / sd);
    });
    for (let q = 0; q < 8; q++) {
      const got = Array.from(patches.subarray(q * 9, q * 9 + 9));
      expect(expected.some((e) => e.every((x, i) => Math.abs(x - got[i]) < 1e-4))).toBe(true);
    }
    expect(() => extractPatches(images, 4, { sampleShape: [1, 5, 5], kernel: [3, 3], dilation: [3, 3], patches: 8, seed: 2 })).toThrow(/3x3 patch dilated 3x3 does not fit in a 5x5 image/);
    const big = Float32Array.from({ length: 10 * 100 }, () => rng.uniform());
    const plain = kmeansFilters(big, 10, [1, 10, 10], { k: 3, kernel: [2, 3], patches: 100, seed: 4 }).weight;
    const flip = kmeansFilters(big, 10, [1, 10, 10], { k: 3, kernel: [2, 3], patches: 100, seed: 4, flip: true }).weight;
    for (let f = 0; f < 3; f++) expect(Array.from(flip.subarray(f * 6, f * 6 + 6))).toEqual(Array.from(plain.subarray(f * 6, f * 6 + 6)).reverse());
  });

  it("refuses bad arguments by name", () => {
    expect(() => checkKmeans(100, 9, 0, 10)).toThrow(KmeansError);
    expect(() => checkKmeans(100, 9, 0, 10)).toThrow(/k >= 1/);
    expect(() => checkKmeans(3, 9, 4, 10)).toThrow(/at least as many patches as centroids \(4\), got 3/);
    expect(() => checkKmeans(2_000_000, 9, 4, 10)).toThrow(/at most 1000000 patches/);
    expect(() => checkKmeans(100, 9, 4, 0)).toThrow(/iterations must be/);
  });
});

const NET = `network tiny(x: f32[1, 8, 8]) -> probs {
  probs = x |> c: conv(3, 3x3) |> relu |> flatten |> fc: dense(2) |> softmax
}
`;

function setup(): { dir: string; model: string; data: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "cnnc-kmeans-"));
  const model = path.join(dir, "tiny.cnn");
  writeFileSync(model, NET);
  const rng = new Random(2);
  writeFileSync(path.join(dir, "x.npy"), writeNpy([30, 1, 8, 8], Float32Array.from({ length: 30 * 64 }, () => rng.uniform())));
  writeFileSync(path.join(dir, "y.npy"), writeNpy([30], new Float32Array(30).map((_, i) => i % 2)));
  return { dir, model, data: `${path.join(dir, "x.npy")},${path.join(dir, "y.npy")}` };
}

describe("cnnc kmeans", () => {
  it("writes the layer's filters, unit vectors that compile as its weights", async () => {
    const { dir, model, data } = setup();
    const out = path.join(dir, "c.safetensors");
    const r = await cli(kmeansCommand, [model, "--layer", "c", "--data", data, "--patches", "200", "-o", out]);
    expect(r.err).toMatch(/^k-means: 3 filters of 1x3x3 from 200 patches of 30 images/);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`wrote ${out} (c.weight [3, 1, 3, 3])\n`);
    const bytes = new Uint8Array(readFileSync(out));
    const t = readSafetensors(bytes, out);
    if (!t.ok) throw new Error(t.error);
    const w = t.value.get("c.weight");
    expect(w?.shape).toEqual([3, 1, 3, 3]);
    for (let f = 0; f < 3; f++) expect(w?.data.subarray(f * 9, f * 9 + 9).reduce((a, b) => a + b * b, 0)).toBeCloseTo(1, 4);
    const c = compile(NET, { fileName: model, weights: bytes });
    expect(c.ok).toBe(true);
    if (c.ok) expect(c.initialised).not.toContain("c");
  });

  it("makes bad input one message, exit 1 (2 for usage), and writes nothing", async () => {
    const { dir, model, data } = setup();
    const out = path.join(dir, "bad.safetensors");
    const cases: [string[], number, RegExp][] = [
      [["--layer", "c", "--data", data, "--patches", "2"], 1, /at least as many patches as centroids \(3\), got 2/],
      [["--layer", "c", "--data", path.join(dir, "missing.npz")], 1, /cannot read .*missing\.npz: ENOENT/],
      [["--layer", "nope", "--data", data], 1, /tiny has no layer 'nope' \(its conv layers: c\)/],
      [["--layer", "fc", "--data", data], 1, /layer 'fc' is a dense; kmeans learns the filters of a conv layer/],
      [["--layer", "c", "--data", data, "--patches", "0"], 2, /--patches takes an integer >= 1, got 0/],
      [["--data", data], 2, /kmeans needs --layer/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(kmeansCommand, [model, ...args, "-o", out]);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(code);
      expect(existsSync(out)).toBe(false);
    }
  });

  it("never writes over an input, and replaces an existing file only with --force", async () => {
    const { dir, model, data } = setup();
    const before = readFileSync(model, "utf8");
    const over = await cli(kmeansCommand, [model, "--layer", "c", "--data", data, "--patches", "50", "-o", model, "--force"]);
    expect(over.code).toBe(1);
    expect(readFileSync(model, "utf8")).toBe(before);
    const out = path.join(dir, "taken.safetensors");
    writeFileSync(out, "not mine");
    const refused = await cli(kmeansCommand, [model, "--layer", "c", "--data", data, "--patches", "50", "-o", out]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--force/);
    expect(readFileSync(out, "utf8")).toBe("not mine");
    const forced = await cli(kmeansCommand, [model, "--layer", "c", "--data", data, "--patches", "50", "-o", out, "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(out).subarray(8, 9).toString()).toBe("{");
  });
});

// Section 9.9 on MNIST: conv1's 16 filters from k-means of 10,000 patches, then only the dense
// layer trained (conv1 frozen) for 2 epochs on 3,000 digits with adam(lr: 0.01). By hand on the
// WebAssembly trainer: 92.41% on the 10,000 test digits with k-means features against 87.22%
// with the default random (He-normal) conv1. About 20 s on one core.
const FEATURES = `network feat(image: f32[1, 28, 28]) -> probs {
  probs = image |> conv1: conv(16, 5x5, stride: 2) |> relu |> maxpool(2x2, stride: 2) |> flatten |> fc: dense(10) |> softmax
}
train feat {
  frozen = conv1
  optimizer = adam(lr: 0.01)
  batch = 32
  epochs = 2
}
`;

describe.runIf(bundledMnist() !== undefined)("k-means features on MNIST", () => {
  it("beat random frozen features when only the last layer trains", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cnnc-kmeans-mnist-"));
    const model = path.join(dir, "feat.cnn");
    writeFileSync(model, FEATURES);
    const w = path.join(dir, "conv1.safetensors");
    const k = await cli(kmeansCommand, [model, "--layer", "conv1", "--data", "mnist", "--patches", "10000", "-o", w]);
    expect(k.code).toBe(0);
    const accuracy = async (extra: string[]): Promise<number> => {
      const r = await cli(trainCommand, [model, "--data", "mnist", "--val", "mnist", "--limit", "3000", ...extra]);
      expect(r.code).toBe(0);
      const m = /epoch 2\/2: .*val loss [\d.]+ acc ([\d.]+)%/.exec(r.err);
      expect(m).not.toBeNull();
      return Number(m?.[1]);
    };
    const learned = await accuracy(["--weights", w]);
    const random = await accuracy([]);
    expect(learned).toBeGreaterThan(90);
    expect(learned).toBeGreaterThan(random + 3);
  }, 120_000);
});
