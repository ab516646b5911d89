// Training from the API in a browser page (issue 12): the browser compiler (compiler/browser.ts,
// bundled as the playground bundles it) compiles LeNet's training step in Chromium and runs it
// on WebAssembly and on WebGPU (SwiftShader); the losses and the trained weights equal the
// float64 reference trainer's, run here in Node on the same batches, within float32
// tolerance (as tests/train/webgpu.test.ts and wasm.test.ts compare them in Node); then the
// same with batch norm in training mode.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileTraining } from "../../compiler/index.js";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import { initialise } from "../../compiler/tensors/init.js";
import { buildBrowserCompiler } from "../../playground/scripts/build.js";
import { relativeError } from "../relative-error.js";
import { type BrowserSession, haveBrowser, openPage } from "./harness.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;
const SOURCE = readFileSync("examples/lenet.cnn", "utf8");
const BATCH = 8;
const STEPS = 3;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>cnnc training in the browser</title>
<script type="module">
  const cnnc = await import("./compiler.js");
  window.train = async (source, backend, batches, threads) => {
    const r = cnnc.compileTraining(source, { fileName: "lenet.cnn", backend });
    if (!r.ok) return { ok: false, diagnostics: r.diagnostics.map((d) => cnnc.formatDiagnostic(d)) };
    const trainer = await r.load({ threads });
    const losses = [];
    for (const b of batches) {
      const s = await trainer.step({ count: b.count, images: Float32Array.from(b.images), labels: Float64Array.from(b.labels) });
      losses.push(s.loss);
    }
    await trainer.sync();
    const threading = trainer.threading ?? "";
    trainer.dispose();
    return { ok: true, backend: r.backend, adapter: trainer.adapter ?? "", threading, losses, weights: Array.from(trainer.weights()) };
  };
  window.pageReady = true;
</script>
`;

interface PageResult {
  readonly ok: boolean;
  readonly diagnostics?: string[];
  readonly backend: string;
  readonly adapter: string;
  readonly threading: string;
  readonly losses: number[];
  readonly weights: number[];
}

/** Seeded digits-shaped batches: uniform pixels, labels 0-9. */
function batches(): { count: number; images: number[]; labels: number[] }[] {
  return Array.from({ length: STEPS }, (_, s) => ({
    count: BATCH,
    images: Array.from(initialise({ kind: "uniform", low: 0, high: 1, seed: 100 + s }, [BATCH, 1, 28, 28], 1, 1)),
    labels: Array.from({ length: BATCH }, (_, i) => (7 * i + 3 * s) % 10),
  }));
}

let dir = "";
let session: BrowserSession | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-browser-train-"));
  await buildBrowserCompiler(path.join(dir, "compiler.js"));
  writeFileSync(path.join(dir, "index.html"), PAGE);
  if (haveBrowser) session = await openPage(dir);
}, 300_000);

afterAll(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The reference trainer's losses and weights on `data`, then each backend's in the page, equal within 1e-4. */
async function compare(source: string, runs: readonly (readonly ["wasm" | "webgpu", number, string])[]): Promise<void> {
  if (!session) throw new Error("no browser");
  const page = session.page;
  const data = batches();
  const reference = compileTraining(source, { fileName: "lenet.cnn", backend: "reference" });
  if (!reference.ok) throw new Error(reference.diagnostics.map((d) => d.message).join("\n"));
  const trainer = await reference.load();
  const losses: number[] = [];
  for (const b of data) losses.push((await trainer.step({ count: b.count, images: Float32Array.from(b.images), labels: Float64Array.from(b.labels) })).loss);
  const read = (bytes: Uint8Array) => {
    const r = readSafetensors(bytes, "weights");
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const want = read(trainer.weights());

  for (const [backend, threads, threading] of runs) {
    const got = await page.evaluate(
      ([s, b, d, n]) => (window as unknown as { train: (s: string, b: string, d: object, n: number) => Promise<PageResult> }).train(s, b, d, n),
      [source, backend, data, threads] as const,
    );
    expect(got.diagnostics ?? [], backend).toEqual([]);
    expect(got.backend).toBe(backend);
    if (backend === "wasm") expect(got.threading).toMatch(threading);
    got.losses.forEach((l, i) => expect(Math.abs(l - losses[i]) / Math.abs(losses[i]), `${backend} step ${i}`).toBeLessThan(1e-4));
    const weights = read(Uint8Array.from(got.weights));
    expect([...weights.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, t] of want) {
      expect(relativeError(Array.from(weights.get(name)?.data ?? []), Array.from(t.data)), `${backend} ${name}`).toBeLessThan(1e-4);
    }
  }
}

describe("training in Chromium", () => {
  browserIt("trains LeNet on WebAssembly (one thread and two: a helper Web Worker) and on WebGPU, equal to the reference trainer", { timeout: 600_000 }, async () => {
    await compare(SOURCE, [
      ["wasm", 1, "one thread"],
      ["wasm", 2, "2 threads"],
      ["webgpu", 1, ""],
    ]);
  });

  // Batch norm in training mode: the WebAssembly step keeps the batch's values in per-sample
  // regions (growing its memory in the page), on two threads that exchange the batch norms'
  // sums by message (a helper Web Worker); WebGPU adds its batch-statistics kernels. The
  // running statistics are among the weights compared.
  browserIt("trains LeNet with batch norm in training mode on WebAssembly (one thread and two) and WebGPU, equal to the reference trainer", { timeout: 600_000 }, async () => {
    const bn = SOURCE.replace("conv(6, 5x5, pad: same) |> relu", "conv(6, 5x5, pad: same) |> bn1: batchnorm |> relu").replace("conv(16, 5x5) |> relu", "conv(16, 5x5) |> bn2: batchnorm |> relu");
    expect(bn).toContain("bn2: batchnorm");
    await compare(bn, [
      ["wasm", 1, "one thread"],
      ["wasm", 2, "2 threads"],
      ["webgpu", 1, ""],
    ]);
  });
});
