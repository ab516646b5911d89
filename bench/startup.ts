// The measurements besides speed: how big cnnc's LeNet bundle is (the JavaScript and the
// .wasm a page would download, without the weights, gzipped file by file with node:zlib),
// how long a fresh Node process takes from importing the runtime to LeNet's first result
// (cnnc's generated bundle against each peer, each in its own child process, several times,
// median), and how long compile() takes on LeNet and on the ResNet block (the first call in
// this process, then warm). The bundle is written by the `cnnc compile` command, the way a
// user makes one, so this needs `npm run build` (which `npm run bench` does first).

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { compile } from "../compiler/index.js";
import { findNetwork, type NetworkSpec, weights } from "./networks.js";
import { safetensorsFor } from "./peers/cnnc.js";
import { onnxModel } from "./peers/ort.js";
import { repoDir } from "./peers/resolve.js";
import { brief } from "./peers/runner.js";

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export interface BundleSize {
  readonly jsFiles: number;
  readonly jsBytes: number;
  readonly jsGzip: number;
  readonly wasmBytes: number;
  readonly wasmGzip: number;
  /** The largest JS files, gzipped, for the notes. */
  readonly biggest: readonly { readonly file: string; readonly gzip: number }[];
}

export interface ColdStart {
  readonly runner: string;
  /** Import of the runtime to the first result, measured inside the child (median). */
  readonly importToResultMs?: number;
  /** Spawn to exit, measured by this process (median; includes Node's own start). */
  readonly processMs?: number;
  readonly runs: number;
  readonly error?: string;
}

export interface CompileTime {
  readonly network: string;
  readonly firstMs?: number;
  readonly warmMs?: number;
  /** `cnnc compile` in a fresh process (spawn to exit). */
  readonly cliMs?: number;
  readonly error?: string;
}

function run(cmd: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - t }));
  });
}

function lenet(): NetworkSpec {
  const spec = findNetwork("lenet");
  if (!spec) throw new Error("no lenet");
  return spec;
}

/** A scratch folder with lenet's source, weights, ONNX model and bundle (the caller removes it). */
export interface Scratch {
  readonly dir: string;
  readonly bundle: string;
  readonly model: string;
  readonly weightsFile: string;
}

export async function makeScratch(): Promise<Scratch> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cnnc-bench-"));
  const spec = lenet();
  const w = weights(spec);
  writeFileSync(path.join(dir, "lenet.cnn"), spec.source);
  const weightsFile = path.join(dir, "lenet.safetensors");
  writeFileSync(weightsFile, safetensorsFor(w));
  const model = path.join(dir, "lenet.onnx");
  writeFileSync(model, onnxModel(spec, w));
  return { dir, bundle: path.join(dir, "lenet-bundle"), model, weightsFile };
}

/** Writes the bundle with the CLI; returns how long `cnnc compile` took, or throws with its output. */
async function cliCompile(source: string, weightsFile: string, out: string): Promise<number> {
  const root = repoDir();
  const r = await run(process.execPath, [path.join(root, "bin", "cnnc.js"), "compile", source, "-o", out, "--weights", weightsFile], root);
  if (r.code !== 0) throw new Error(`cnnc compile failed (exit ${r.code}): ${r.stderr || r.stdout}`);
  return r.ms;
}

export async function writeLenetBundle(s: Scratch): Promise<void> {
  await cliCompile(path.join(s.dir, "lenet.cnn"), s.weightsFile, s.bundle);
}

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, base));
    else out.push(path.relative(base, p));
  }
  return out;
}

/**
 * JS (index.js and the runtime's .js) and the .wasm of the bundle a page downloads: one of
 * model.wasm and model.relaxed.wasm (nearly the same size), so the relaxed build is left out;
 * weights, packed weights (tables.bin), manifest.json, package.json and .d.ts left out too.
 */
export function bundleSize(bundle: string): BundleSize {
  let jsFiles = 0;
  let jsBytes = 0;
  let jsGzip = 0;
  let wasmBytes = 0;
  let wasmGzip = 0;
  const sizes: { file: string; gzip: number }[] = [];
  for (const f of listFiles(bundle)) {
    const bytes = readFileSync(path.join(bundle, f));
    const gz = gzipSync(bytes, { level: 9 }).length;
    if (f.endsWith(".relaxed.wasm")) continue;
    if (f.endsWith(".wasm")) {
      wasmBytes += bytes.length;
      wasmGzip += gz;
    } else if (f.endsWith(".js")) {
      jsFiles++;
      jsBytes += bytes.length;
      jsGzip += gz;
      sizes.push({ file: f, gzip: gz });
    }
  }
  sizes.sort((a, b) => b.gzip - a.gzip);
  return { jsFiles, jsBytes, jsGzip, wasmBytes, wasmGzip, biggest: sizes.slice(0, 4) };
}

