// `cnnc train --backend webgpu` where Node finds no WebGPU adapter: the inference path's
// message and exit 1, nothing written (the adapter search is stubbed to find nothing).

import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { trainCommand } from "../../compiler/train/cli.js";
import { writeNpy } from "../../compiler/tensors/npy.js";

vi.mock("../../runtime/webgpu.js", () => ({ findAdapter: async () => undefined }));

describe("cnnc train --backend webgpu without an adapter", () => {
  it("says so and exits 1", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cnnc-train-"));
    const model = path.join(dir, "tiny.cnn");
    writeFileSync(model, "network tiny(x: f32[1, 4, 4]) -> probs {\n  probs = x |> flatten |> fc: dense(3) |> softmax\n}\n");
    writeFileSync(path.join(dir, "x.npy"), writeNpy([4, 1, 4, 4], new Float32Array(64)));
    writeFileSync(path.join(dir, "y.npy"), writeNpy([4], new Float32Array(4)));
    const out = path.join(dir, "w.safetensors");
    let err = "";
    const io = { stderr: { write: (s: string) => (err += s) }, stdout: { write: () => undefined } };
    const code = await trainCommand([model, "--data", `${path.join(dir, "x.npy")},${path.join(dir, "y.npy")}`, "--backend", "webgpu", "-o", out], io);
    expect(code).toBe(1);
    expect(err).toMatch(/^cnnc: error: no WebGPU adapter found \(no GPU, and no software fallback\)\n$/);
    expect(existsSync(out)).toBe(false);
  });
});
