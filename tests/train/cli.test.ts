// `cnnc train` on small files: it trains and writes weights that compile; bad input (a
// truncated dataset, samples of the wrong shape, labels out of range, a usage mistake) is one
// clear message and exit 1 (2 for usage), with nothing half-written.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { trainCommand } from "../../compiler/train/cli.js";
import { writeNpy } from "../../compiler/tensors/npy.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";

const gpuIt = (await testAdapter()) || process.env.CI ? it : it.skip;

const NET = `network tiny(x: f32[1, 4, 4]) -> probs {
  probs = x |> c: conv(3, 3x3, pad: same) |> relu |> flatten |> fc: dense(3) |> softmax
}
train tiny { optimizer = sgd(lr: 0.1, momentum: 0.9)
  batch = 8 }
`;

function run(argv: string[]): Promise<{ code: number; err: string; out: string }> {
  let err = "";
  let out = "";
  return trainCommand(argv, { stderr: { write: (s: string) => (err += s) }, stdout: { write: (s: string) => (out += s) } }).then((code) => ({ code, err, out }));
}

function setup(): { dir: string; model: string; data: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "cnnc-train-"));
  const model = path.join(dir, "tiny.cnn");
  writeFileSync(model, NET);
  const images = new Float32Array(24 * 16).map((_, i) => ((i * 7919) % 13) / 13);
  const labels = new Float32Array(24).map((_, i) => i % 3);
  writeFileSync(path.join(dir, "x.npy"), writeNpy([24, 1, 4, 4], images));
  writeFileSync(path.join(dir, "y.npy"), writeNpy([24], labels));
  return { dir, model, data: `${path.join(dir, "x.npy")},${path.join(dir, "y.npy")}` };
}

describe("cnnc train", () => {
  it("trains on .npy pairs and writes weights that compile", async () => {
    const { dir, model, data } = setup();
    const out = path.join(dir, "w.safetensors");
    const r = await run([model, "--data", data, "--epochs", "2", "-o", out]);
    expect(r.err).toMatch(/epoch 2\/2: train loss \d+\.\d+ acc/);
    expect(r.code).toBe(0);
    const c = compile(NET, { fileName: model, weights: new Uint8Array(readFileSync(out)) });
    expect(c.ok).toBe(true);
  });

  it("trains on WebAssembly by default, on the reference when asked, and evaluates with --epochs 0", async () => {
    const { dir, model, data } = setup();
    const out = path.join(dir, "w.safetensors");
    const wasm = await run([model, "--data", data, "--epochs", "1", "-o", out]);
    expect(wasm.code).toBe(0);
    expect(wasm.err).toMatch(/^training tiny on WebAssembly: 24 samples, batch 8, 1 epoch\n/);
    expect(wasm.err).toMatch(/epoch 1\/1: train loss \d+\.\d+ acc [\d.]+% \([\d.]+ samples\/s, /);
    const ref = await run([model, "--data", data, "--epochs", "1", "--backend", "reference"]);
    expect(ref.err).toMatch(/^training tiny on the reference \(float64\)/);
    const evaluate = await run([model, "--data", data, "--val", data, "--weights", out, "--epochs", "0"]);
    expect(evaluate.code).toBe(0);
    expect(evaluate.err).toMatch(/^evaluating tiny on WebAssembly: val loss \d+\.\d+ acc [\d.]+% \(24 samples\)/);
  });

  it("refuses a truncated dataset, writing nothing", async () => {
    const { dir, model } = setup();
    const x = readFileSync(path.join(dir, "x.npy"));
    writeFileSync(path.join(dir, "cut.npy"), x.subarray(0, x.length - 10));
    const out = path.join(dir, "w.safetensors");
    const r = await run([model, "--data", `${path.join(dir, "cut.npy")},${path.join(dir, "y.npy")}`, "-o", out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cut\.npy: data is \d+ bytes, .* \(truncated or corrupt\)/);
    expect(existsSync(out)).toBe(false);
  });

  it("refuses samples of the wrong shape and labels out of range", async () => {
    const { dir, model, data } = setup();
    writeFileSync(path.join(dir, "x5.npy"), writeNpy([24, 1, 5, 5], new Float32Array(24 * 25)));
    const shape = await run([model, "--data", `${path.join(dir, "x5.npy")},${path.join(dir, "y.npy")}`]);
    expect(shape.code).toBe(1);
    expect(shape.err).toMatch(/samples are \[1, 5, 5\] but tiny takes \[1, 4, 4\]/);
    writeFileSync(path.join(dir, "y9.npy"), writeNpy([24], new Float32Array(24).fill(9)));
    const out = path.join(dir, "w.safetensors");
    const labels = await run([model, "--data", `${data.split(",")[0]},${path.join(dir, "y9.npy")}`, "-o", out]);
    expect(labels.code).toBe(1);
    expect(labels.err).toMatch(/y9\.npy: label 9 of sample 0 is not a class of the 3 that tiny outputs/);
    expect(existsSync(out)).toBe(false);
  });

  gpuIt("trains on WebGPU with --backend webgpu and writes weights that compile", async () => {
    const { dir, model, data } = setup();
    const out = path.join(dir, "w.safetensors");
    const r = await run([model, "--data", data, "--epochs", "2", "--backend", "webgpu", "-o", out]);
    expect(r.err).toMatch(/^training tiny on WebGPU \(.+\): 24 samples, batch 8, 2 epochs\n/);
    expect(r.err).toMatch(/epoch 2\/2: train loss \d+\.\d+ acc/);
    expect(r.code).toBe(0);
    const c = compile(NET, { fileName: model, weights: new Uint8Array(readFileSync(out)) });
    expect(c.ok).toBe(true);
    const evaluate = await run([model, "--data", data, "--val", data, "--weights", out, "--epochs", "0", "--backend", "webgpu"]);
    expect(evaluate.err).toMatch(/^evaluating tiny on WebGPU \(.+\): val loss \d+\.\d+ acc [\d.]+% \(24 samples\)/);
  });

  it("says how to call it on a usage mistake (exit 2)", async () => {
    const { model } = setup();
    const r = await run([model]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/train needs --data/);
    const conv = await run([model, "--data", "x.npy,y.npy", "--conv", "fft"]);
    expect(conv.code).toBe(2);
    expect(conv.err).toMatch(/--conv takes auto, gemm or winograd, got fft/);
  });

  it("--conv winograd runs the 3x3 layer by Winograd and says so", async () => {
    const { model, data } = setup();
    const r = await run([model, "--data", data, "--epochs", "1", "--conv", "winograd"]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/\nconvolutions by Winograd F\(2x2, 3x3\): c; the others by im2col GEMM\n/);
    const gemm = await run([model, "--data", data, "--epochs", "1", "--conv", "gemm"]);
    expect(gemm.err).not.toMatch(/Winograd/);
  });
});
