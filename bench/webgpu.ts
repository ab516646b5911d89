// `npm run bench -- --webgpu`: cnnc's WGSL bundles against ONNX Runtime Web's WebGPU execution
// provider and TensorFlow.js's WebGPU backend, in the same headless Chromium page, on the
// same networks, weights and input as the main comparison. On a machine without a GPU,
// Chromium's WebGPU runs on SwiftShader (a CPU emulation): then the times say nothing about
// GPUs and the run is a smoke test that every runtime loads, runs and agrees (`--quick`: three
// small cases). The adapter's description is printed with the table so that a reader knows
// which it was.
//
// The page is built here: each network as a cnnc bundle (compiled for WebGPU, its weights in
// the bundle) and an .onnx file, and one script bundled by esbuild from bench/peers/tfjs.ts's
// graph builder (the same code that builds the tfjs-wasm peer) with @tensorflow/tfjs-core and
// @tensorflow/tfjs-backend-webgpu; ONNX Runtime Web is its own prebuilt module, served from
// bench/node_modules. The Node-only modules that graph builder's file imports for other uses
// are replaced by empty stubs in the browser bundle. Every output is checked against ONNX
// Runtime Node (max |diff| / max |ref| <= 1e-3) where it is installed, else against cnnc's.
//
//   npm run bench -- --webgpu [--quick] [--only NAME,..] [--runs N]

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { writeBundle } from "../compiler/bundle.js";
import { compile, formatDiagnostics } from "../compiler/index.js";
import { relativeError } from "./compare.js";
import { findNetwork, input, NETWORKS, type NetworkSpec, POOL_NETWORKS, weights } from "./networks.js";
import { safetensorsFor } from "./peers/cnnc.js";
import { onnxModel, ortRunner } from "./peers/ort.js";
import { benchDir, peerDir } from "./peers/resolve.js";

const CHROMIUM = process.env.CNNC_CHROMIUM ?? "/usr/bin/chromium";
const QUICK = ["lenet", "conv_stride2", "avgpool_3x3s2"];
const TOLERANCE = 1e-3;
const RUNNERS = ["cnnc-webgpu", "tfjs-webgpu", "ort-webgpu"] as const;

/** What the page does, as source (bundled by esbuild; `window.bench` is called from here). */
const PAGE_ENTRY = `
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";
import { buildTfjs, tfShape, toChannelsFirst, toChannelsLast } from "./peers/tfjs.js";
import { findNetwork, input, steps, weights } from "./networks.js";

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

async function cnncRunner(spec, x) {
  const url = new URL("./" + spec.name + "/index.js", location.href).href;
  const { load } = await import(url);
  const net = await load({ backend: "webgpu" });
  if (net.backend !== "webgpu") throw new Error("cnnc ran on " + net.description);
  const feeds = { [spec.input.name]: { data: x, shape: [1, ...spec.input.shape] } };
  return { run: async () => (await net.run(feeds))[spec.output].data, dispose: () => net.dispose(), detail: net.description };
}

async function tfjsRunner(spec, x) {
  if (tf.getBackend() !== "webgpu" && !(await tf.setBackend("webgpu"))) throw new Error("the tfjs WebGPU backend did not start");
  await tf.ready();
  const { ops, held } = buildTfjs(tf, spec, weights(spec));
  const nhwc = toChannelsLast(x, spec.input.shape);
  const out = steps(spec).at(-1).outShape;
  const run = async () => {
    const y = tf.tidy(() => { const t = tf.tensor(nhwc, tfShape(spec.input.shape), "float32"); return ops.reduce((h, op) => op(h, t), t); });
    const data = await y.data();
    y.dispose();
    return toChannelsFirst(data, out);
  };
  return { run, dispose: () => held.forEach((t) => t.dispose()), detail: "tfjs-core " + tf.version_core };
}

async function ortRunner(spec, x) {
  const url = "/ort/ort.webgpu.min.mjs";
  const ort = await import(url);
  ort.env.wasm.wasmPaths = "/ort/";
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create("/" + spec.name + ".onnx", { executionProviders: ["webgpu"], graphOptimizationLevel: "all" });
  const dims = [1, ...spec.input.shape];
  const run = async () => (await session.run({ input: new ort.Tensor("float32", x, dims) })).output.data;
  return { run, dispose: () => session.release(), detail: "onnxruntime-web " + ort.env.versions.web };
}

window.bench = async (name, passes, runs) => {
  const spec = findNetwork(name);
  const x = input(spec);
  const makers = { "cnnc-webgpu": cnncRunner, "tfjs-webgpu": tfjsRunner, "ort-webgpu": ortRunner };
  const result = {};
  const live = {};
  for (const [key, make] of Object.entries(makers)) {
    try {
      const r = await make(spec, x);
      const out = await r.run();
      for (let i = 0; i < 2; i++) await r.run();
      live[key] = r;
      result[key] = { output: Array.from(out), detail: r.detail, times: [] };
    } catch (e) {
      result[key] = { error: String((e && e.message) || e).slice(0, 300) };
    }
  }
  const keys = Object.keys(live);
  for (let p = 0; p < passes; p++) {
    for (let k = 0; k < keys.length; k++) {
      const key = keys[(p + k) % keys.length];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await live[key].run();
        result[key].times.push(performance.now() - t);
      }
    }
  }
  for (const key of keys) {
    result[key].ms = median(result[key].times);
    delete result[key].times;
    try { await live[key].dispose(); } catch {}
  }
  return result;
};

window.adapterInfo = async () => {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return "no WebGPU adapter";
  const i = adapter.info ?? {};
  return [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(" / ") || "an adapter that does not describe itself";
};
window.pageReady = true;
`;

