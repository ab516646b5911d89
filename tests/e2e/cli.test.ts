// The command line end to end, as a user runs it: `node bin/cnnc.js ...` on the built
// compiler (npm test builds first), checking exit codes, messages and the files written.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy, writeNpy } from "../../compiler/tensors/npy.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-cli-"));

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function randomImage(file: string, shape: number[], seed = 1): void {
  let s = seed;
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  });
  writeFileSync(file, writeNpy(shape, data));
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

describe("cnnc check", () => {
  it("accepts every example", () => {
    for (const ex of ["lenet", "edges", "audio1d", "volume3d"]) {
      const r = cnnc("check", `examples/${ex}.cnn`);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toBe(`examples/${ex}.cnn: ok\n`);
    }
  });

  it("prints diagnostics with a caret and exits 1", () => {
    const f = path.join(tmp, "bad.cnn");
    writeFileSync(f, "network n(x: f32[1, 8, 8]) -> y {\n  y = x |> conv(4, 3x3) |> rleu\n}\n");
    const r = cnnc("check", f);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${f}:2:28: error: unknown op 'rleu' (did you mean 'relu'?)`);
    expect(r.err).toContain("^~~~");
    expect(r.err).not.toContain("    at ");
  });

  it("exits 2 on a usage error", () => {
    expect(cnnc("frobnicate").code).toBe(2);
    expect(cnnc("check").code).toBe(2);
    expect(cnnc("run", "examples/lenet.cnn", "--backend", "cuda").code).toBe(2);
  });

  it("says when the model file cannot be read", () => {
    const r = cnnc("check", "no/such.cnn");
    expect(r.code).toBe(1);
    expect(r.err).toBe("no/such.cnn: error: cannot read the file (ENOENT)\n");
  });
});

describe("cnnc run", () => {
  it("gives the same result on wasm and on the reference for lenet (1e-5)", () => {
    const x = path.join(tmp, "x.npy");
    randomImage(x, [1, 1, 28, 28]);
    const ref = path.join(tmp, "ref.npy");
    const wasm = path.join(tmp, "wasm.npy");
    const a = cnnc("run", "examples/lenet.cnn", "--input", `image=${x}`, "--backend", "reference", "-o", ref);
    const b = cnnc("run", "examples/lenet.cnn", "--input", `image=${x}`, "--backend", "wasm", "-o", wasm);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(b.err).toContain("note: no weights given for layers conv1, conv2, fc1, fc2, fc3");
    const ra = readNpy(new Uint8Array(readFileSync(ref)), ref);
    const rb = readNpy(new Uint8Array(readFileSync(wasm)), wasm);
    if (!ra.ok || !rb.ok) throw new Error("unreadable output");
    expect(ra.value.shape).toEqual([1, 10]);
    expect(maxRelErr(rb.value.data, ra.value.data)).toBeLessThan(1e-5);
  });

  it("prints the outputs when no -o is given", () => {
    const r = cnnc("run", "examples/lenet.cnn", "--random", "--backend", "wasm");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^probs: f32\[1, 10\] = \[/);
    expect(r.out).toContain("argmax per sample:");
  });

  it("fails clearly on a missing input, a wrong shape and a bad .npy, writing nothing", () => {
    const out = path.join(tmp, "never.npy");
    let r = cnnc("run", "examples/lenet.cnn", "-o", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain("cnnc: error: missing input 'image': pass --input image=FILE (a .npy array or a .png/.jpg image), or --random\n");

    const wrong = path.join(tmp, "wrong.npy");
    randomImage(wrong, [1, 3, 28, 28]);
    r = cnnc("run", "examples/lenet.cnn", "--input", `image=${wrong}`, "-o", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain("cnnc: error: input 'image' has shape [1, 3, 28, 28], expected image: f32[1, 28, 28] (with an optional leading batch axis): it must have 1 channel\n");

    const bad = path.join(tmp, "bad.npy");
    writeFileSync(bad, Buffer.from("not a numpy file at all"));
    r = cnnc("run", "examples/lenet.cnn", "--input", `image=${bad}`, "-o", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad}: error: not a .npy file`);
    expect(existsSync(out)).toBe(false);
  });
});

