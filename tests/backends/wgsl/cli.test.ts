// The WebGPU target and backend from the command line and from compile(): `cnnc run
// --backend webgpu` (Dawn, found by cnnc itself, the adapter named on stderr) gives the
// WebAssembly backend's numbers; `cnnc compile --target all` writes the WGSL programs into the
// bundle and the bundle runs on WebGPU; no adapter is a clear error and exit 1; a network the
// WebGPU target cannot split is a diagnostic at the layer.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../../compiler/index.js";
import { formatDiagnostic } from "../../../compiler/diagnostics.js";
import { testAdapter } from "./plan-helper.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;
const root = path.resolve(__dirname, "../../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-wgsl-cli-"));

function cnnc(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cnnc and WebGPU", () => {
  gpuIt("run --backend webgpu says which adapter it used and prints the WebAssembly backend's numbers", () => {
    const gpu = cnnc(["run", "examples/lenet.cnn", "--random", "--backend", "webgpu"]);
    expect(gpu.err).toMatch(/cnnc: WebGPU adapter: .+/);
    expect(gpu.code).toBe(0);
    const wasm = cnnc(["run", "examples/lenet.cnn", "--random", "--backend", "wasm"]);
    expect(wasm.code).toBe(0);
    // Printed to 6 significant digits: f32 on the GPU and f64-accumulated WASM agree there.
    expect(gpu.out).toBe(wasm.out);
  });

  gpuIt("compile --target all writes the WGSL programs, and the bundle runs on WebGPU", () => {
    const dir = path.join(tmp, "bundle");
    // Direct convolution on both backends (the cost model would pick other algorithms, whose
    // f32 rounding differs between the backends in the last printed digit; checked below).
    const c = cnnc(["compile", "examples/classifier_variable.cnn", "-o", dir, "--target", "all", "--algorithm", "conv1=direct", "--algorithm", "conv2=direct"]);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/WGSL programs/);
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    expect(manifest.webgpu.programs.length).toBeGreaterThan(0);
    for (const p of manifest.webgpu.programs) expect(existsSync(path.join(dir, p.file))).toBe(true);
    const gpu = cnnc(["run", dir, "--random", "--size", "H=20,W=17", "--backend", "webgpu"]);
    expect(gpu.err).toMatch(/cnnc: WebGPU adapter: /);
    expect(gpu.code).toBe(0);
    const wasm = cnnc(["run", dir, "--random", "--size", "H=20,W=17", "--backend", "wasm"]);
    expect(gpu.out).toBe(wasm.out);
  });

  gpuIt("with the algorithms the cost model picks (GEMM, Winograd), WebGPU agrees with WASM within the 1e-4 contract", () => {
    const dir = path.join(tmp, "bundle-algorithms");
    expect(cnnc(["compile", "examples/classifier_variable.cnn", "-o", dir, "--target", "all"]).code).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    expect(Object.values(manifest.algorithms).map((a) => (a as { name: string }).name)).not.toEqual(["direct", "direct"]);
    const values = (out: string) => (out.match(/= \[([^\]]*)\]/)?.[1] ?? "").split(",").map(Number);
    const gpu = cnnc(["run", dir, "--random", "--size", "H=20,W=17", "--backend", "webgpu"]);
    const wasm = cnnc(["run", dir, "--random", "--size", "H=20,W=17", "--backend", "wasm"]);
    expect(gpu.code).toBe(0);
    const [g, w] = [values(gpu.out), values(wasm.out)];
    expect(g.length).toBe(10);
    g.forEach((v, i) => expect(Math.abs(v - w[i])).toBeLessThanOrEqual(1e-4));
  });

  gpuIt("compile --target webgpu --autotune times each layer's algorithms on the adapter and keeps the fastest", { timeout: 180_000 }, () => {
    const model = path.join(tmp, "tuned.cnn");
    writeFileSync(model, "network tuned(x: f32[8, 24, 24]) -> y {\n  y = x |> c: conv(8, 3x3, pad: same) |> relu |> d: conv(4, 5x5, pad: same)\n}\n");
    const dir = path.join(tmp, "bundle-tuned");
    const c = cnnc(["compile", model, "-o", dir, "--target", "webgpu", "--autotune"]);
    expect(c.code, c.err).toBe(0);
    expect(c.err).toMatch(/cnnc: autotuning on WebGPU adapter: .+/);
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as { algorithms: Record<string, { name: string; reason: string }> };
    for (const layer of ["c", "d"]) {
      const { name, reason } = manifest.algorithms[layer];
      // "autotuned on the WebGPU adapter: the network ran in 2.2 ms with winograd4 vs 2.6 ms winograd2, ..."
      const m = /^autotuned on the WebGPU adapter: the network ran in ([\d.]+) ms with (\w+) vs (.+)$/.exec(reason);
      expect(m, reason).not.toBeNull();
      expect(m?.[2]).toBe(name);
      const others = [...(m?.[3] ?? "").matchAll(/([\d.]+) ms (\w+)/g)];
      expect(others.length).toBeGreaterThan(0);
      for (const o of others) expect(Number(o[1])).toBeGreaterThanOrEqual(Number(m?.[1]));
    }
    expect(cnnc(["run", dir, "--random", "--backend", "webgpu"]).code).toBe(0);
  });

  it("with no adapter at all: a clear message and exit 1", () => {
    const r = cnnc(["run", "examples/lenet.cnn", "--random", "--backend", "webgpu"], { CNNC_WEBGPU_BACKEND: "none" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("cnnc: error: cannot run on WebGPU: no WebGPU adapter found");
    expect(r.err).not.toContain("    at ");
  });

  it("a bundle compiled for WebAssembly only says so when asked for WebGPU", () => {
    const dir = path.join(tmp, "wasm-only");
    expect(cnnc(["compile", "examples/lenet.cnn", "-o", dir]).code).toBe(0);
    const r = cnnc(["run", dir, "--random", "--backend", "webgpu"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("this bundle was compiled without a WebGPU target");
  });

  it("a layer that no split can fit is a diagnostic at the layer", () => {
    const file = path.join(tmp, "wide.cnn");
    const source = "network wide(x: f32[1, 8, 600]) -> y {\n  y = x |> c: conv(2, 3x3)\n}\n";
    writeFileSync(file, source);
    const r = compile(source, { fileName: file, target: "webgpu", webgpuLimits: { maxStorageBufferBindingSize: 2048 } });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map(formatDiagnostic).join("\n")).toContain(
      `${file}:2:12: error: layer c: one conv output reads 4.7 KiB through one storage binding, over maxStorageBufferBindingSize (2 KiB); splitting the layer cannot help`,
    );
    // With the default limits it compiles, in one dispatch.
    const ok = compile(source, { fileName: file, target: "webgpu" });
    expect(ok.ok && ok.artifacts.manifest.webgpu?.commands.length).toBe(1);
  });
});
