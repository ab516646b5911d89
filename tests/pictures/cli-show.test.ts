// `cnnc show kernels|features` end to end on the built CLI: the PNG decoded with pngjs equals
// the picture of the weights (or of the reference's feature maps) the model has, from a
// weights file, a literal in the source or seeded initialisation; bad flags and names get
// messages with suggestions and write nothing.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/analyse.js";
import { featureGrid, type GridPicture, kernelGrid } from "../../compiler/pictures/grids.js";
import { interpret } from "../../compiler/reference/interpret.js";
import type { Tensor } from "../../compiler/reference/tensor.js";
import { writeNpy } from "../../compiler/tensors/npy.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";
import { rng } from "../rng.js";

const root = path.resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-show-"));
const LENET = path.join(root, "examples/lenet.cnn");

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function decode(file: string): PNG {
  return PNG.sync.read(readFileSync(file));
}

function samePixels(png: PNG, p: GridPicture): void {
  expect([png.width, png.height]).toEqual([p.width, p.height]);
  expect(Buffer.compare(png.data, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength))).toBe(0);
}

const randoms = (n: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r.next() * 2 - 1);
};

describe("cnnc show kernels", () => {
  it("draws a layer's kernels from a weights file", () => {
    const conv2 = { shape: [16, 6, 5, 5], data: randoms(16 * 6 * 25, 7) };
    const w = path.join(tmp, "lenet.safetensors");
    writeFileSync(w, writeSafetensors(new Map([["conv2.weight", conv2]])));
    const out = path.join(tmp, "conv2.png");
    const r = cnnc("show", "kernels", LENET, "--layer", "conv2", "--weights", w, "--scale", "3", "-o", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`conv2: 16 filters of 6 channels, 5x5 (from ${w})`);
    const png = decode(out);
    const p = kernelGrid(conv2, { scale: 3 });
    samePixels(png, p);
    expect(p.tiles[0].scale).toBe(3);
    // 16 filters x 6 channels, grey: the first tile's first pixel is conv2.weight[0, 0, 0, 0], normalised over the layer.
    expect(p.tiles.length).toBe(96);
    const lo = Math.min(...conv2.data);
    const hi = Math.max(...conv2.data);
    const t = p.tiles[0];
    expect(png.data[(t.y * png.width + t.x) * 4]).toBe(Math.round(((conv2.data[0] - lo) / (hi - lo)) * 255));
  });

  it("draws hand-made and initialised kernels; the first convolution by default", () => {
    const model = path.join(tmp, "edges.cnn");
    writeFileSync(model, "network e(x: f32[1, 8, 8]) -> y {\n  y = x |> diff: conv(1, 1x2, weight: [[-1, 1]], bias: none)\n}\n");
    const out = path.join(tmp, "diff.png");
    const r = cnnc("show", "kernels", model, "-o", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("diff: 1 filter of 1 channel, 1x2 (written in the source)");
    const png = decode(out);
    const p = kernelGrid({ shape: [1, 1, 1, 2], data: Float32Array.of(-1, 1) });
    samePixels(png, p);
    const t = p.tiles[0];
    expect(png.data[(t.y * png.width + t.x) * 4]).toBe(0);
    expect(png.data[(t.y * png.width + t.x + t.scale) * 4]).toBe(255);
    // Seeded initialisation: the same picture every time.
    const a = path.join(tmp, "init-a.png");
    const b = path.join(tmp, "init-b.png");
    expect(cnnc("show", "kernels", LENET, "-o", a).code).toBe(0);
    expect(cnnc("show", "kernels", LENET, "-o", b).code).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    const g = analyse(readFileSync(LENET, "utf8"), { fileName: LENET }).graph!;
    const conv1 = g.nodes.find((n) => n.layer === "conv1")!.weights.weight!;
    samePixels(decode(a), kernelGrid(conv1));
  });

  it("says which layers have kernels when the name is wrong or the layer has none", () => {
    const out = path.join(tmp, "never.png");
    const typo = cnnc("show", "kernels", LENET, "--layer", "conv3", "-o", out);
    expect(typo.code).toBe(1);
    expect(typo.err).toContain("cnnc: error: the network has no layer 'conv3' (did you mean 'conv1'?); layers with kernels: conv1, conv2");
    const dense = cnnc("show", "kernels", LENET, "--layer", "fc1", "-o", out);
    expect(dense.code).toBe(1);
    expect(dense.err).toContain("layer 'fc1' cannot be drawn as kernels: it is a dense layer, which has no kernels");
    const local = cnnc("show", "kernels", "examples/face_local.cnn", "--layer", "parts", "-o", out);
    expect(local.code).toBe(1);
    expect(local.err).toContain("a local layer has a kernel per output position");
    const volume = cnnc("show", "kernels", "examples/volume3d.cnn", "-o", out);
    expect(volume.code).toBe(1);
    expect(volume.err).toContain("1-D and 2-D kernels are drawn");
    expect(existsSync(out)).toBe(false);
    for (const r of [typo, dense, local, volume]) expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe("cnnc show features", () => {
  it("draws a layer's feature maps for a .npy input, as the reference computes them", () => {
    const image = { shape: [1, 28, 28], data: randoms(784, 11).map((v) => (v + 1) / 2) };
    const x = path.join(tmp, "x.npy");
    writeFileSync(x, writeNpy(image.shape, image.data));
    const out = path.join(tmp, "c1.png");
    const r = cnnc("show", "features", LENET, "--input", `image=${x}`, "--layer", "c1", "-o", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("c1: 6 maps of [6, 14, 14]");
    const g = analyse(readFileSync(LENET, "utf8"), { fileName: LENET }).graph!;
    const env = new Map<number, Tensor>();
    interpret(g, new Map([["image", { shape: image.shape, data: Float64Array.from(image.data) }]]), env);
    // c1 is the statement's value: after conv1, relu and the pool (layer c1.2).
    const c1 = env.get(g.nodes.find((n) => n.layer === "c1.2")!.output)!;
    samePixels(decode(out), featureGrid(c1));
  });

  it("takes a PNG image or --random, and a layer by its label", () => {
    const png = new PNG({ width: 28, height: 28 });
    for (let i = 0; i < 28 * 28; i++) png.data.set([i % 256, i % 256, i % 256, 255], i * 4);
    const img = path.join(tmp, "digit.png");
    writeFileSync(img, PNG.sync.write(png));
    const a = cnnc("show", "features", LENET, "--input", `image=${img}`, "--layer", "conv2", "-o", path.join(tmp, "conv2-maps.png"));
    expect(a.code, a.err).toBe(0);
    expect(a.out).toContain("conv2: 16 maps of [16, 10, 10]");
    const b = cnnc("show", "features", LENET, "--random", "3", "--layer", "fc1", "-o", path.join(tmp, "fc1.png"));
    expect(b.code, b.err).toBe(0);
    expect(decode(path.join(tmp, "fc1.png")).height).toBeGreaterThan(0);
  });

  it("refuses bad flags with a usage message, and unknown names with a suggestion", () => {
    const out = path.join(tmp, "never.png");
    const cases: [string[], number, string][] = [
      [["show", "features", LENET, "--random", "--layer", "c3", "-o", out], 1, "the network has no layer or value 'c3' (did you mean 'fc3'?)"],
      [["show", "features", LENET, "--random", "-o", out], 2, "show features needs --layer NAME"],
      [["show", "features", LENET, "--layer", "c1", "-o", out], 2, "show features needs --input NAME=FILE or --random"],
      [["show", "kernels", LENET, "--random", "-o", out], 2, "--random applies to show features, not show kernels"],
      [["show", "kernels", LENET], 2, "show kernels needs -o FILE.png"],
      [["show", "kernels", LENET, "-o", path.join(tmp, "k.jpg")], 2, "show writes a PNG"],
      [["show", "kernel", LENET, "-o", out], 2, "show draws kernels or features, not 'kernel' (did you mean 'kernels'?)"],
      [["show", "kernels", "-o", out], 2, "show needs a model file"],
      [["show", "kernels", LENET, "--layr", "conv1", "-o", out], 2, "show does not take --layr (did you mean '--layer'?)"],
      [["show", "kernels", LENET, "--scale", "0", "-o", out], 2, "--scale must be a whole number of pixels from 1 to 64, not 0"],
      [["show", "kernels", LENET, "-o", LENET.replace(".cnn", ".png"), "--weights", LENET], 1, "error"],
    ];
    for (const [args, code, message] of cases) {
      const r = cnnc(...args);
      expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(code);
      expect(r.err).toContain(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(out)).toBe(false);
    expect(existsSync(LENET.replace(".cnn", ".png"))).toBe(false);
  });

  it("is listed in help", () => {
    expect(cnnc("--help").out).toMatch(/\n {2}show +draw a layer's kernels or feature maps as a PNG\n/);
    expect(cnnc("help", "show").out).toContain("usage: cnnc show kernels MODEL.cnn");
  });
});
