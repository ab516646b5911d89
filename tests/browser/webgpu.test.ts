// A generated bundle in a real browser: compile() a network for every target, write the
// bundle, serve it and a page that imports it (node:http on 127.0.0.1, a random port), and
// run it in Chromium (SwiftShader's WebGPU, driven by playwright-core) on WebGPU, on
// WebAssembly and with `auto`; every output equals the float64 reference to 1e-4 relative.
// Needs the compiled runtime (dist/runtime: `npm test` builds first) and Debian's chromium;
// in CI a missing browser or adapter fails the test, locally it is skipped without a browser.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBundle } from "../../compiler/bundle.js";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { type BrowserSession, CHROMIUM, haveBrowser, openPage } from "./harness.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;

const SOURCE = `
network browser_net(image: f32[2, H, W]) -> (probs, labels) {
  a = image |> c1: conv(4, 3x3, pad: same) |> relu
  b = image |> c2: conv(4, 1x1, bias: none)
  s = a + b |> maxpool(2x2, ceil: true)
  t = concat(s, s |> avgpool(3x3, stride: 1, pad: same)) |> gausspool(3x3, stride: 1, pad: same, sigma: 1.0) |> tanh
  probs = t |> avgpool(out: 3x3) |> flatten |> fc: dense(10) |> softmax
  labels = t |> c3: conv(3, 1x1) |> sigmoid |> l2pool(2x2) |> softmax
}
`;
const H = 13;
const W = 11;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>cnnc bundle</title>
<script type="module">
  import { load } from "./bundle/index.js";
  window.runBundle = async (backend, inputs) => {
    const net = await load({ backend });
    const feed = {};
    for (const [name, t] of Object.entries(inputs)) feed[name] = { data: Float32Array.from(t.data), shape: t.shape };
    const out = await net.run(feed);
    const outputs = {};
    for (const [name, t] of Object.entries(out)) outputs[name] = { shape: t.shape, data: Array.from(t.data) };
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

let dir = "";
let session: BrowserSession | undefined;
let compiled: CompileSuccess;

beforeAll(async () => {
  const r = compile(SOURCE, { fileName: "browser_net.cnn", target: "all" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  compiled = r;
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-browser-"));
  writeBundle(path.join(dir, "bundle"), r.artifacts);
  writeFileSync(path.join(dir, "index.html"), PAGE);
  if (haveBrowser) session = await openPage(dir);
});

afterAll(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function input(): { data: number[]; shape: number[] } {
  let s = 12345;
  const data = Array.from({ length: 2 * H * W }, () => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return Math.fround((s / 0x7fffffff) * 2 - 1);
  });
  return { data, shape: [1, 2, H, W] };
}

function checkAgainstReference(result: PageResult): void {
  const x = input();
  const ref = interpret(compiled.graph, new Map([["image", { shape: x.shape.slice(1), data: Float64Array.from(x.data) }]]));
  expect(Object.keys(result.outputs).sort()).toEqual([...ref.keys()].sort());
  for (const [name, want] of ref) {
    const got = result.outputs[name];
    expect(got.shape).toEqual([1, ...want.shape]);
    let diff = 0;
    let scale = 0;
    want.data.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - got.data[i]));
      scale = Math.max(scale, Math.abs(v));
    });
    expect(diff / Math.max(1, scale), name).toBeLessThan(1e-4);
  }
}

async function runInPage(backend: string): Promise<PageResult> {
  if (!session) throw new Error(`no browser at ${CHROMIUM}`);
  return session.page.evaluate(
    ([b, inputs]) => (window as unknown as { runBundle: (b: string, i: object) => Promise<PageResult> }).runBundle(b, inputs),
    [backend, { image: input() }] as const,
  );
}

describe("a generated bundle in Chromium", () => {
  it("carries WGSL programs and a WebAssembly module", () => {
    const m = compiled.artifacts.manifest;
    expect(m.webgpu?.programs.length).toBeGreaterThan(5);
    expect(existsSync(path.join(dir, "bundle", m.webgpu?.programs[0].file ?? "?"))).toBe(true);
    expect(existsSync(path.join(dir, "bundle", "model.wasm"))).toBe(true);
  });

  browserIt("runs on WebGPU and equals the reference", async () => {
    const r = await runInPage("webgpu");
    expect(r.backend).toBe("webgpu");
    expect(r.description).toMatch(/^WebGPU on /);
    if (process.env.CNNC_PRINT) console.log(r.description);
    checkAgainstReference(r);
  });

  browserIt("runs on WebAssembly and equals the reference", async () => {
    const r = await runInPage("wasm");
    expect(r.backend).toBe("wasm");
    checkAgainstReference(r);
  });

  browserIt("auto picks WebGPU when the browser has an adapter", async () => {
    const r = await runInPage("auto");
    expect(r.backend).toBe("webgpu");
    checkAgainstReference(r);
  });
});