interface Cell {
  readonly ms?: number;
  readonly output?: number[];
  readonly detail?: string;
  readonly error?: string;
}

type PageResult = Partial<Record<(typeof RUNNERS)[number], Cell>>;

function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The page's script: PAGE_ENTRY with its imports bundled, Node built-ins stubbed. */
async function bundlePage(dir: string): Promise<void> {
  const esbuild = await import("esbuild");
  const here = path.dirname(fileURLToPath(import.meta.url));
  await esbuild.build({
    stdin: { contents: PAGE_ENTRY, resolveDir: here, loader: "js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    outfile: path.join(dir, "page.js"),
    nodePaths: [path.join(benchDir(), "node_modules")],
    logLevel: "error",
    plugins: [
      {
        name: "node-stubs",
        setup(b) {
          b.onResolve({ filter: /^node:/ }, (a) => ({ path: a.path, namespace: "stub" }));
          b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: "module.exports = {};", loader: "js" }));
        },
      },
    ],
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const runs = Number(option(argv, "--runs") ?? (quick ? 3 : 10));
  const passes = quick ? 2 : 5;
  const only = option(argv, "--only")?.split(",");
  const names = only ?? (quick ? QUICK : [...NETWORKS, ...POOL_NETWORKS].map((n) => n.name));
  const specs: NetworkSpec[] = names.map((n) => {
    const s = findNetwork(n);
    if (!s) throw new Error(`unknown network ${n}`);
    return s;
  });
  const started = new Date();
  const loadBefore = os.loadavg()[0];
  const dir = mkdtempSync(path.join(tmpdir(), "cnnc-bench-webgpu-"));
  const { chromium } = await import("playwright-core");
  const { createServer } = await import("node:http");
  const { existsSync, readFileSync, statSync } = await import("node:fs");
  try {
    for (const spec of specs) {
      const w = weights(spec);
      const r = compile(spec.source, { fileName: `${spec.name}.cnn`, target: "webgpu", weights: safetensorsFor(w) });
      if (!r.ok) throw new Error(`${spec.name}: ${formatDiagnostics(r.diagnostics)}`);
      writeBundle(path.join(dir, spec.name), r.artifacts);
      writeFileSync(path.join(dir, `${spec.name}.onnx`), onnxModel(spec, w));
    }
    await bundlePage(dir);
    writeFileSync(path.join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>cnnc webgpu bench</title><script type="module" src="page.js"></script>\n`);
    const ortDist = path.join(peerDir("onnxruntime-web"), "dist");
    const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
    const server = createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      const [root, file] = rel.startsWith("/ort/") ? [ortDist, path.join(ortDist, rel.slice(5))] : [dir, path.join(dir, rel === "/" ? "index.html" : rel)];
      if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const context = await chromium.launchPersistentContext(path.join(dir, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu-sandbox", "--no-first-run"],
    });
    const rows: string[] = [];
    const notes = new Set<string>();
    let failures = 0;
    let adapter = "?";
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => (window as unknown as { pageReady?: boolean }).pageReady === true, undefined, { timeout: 60_000 }).catch(() => {
        throw new Error(`the page did not load: ${errors.join("; ")}`);
      });
      adapter = await page.evaluate(() => (window as unknown as { adapterInfo: () => Promise<string> }).adapterInfo());
      const ortNode = await Promise.resolve()
        .then(() => ortRunner("node"))
        .catch(() => undefined);
      for (const spec of specs) {
        process.stderr.write(`${spec.name} ...\n`);
        const result = await page.evaluate(([n, p, k]) => (window as unknown as { bench: (n: string, p: number, k: number) => Promise<PageResult> }).bench(n, p, k), [spec.name, passes, runs] as const);
        let want: ArrayLike<number> | undefined;
        let reference = "ort-node";
        if (ortNode) {
          const prepared = await ortNode.prepare(spec, weights(spec), input(spec));
          want = await prepared.output();
          await prepared.dispose();
        } else {
          want = result["cnnc-webgpu"]?.output;
          reference = "cnnc-webgpu";
        }
        const cells = RUNNERS.map((name) => {
          const c = result[name];
          if (!c || c.error !== undefined || c.ms === undefined) {
            if (name === "cnnc-webgpu") failures++;
            return `fail: ${(c?.error ?? "no result").replace(/\|/g, "/").replace(/\s+/g, " ")}`;
          }
          if (c.detail) notes.add(`${name}: ${c.detail}`);
          const err = want && c.output ? relativeError(c.output, want) : NaN;
          if (!(err <= TOLERANCE) && name === "cnnc-webgpu") failures++;
          return `${c.ms.toFixed(3)} (err ${err.toExponential(1)}${err <= TOLERANCE ? "" : " ⚠"})`;
        });
        const ms = (n: (typeof RUNNERS)[number]) => result[n]?.ms;
        const cnnc = ms("cnnc-webgpu");
        const peers = [ms("tfjs-webgpu"), ms("ort-webgpu")].filter((v): v is number => v !== undefined);
        const ratio = cnnc !== undefined && peers.length ? `${(cnnc / Math.min(...peers)).toFixed(2)}x` : "-";
        rows.push(`| ${spec.name} | ${cells.join(" | ")} | ${ratio} |`);
        if (reference !== "ort-node") notes.add(`outputs checked against ${reference} (onnxruntime-node is not installed)`);
      }
    } finally {
      await context.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const out = [
      `## cnnc on WebGPU against the WebGPU peers${quick ? " (--quick: a smoke run)" : ""}`,
      "",
      `${started.toISOString()} · Chromium (${CHROMIUM}) headless · adapter: ${adapter} · ${os.cpus()[0]?.model?.trim() ?? "?"}, ${os.cpus().length} logical cores · load average (1 min) ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`,
      "",
      "| network | cnnc WebGPU ms | tfjs WebGPU ms | ort-web WebGPU ms | cnnc / faster peer |",
      "| --- | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      `- Median ms per inference (input in, output read back to the CPU) over ${passes} passes of ${runs} runs each, the runtimes taking turns, after 3 warm-up runs; (err) = max |diff| / max |reference| against ONNX Runtime Node, at most ${TOLERANCE}.`,
      ...[...notes].map((n) => `- ${n}`),
      "- On SwiftShader (no GPU) these times measure a CPU emulation of a GPU: a smoke test, not a comparison.",
      "",
    ];
    process.stdout.write(`${out.join("\n")}\n`);
    // The exit status is cnnc's: it must run and agree; a peer's failure is reported in its cell.
    return failures ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
