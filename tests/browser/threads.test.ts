// load({ threads }) in a real browser: the same bundle served to two pages, one cross-origin
// isolated (COOP: same-origin, COEP: require-corp: SharedArrayBuffer and shared WebAssembly
// memory exist) and one not. In the isolated page two threads run (Web Workers from a Blob
// URL; the page's main thread spins, it may not block) and give exactly the one-thread result,
// which equals the reference; in the other page the network falls back to one thread and
// says why. Chromium as in webgpu.test.ts (skipped locally without it).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splittingEverything } from "../../compiler/backends/wasm/threads.js";
import { writeBundle } from "../../compiler/bundle.js";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { CHROMIUM, haveBrowser, type Route, serve } from "./harness.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;

const SOURCE = `
network threads_net(image: f32[3, 20, 22]) -> y {
  a = image |> c1: conv(8, 3x3, pad: same) |> relu
  y = a |> c2: conv(6, 5x5, pad: same) |> relu |> maxpool(2)
}
`;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>cnnc threads</title>
<script type="module">
  import { load } from "../bundle/index.js";
  window.runBundle = async (threads, input) => {
    const net = await load({ backend: "wasm", threads });
    const out = await net.run({ image: { data: Float32Array.from(input.data), shape: input.shape } });
    const result = { description: net.description, isolated: self.crossOriginIsolated, data: Array.from(out.y.data), shape: out.y.shape };
    net.dispose();
    return result;
  };
  window.bundleReady = true;
</script>
`;

interface PageResult {
  description: string;
  isolated: boolean;
  data: number[];
  shape: number[];
}

let dir = "";
let server: Server | undefined;
let context: BrowserContext | undefined;
let compiled: CompileSuccess;
let base = "";

/** The page at /isolated/ (with COOP and COEP) and /plain/ (without); the bundle at /bundle/. */
const route: Route = (rel) => {
  const mode = /^\/(isolated|plain)\/(index\.html)?$/.exec(rel)?.[1];
  if (mode === "isolated") return { file: "index.html", headers: { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" } };
  if (mode === "plain") return { file: "index.html" };
  return rel.startsWith("/bundle/") ? { file: rel } : undefined;
};

beforeAll(async () => {
  const r = splittingEverything(() => compile(SOURCE, { fileName: "threads_net.cnn" }));
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  compiled = r;
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-threads-browser-"));
  // The page, served as /<mode>/index.html, imports ../bundle/index.js: /bundle/index.js.
  writeBundle(path.join(dir, "bundle"), r.artifacts, { threads: 2 });
  writeFileSync(path.join(dir, "index.html"), PAGE);
  if (!haveBrowser) return;
  server = await serve(dir, route);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const profile = path.join(dir, "profile");
  mkdirSync(profile);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless=new", "--no-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await context?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function input(): { data: number[]; shape: number[] } {
  let s = 777;
  const data = Array.from({ length: 3 * 20 * 22 }, () => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return Math.fround((s / 0x7fffffff) * 2 - 1);
  });
  return { data, shape: [1, 3, 20, 22] };
}

async function open(mode: "isolated" | "plain"): Promise<Page> {
  if (!context) throw new Error(`no browser at ${CHROMIUM}`);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/${mode}/index.html`);
  await page.waitForFunction(() => (window as unknown as { bundleReady?: boolean }).bundleReady === true, undefined, { timeout: 30_000 }).catch(() => {
    throw new Error(`the page did not load the bundle: ${errors.join("; ")}`);
  });
  return page;
}

function run(page: Page, threads: number): Promise<PageResult> {
  return page.evaluate(
    ([n, x]) => (window as unknown as { runBundle: (n: number, x: object) => Promise<PageResult> }).runBundle(n, x),
    [threads, input()] as const,
  );
}

function referenceError(result: PageResult): number {
  const x = input();
  const ref = interpret(compiled.graph, new Map([["image", { shape: x.shape.slice(1), data: Float64Array.from(x.data) }]]));
  const want = ref.get("y");
  if (!want) throw new Error("no reference output");
  let diff = 0;
  let scale = 0;
  want.data.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - result.data[i]));
    scale = Math.max(scale, Math.abs(v));
  });
  return diff / Math.max(1, scale);
}

describe("threads in Chromium", () => {
  browserIt("a cross-origin isolated page runs on 2 threads, exactly as on one", async () => {
    const page = await open("isolated");
    const one = await run(page, 1);
    const two = await run(page, 2);
    expect(two.isolated).toBe(true);
    // Chromium has relaxed SIMD, and this network has a relaxed build.
    expect(two.description).toBe("WebAssembly (2 threads, relaxed SIMD)");
    expect(two.shape).toEqual(one.shape);
    expect(two.data).toEqual(one.data);
    expect(referenceError(two)).toBeLessThan(1e-5);
    await page.close();
  });

  browserIt("a page that is not isolated falls back to one thread and says why", async () => {
    const page = await open("plain");
    const r = await run(page, 2);
    expect(r.isolated).toBe(false);
    expect(r.description).toMatch(/^WebAssembly \(one thread; 2 threads unavailable: /);
    expect(referenceError(r)).toBeLessThan(1e-5);
    await page.close();
  });
});
