// The compiler itself in a browser (issue 13): compiler/browser.ts bundled for the web (as the
// playground bundles it), loaded by a page from static files only; the page compiles
// examples/lenet.cnn from its text, runs it on WebAssembly and on WebGPU (SwiftShader), and
// assembles the bundle's files in memory. Outputs equal the float64 reference computed here in
// Node (WebGPU to 1e-4, WebAssembly to 1e-5, as tests/browser/examples.test.ts), and the
// artifacts the page compiled are byte for byte those the Node API compiles.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";
import { buildBrowserCompiler } from "../../playground/scripts/build.js";
import { relativeError } from "../relative-error.js";
import { type BrowserSession, haveBrowser, openPage } from "./harness.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;
const SOURCE = readFileSync("examples/lenet.cnn", "utf8");

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>cnnc compiler in the browser</title>
<script type="module">
  const cnnc = await import("./compiler.js");
  const hex = async (bytes) => Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
  window.compileAndRun = async (source, fileName, input, runtime) => {
    const r = cnnc.compile(source, { fileName, target: "all" });
    if (!r.ok) return { ok: false, diagnostics: r.diagnostics.map((d) => cnnc.formatDiagnostic(d)) };
    const runs = {};
    for (const backend of ["wasm", "webgpu"]) {
      const net = await r.load({ backend });
      const out = await net.run({ image: { data: Float32Array.from(input.data), shape: input.shape } });
      runs[backend] = { backend: net.backend, probs: { shape: out.probs.shape, data: Array.from(out.probs.data) } };
      net.dispose();
    }
    const files = cnnc.bundleFiles(r.artifacts, {}, (f) => runtime[f]);
    const a = r.artifacts;
    return {
      ok: true,
      runs,
      hashes: { wasm: await hex(a.wasm), weights: await hex(a.weights), tables: a.tables ? await hex(a.tables) : "", wgsl: await hex(new TextEncoder().encode(a.wgsl.join("\\n"))) },
      files: [...files.keys()].sort(),
    };
  };
  window.pageReady = true;
</script>
`;

interface PageResult {
  readonly ok: boolean;
  readonly diagnostics?: string[];
  readonly runs: Record<string, { backend: string; probs: { shape: number[]; data: number[] } }>;
  readonly hashes: Record<string, string>;
  readonly files: string[];
}

let dir = "";
let session: BrowserSession | undefined;
let node: CompileSuccess;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-browser-compiler-"));
  await buildBrowserCompiler(path.join(dir, "compiler.js"));
  writeFileSync(path.join(dir, "index.html"), PAGE);
  const r = compile(SOURCE, { fileName: "lenet.cnn", target: "all" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  node = r;
  if (haveBrowser) session = await openPage(dir);
}, 300_000);

afterAll(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

describe("the compiler in Chromium", () => {
  browserIt("compiles LeNet from its text and runs it on WebAssembly and WebGPU, equal to the reference", async () => {
    if (!session) throw new Error("no browser");
    const shape = [1, 1, 28, 28];
    const data = Array.from(initialise({ kind: "uniform", low: 0, high: 1, seed: 13 }, shape.slice(1), 1, 1));
    // The runtime files a bundle copies, as a page would have fetched them (the compiled runtime).
    const { nodeRuntimeSource, runtimeFiles } = await import("../../compiler/bundle.js");
    const read = nodeRuntimeSource();
    const runtime = Object.fromEntries(runtimeFiles(node.artifacts.manifest).map((f) => [f, read(f)]));
    const got = await session.page.evaluate(
      ([s, input, rt]) => (window as unknown as { compileAndRun: (s: string, f: string, i: object, r: object) => Promise<PageResult> }).compileAndRun(s, "lenet.cnn", input, rt),
      [SOURCE, { data, shape }, runtime] as const,
    );
    expect(got.diagnostics ?? []).toEqual([]);
    expect(got.ok).toBe(true);
    const want = interpret(node.source, new Map([["image", { shape: shape.slice(1), data: Float64Array.from(data) }]])).get("probs");
    if (!want) throw new Error("no reference output");
    expect(got.runs.wasm.backend).toBe("wasm");
    expect(got.runs.wasm.probs.shape).toEqual([1, ...want.shape]);
    expect(relativeError(got.runs.wasm.probs.data, want.data)).toBeLessThan(1e-5);
    expect(got.runs.webgpu.backend).toBe("webgpu");
    expect(relativeError(got.runs.webgpu.probs.data, want.data)).toBeLessThan(1e-4);
    // The same compiler: the page's artifacts are the Node API's, byte for byte.
    const a = node.artifacts;
    expect(got.hashes).toEqual({ wasm: sha(a.wasm ?? new Uint8Array()), weights: sha(a.weights), tables: a.tables ? sha(a.tables) : "", wgsl: sha((a.wgsl ?? []).join("\n")) });
    // The bundle assembled in memory has the files writeBundle writes.
    const { bundleFiles } = await import("../../compiler/bundle-files.js");
    expect(got.files).toEqual([...bundleFiles(a, {}, read).keys()].sort());
    expect(got.files).toContain("runtime/open-network.js");
  });
});
