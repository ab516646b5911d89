// `cnnc run --input image=digit.png|.jpg`: images decoded, resized and normalised to the
// input, equal to the same pixels given as .npy; --labels and --top print the best classes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { writeNpy } from "../../compiler/tensors/npy.js";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-image-"));

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A 28x28 grey "digit": a bright vertical bar on black, as RGBA. */
function digit(): Uint8Array {
  const rgba = new Uint8Array(28 * 28 * 4);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = x >= 12 && x < 16 && y >= 4 && y < 24 ? 255 : 0;
      rgba.set([v, v, v, 255], (y * 28 + x) * 4);
    }
  }
  return rgba;
}

describe("cnnc run --input NAME=IMAGE", () => {
  it("runs lenet on a PNG as on the same pixels in a .npy (unit normalisation)", () => {
    const png = new PNG({ width: 28, height: 28 });
    png.data = Buffer.from(digit());
    writeFileSync(path.join(tmp, "digit.png"), PNG.sync.write(png));
    const grey = new Float32Array(28 * 28);
    const rgba = digit();
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[i * 4] / 255;
    writeFileSync(path.join(tmp, "digit.npy"), writeNpy([1, 1, 28, 28], grey));
    const a = cnnc("run", "examples/lenet.cnn", "--input", `image=${path.join(tmp, "digit.png")}`);
    const b = cnnc("run", "examples/lenet.cnn", "--input", `image=${path.join(tmp, "digit.npy")}`);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.err).toContain("resized bilinearly and normalised 'unit'");
  });

  it("reads a JPEG of another size (resized), and prints the top classes with labels", () => {
    const big = new Uint8Array(56 * 56 * 4);
    const small = digit();
    for (let y = 0; y < 56; y++) for (let x = 0; x < 56; x++) big.set(small.subarray(((y >> 1) * 28 + (x >> 1)) * 4, ((y >> 1) * 28 + (x >> 1)) * 4 + 4), (y * 56 + x) * 4);
    writeFileSync(path.join(tmp, "digit.jpg"), jpeg.encode({ data: big, width: 56, height: 56 }, 95).data);
    writeFileSync(path.join(tmp, "labels.txt"), `${Array.from({ length: 10 }, (_, i) => `digit ${i}`).join("\n")}\n`);
    const r = cnnc("run", "examples/lenet.cnn", "--input", `image=${path.join(tmp, "digit.jpg")}`, "--labels", path.join(tmp, "labels.txt"), "--top", "3", "--normalize", "imagenet");
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toBe("probs: top 3");
    expect(lines).toHaveLength(4);
    for (const l of lines.slice(1)) expect(l).toMatch(/^\s+\d\s+[-\d.e]+\s+digit \d$/);
  });

  it("says why an image does not fit, and refuses an unknown normalisation", () => {
    const png = new PNG({ width: 4, height: 4 });
    writeFileSync(path.join(tmp, "tiny.png"), PNG.sync.write(png));
    let r = cnnc("run", "examples/audio1d.cnn", "--input", `wave=${path.join(tmp, "tiny.png")}`);
    expect(r.code).toBe(1);
    expect(r.err).toContain("an image gives a [C, H, W] input, and this input has 2 axes");
    writeFileSync(path.join(tmp, "broken.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    r = cnnc("run", "examples/lenet.cnn", "--input", `image=${path.join(tmp, "broken.png")}`);
    expect(r.code).toBe(1);
    expect(r.err).toContain("cannot decode the PNG image");
    r = cnnc("run", "examples/lenet.cnn", "--random", "--normalize", "zscore");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--normalize must be one of unit, imagenet, none");
  });
});
