// Every example in a real browser: each is compiled for both targets and written as a bundle,
// a page imports the bundles, and Chromium runs each on WebGPU (SwiftShader) and on
// WebAssembly (Chromium ships relaxed SIMD, so this is where the relaxed-SIMD build runs);
// each output equals the float64 reference: WebGPU to 1e-4, WebAssembly to 1e-5 (max |diff| /
// max(1, max |reference|), docs/decisions.md).

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBundle } from "../../compiler/bundle.js";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";
import { type BrowserSession, CHROMIUM, haveBrowser, openPage } from "./harness.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;
const examples = readdirSync("examples").filter((f) => f.endsWith(".cnn"));
/** Symbolic sizes are bound to this (as in tests/e2e/examples.test.ts). */
const SIZE = 24;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>cnnc examples</title>
<script type="module">
  window.runBundle = async (name, backend, inputs) => {
    const { load } = await import("./" + name + "/index.js");
    const net = await load({ backend });
    const feed = {};
    for (const [n, t] of Object.entries(inputs)) feed[n] = { data: Float32Array.from(t.data), shape: t.shape };
    const out = await net.run(feed);
    const outputs = {};
    for (const [n, t] of Object.entries(out)) outputs[n] = { shape: t.shape, data: Array.from(t.data) };
    const result = { backend: net.backend, description: net.description, outputs };
    net.dispose();
    return result;
  };
  window.pageReady = true;
</script>
`;

interface PageResult {
  backend: string;
  description: string;
  outputs: Record<string, { shape: number[]; data: number[] }>;
}

interface Example {
  readonly compiled: CompileSuccess;
  readonly inputs: Record<string, { data: number[]; shape: number[] }>;
}

let dir = "";
let session: BrowserSession | undefined;
const compiled = new Map<string, Example>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-browser-examples-"));
  for (const ex of examples) {
    const r = compile(readFileSync(`examples/${ex}`, "utf8"), { fileName: ex, target: "all" });
    if (!r.ok) throw new Error(`${ex}: ${r.diagnostics.map((d) => d.message).join("\n")}`);
    const name = ex.replace(/\.cnn$/, "");
    writeBundle(path.join(dir, name), r.artifacts);
    const env = Object.fromEntries(r.graph.symbols.map((s) => [s, SIZE]));
    const inputs = Object.fromEntries(
      r.graph.inputs.map((io, i) => {
        const shape = evalDims(r.graph.values[io.value].shape, env);
        const data = Array.from(initialise({ kind: "uniform", low: -1, high: 1, seed: 300 + i }, shape, 1, 1));
        return [io.name, { data, shape: [1, ...shape] }];
      }),
    );
    compiled.set(name, { compiled: r, inputs });
  }
  writeFileSync(path.join(dir, "index.html"), PAGE);
  if (haveBrowser) session = await openPage(dir);
}, 300_000);

afterAll(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runInPage(name: string, backend: string): Promise<PageResult> {
  if (!session) throw new Error(`no browser at ${CHROMIUM}`);
  const ex = compiled.get(name);
  if (!ex) throw new Error(`no example ${name}`);
  return session.page.evaluate(
    ([n, b, inputs]) => (window as unknown as { runBundle: (n: string, b: string, i: object) => Promise<PageResult> }).runBundle(n, b, inputs),
    [name, backend, ex.inputs] as const,
  );
}

function worstError(name: string, result: PageResult): number {
  const ex = compiled.get(name);
  if (!ex) throw new Error(`no example ${name}`);
  const feeds = new Map(Object.entries(ex.inputs).map(([n, t]) => [n, { shape: t.shape.slice(1), data: Float64Array.from(t.data) }]));
  const ref = interpret(ex.compiled.source, feeds);
  expect(Object.keys(result.outputs).sort()).toEqual([...ref.keys()].sort());
  let worst = 0;
  for (const [out, want] of ref) {
    const got = result.outputs[out];
    expect(got.shape).toEqual([1, ...want.shape]);
    let diff = 0;
    let scale = 0;
    want.data.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - got.data[i]));
      scale = Math.max(scale, Math.abs(v));
    });
    worst = Math.max(worst, diff / Math.max(1, scale));
  }
  return worst;
}

describe("every example in Chromium", () => {
  for (const ex of examples) {
    const name = ex.replace(/\.cnn$/, "");
    browserIt(`${name}: WebGPU and WebAssembly equal the reference`, async () => {
      const gpu = await runInPage(name, "webgpu");
      expect(gpu.backend).toBe("webgpu");
      expect(worstError(name, gpu)).toBeLessThan(1e-4);
      const wasm = await runInPage(name, "wasm");
      expect(wasm.backend).toBe("wasm");
      expect(worstError(name, wasm)).toBeLessThan(1e-5);
      // Chromium has relaxed SIMD: a bundle with a relaxed build runs it.
      const relaxed = compiled.get(name)?.compiled.artifacts.manifest.wasm?.relaxedFile !== undefined;
      expect(wasm.description.includes("relaxed SIMD")).toBe(relaxed);
    });
  }
});