describe("cnnc compile", () => {
  it("writes a bundle that a plain Node script runs with no compiler present", () => {
    const dir = path.join(tmp, "lenet-bundle");
    const r = cnnc("compile", "examples/lenet.cnn", "-o", dir);
    expect(r.code, r.err).toBe(0);
    for (const f of ["index.js", "index.d.ts", "model.wasm", "weights.bin", "runtime/open-network.js"]) expect(existsSync(path.join(dir, f))).toBe(true);
    // Copy the bundle somewhere with no node_modules and no compiler above it.
    const alone = mkdtempSync(path.join(tmpdir(), "cnnc-alone-"));
    cpSync(dir, path.join(alone, "bundle"), { recursive: true });
    const x = path.join(tmp, "x2.npy");
    randomImage(x, [1, 28, 28], 7);
    const script = path.join(alone, "main.mjs");
    writeFileSync(
      script,
      `import { load } from "./bundle/index.js";
import { readFileSync } from "node:fs";
const bytes = readFileSync(${JSON.stringify(x)});
const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 128, bytes.byteOffset + bytes.byteLength));
const net = await load();
const out = await net.run({ image: { data, shape: [1, 28, 28] } });
process.stdout.write(JSON.stringify({ backend: net.backend, shape: out.probs.shape, data: Array.from(out.probs.data) }));
`,
    );
    const run = spawnSync(process.execPath, [script], { cwd: alone, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const got = JSON.parse(run.stdout) as { backend: string; shape: number[]; data: number[] };
    expect(got.backend).toBe("wasm");
    expect(got.shape).toEqual([1, 10]);
    const ref = path.join(tmp, "x2-ref.npy");
    expect(cnnc("run", "examples/lenet.cnn", "--input", `image=${x}`, "--backend", "reference", "-o", ref).code).toBe(0);
    const rr = readNpy(new Uint8Array(readFileSync(ref)), ref);
    if (!rr.ok) throw new Error(rr.error);
    expect(maxRelErr(Float32Array.from(got.data), rr.value.data)).toBeLessThan(1e-5);
    // The bundle also runs through `cnnc run DIR`.
    const viaDir = cnnc("run", dir, "--input", `image=${x}`);
    expect(viaDir.code, viaDir.err).toBe(0);
  });

  it("leaves nothing behind when the weights file is truncated or lies", () => {
    const good = writeSafetensors(new Map([["conv1.weight", { shape: [6, 1, 5, 5], data: new Float32Array(150) }]]));
    const cases: [string, Uint8Array, string][] = [
      ["truncated.safetensors", good.subarray(0, 5), "truncated.safetensors"],
      ["lying.safetensors", good.subarray(0, good.length - 8), "lying.safetensors"],
    ];
    for (const [name, bytes] of cases) {
      const w = path.join(tmp, name);
      writeFileSync(w, bytes);
      const dir = path.join(tmp, `out-${name}`);
      const r = cnnc("compile", "examples/lenet.cnn", "--weights", w, "-o", dir);
      expect(r.code).toBe(1);
      expect(r.err).toContain(w);
      expect(r.err).not.toContain("    at ");
      expect(existsSync(dir)).toBe(false);
    }
  });

  it("rejects a weights tensor of the wrong shape at the layer", () => {
    const w = path.join(tmp, "shape.safetensors");
    writeFileSync(w, writeSafetensors(new Map([["conv1.weight", { shape: [6, 1, 3, 3], data: new Float32Array(54) }]])));
    const r = cnnc("check", "examples/lenet.cnn", "--weights", w);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`examples/lenet.cnn:4:17: error: ${w}: tensor 'conv1.weight' has shape [6, 1, 3, 3] but layer conv1 needs [6, 1, 5, 5]`);
  });
});

describe("cnnc explain", () => {
  it("prints every layer with its shape, parameters and FLOPs", () => {
    const r = cnnc("explain", "examples/lenet.cnn");
    expect(r.code, r.err).toBe(0);
    // conv1 with its fused relu and 2x2 max pool: 2*6*28*28*25 multiply-adds, 6*28*28 for the
    // relu and 6*28*28 for the pool. direct_simd absorbs the pool (its windows tile the
    // output); conv2's pool stays a kernel of its own: the cost model gives conv2 an
    // algorithm that cannot absorb it (fuse.ts).
    // A kernel's layer, the layers fused into it and its ops take a line each; then its output
    // shape, parameters, FLOPs, receptive field (size in input pixels, jump) and algorithm.
    expect(r.out).toMatch(/\nconv1 +\[6, 14, 14\] +156 +244608 +6x6 \(2\) +direct_simd\n\+ c1\.1\n\+ c1\.2\n {2}conv2d\(6, 5x5, pad same\)\n {2}\|> relu\n {2}\|> maxpool2d\(2x2, stride 2x2\)\n/);
    expect(r.out).toMatch(/\nconv2 +\[16, 10, 10\] +2416 +481600 +14x14 \(2\) +(gemm|winograd2|winograd4|fft|separable)\n\+ c2\.1\n {2}conv2d\(16, 5x5\)\n {2}\|> relu\n/);
    expect(r.out).toMatch(/\nc2\.2 +\[16, 5, 5\] +0 +1600 +16x16 \(4\)\n {2}maxpool2d\(2x2, stride 2x2\)\n/);
    expect(r.out).toMatch(/\nfc3 +\[10\] +850 +1680 +whole\n {2}dense\(10\)\n/);
    // The reasons under the table, and nothing wider than 100 columns.
    expect(r.out).toMatch(/\n {2}conv1: direct_simd: 5x5 stride 1/);
    for (const line of r.out.split("\n")) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(r.out).toContain("parameters: 61706");
    expect(r.out).toContain("FLOPs per sample: 845882");
    expect(r.out).toMatch(/activation memory: \d+ bytes planned \(\d+ bytes without reuse\)/);
  });
});