/** The child scripts: make the input, then time from the first import to the first result. */
function childScripts(s: Scratch, benchBuild: URL): Record<string, string> {
  const input = `const input = new Float32Array(784); for (let i = 0; i < 784; i++) input[i] = Math.sin(i);\n`;
  const done = `const ms = performance.now() - t0;\nprocess.stdout.write(JSON.stringify({ ms, first: out[0] }) + "\\n");\n`;
  const tfjs = new URL("./peers/tfjs.js", benchBuild).href;
  const ort = new URL("./peers/ort.js", benchBuild).href;
  return {
    cnnc:
      input +
      `const t0 = performance.now();
const { load } = await import(${JSON.stringify(pathToFileURL(path.join(s.bundle, "index.js")).href)});
const net = await load({ backend: "wasm" });
const out = (await net.run({ image: { data: input, shape: [1, 1, 28, 28] } })).probs.data;
` +
      done,
    "tfjs-wasm":
      input +
      `const t0 = performance.now();
const { coldRunTfjs } = await import(${JSON.stringify(tfjs)});
const out = await coldRunTfjs("lenet", ${JSON.stringify(s.weightsFile)}, input);
` +
      done,
    "ort-web":
      input +
      `const t0 = performance.now();
const { coldRunOrt } = await import(${JSON.stringify(ort)});
const out = await coldRunOrt("web", ${JSON.stringify(s.model)}, input, [1, 1, 28, 28]);
` +
      done,
    "ort-node":
      input +
      `const t0 = performance.now();
const { coldRunOrt } = await import(${JSON.stringify(ort)});
const out = await coldRunOrt("node", ${JSON.stringify(s.model)}, input, [1, 1, 28, 28]);
` +
      done,
  };
}

/**
 * Cold starts of LeNet, `runs` each, the runners alternating. `benchBuild` is the URL of the
 * compiled bench folder (where peers/*.js are); `available` says which runners to try.
 */
export async function coldStarts(s: Scratch, benchBuild: URL, runs: number, available: ReadonlySet<string>, log: (line: string) => void): Promise<ColdStart[]> {
  const scripts = childScripts(s, benchBuild);
  const names = Object.keys(scripts).filter((n) => available.has(n));
  const dir = path.join(s.dir, "cold");
  mkdirSync(dir, { recursive: true });
  const times = new Map<string, { inner: number[]; outer: number[]; error?: string }>();
  for (const n of names) {
    writeFileSync(path.join(dir, `${n}.mjs`), scripts[n]);
    times.set(n, { inner: [], outer: [] });
  }
  for (let r = 0; r < runs; r++) {
    for (const n of names) {
      const t = times.get(n);
      if (!t || t.error) continue;
      const res = await run(process.execPath, [path.join(dir, `${n}.mjs`)], s.dir);
      const line = res.stdout.trim().split("\n").at(-1) ?? "";
      try {
        if (res.code !== 0) throw new Error(res.stderr.trim() || `exit ${res.code}`);
        const parsed = JSON.parse(line) as { ms?: unknown };
        if (typeof parsed.ms !== "number") throw new Error(`unexpected output: ${line}`);
        t.inner.push(parsed.ms);
        t.outer.push(res.ms);
      } catch (e) {
        t.error = brief(e);
        log(`  cold start ${n}: ${t.error}`);
      }
    }
  }
  return names.map((n) => {
    const t = times.get(n) ?? { inner: [], outer: [] };
    return t.inner.length
      ? { runner: n, importToResultMs: median(t.inner), processMs: median(t.outer), runs: t.inner.length, error: t.error }
      : { runner: n, runs: 0, error: t.error ?? "no runs" };
  });
}

/** A fresh process that only imports the compiler (Node's start, binaryen, the parser): the floor under `cnnc compile`. */
export async function importCompilerMs(runs: number): Promise<number> {
  const root = repoDir();
  const url = pathToFileURL(path.join(root, "dist", "compiler", "index.js")).href;
  const times: number[] = [];
  for (let i = 0; i < Math.max(1, runs); i++) {
    const r = await run(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(url)});`], root);
    if (r.code !== 0) throw new Error(`importing the compiler failed: ${r.stderr}`);
    times.push(r.ms);
  }
  return median(times);
}

/** compile() on the named networks: the first call in this process, then the median of `warm` more; and the CLI in a fresh process. */
export async function compileTimes(names: readonly string[], warm: number, s: Scratch | undefined): Promise<CompileTime[]> {
  const out: CompileTime[] = [];
  for (const name of names) {
    const spec = findNetwork(name);
    if (!spec) continue;
    try {
      const bytes = safetensorsFor(weights(spec));
      const once = (): number => {
        const t = performance.now();
        const r = compile(spec.source, { fileName: `${name}.cnn`, weights: bytes });
        const ms = performance.now() - t;
        if (!r.ok) throw new Error(`${name} does not compile`);
        return ms;
      };
      const firstMs = once();
      const warmTimes: number[] = [];
      for (let i = 0; i < warm; i++) warmTimes.push(once());
      let cliMs: number | undefined;
      if (s) {
        const src = path.join(s.dir, `${name}-compile.cnn`);
        const wf = path.join(s.dir, `${name}-compile.safetensors`);
        writeFileSync(src, spec.source);
        writeFileSync(wf, bytes);
        const cli: number[] = [];
        for (let i = 0; i < Math.max(1, Math.min(3, warm)); i++) cli.push(await cliCompile(src, wf, path.join(s.dir, `${name}-compile-bundle`)));
        cliMs = median(cli);
      }
      out.push({ network: name, firstMs, warmMs: median(warmTimes), cliMs });
    } catch (e) {
      out.push({ network: name, error: brief(e) });
    }
  }
  return out;
}

export function removeScratch(s: Scratch): void {
  rmSync(s.dir, { recursive: true, force: true });
}
