// Loading a generated bundle: fetch its files relative to the bundle's URL (a file: URL in
// Node, http(s) in a browser), pick a backend and build the Network. Imports nothing from
// the compiler; only runtime/ files are copied into a bundle.

import type { Manifest } from "./manifest.js";
import { type Executor, Network } from "./session.js";
import { hasRelaxedSimd, WasmExecutor } from "./wasm.js";
import { BackendError } from "./backend-error.js";
import { findAdapter, WebGpuExecutor } from "./webgpu.js";

export { BackendError };

/** A WebGPU entry point: navigator.gpu, or the object the `webgpu` package's create() returns. */
export interface GpuProvider {
  requestAdapter(options?: object): Promise<unknown>;
}

export interface LoadOptions {
  /** "auto" (the default) picks WebGPU when an adapter exists, else WebAssembly. */
  readonly backend?: "wasm" | "webgpu" | "auto";
  /** Run the relaxed-SIMD build where the engine has relaxed SIMD (default true); false keeps the plain SIMD128 build, whose results are the same on every machine. */
  readonly relaxedSimd?: boolean;
  /** Where to find a WebGPU adapter (default: navigator.gpu in browsers, Dawn through the `webgpu` package in Node). */
  readonly gpu?: GpuProvider;
  /**
   * WebAssembly: run the kernels on this many threads over shared memory (default 1). Node
   * worker_threads, or Web Workers in a cross-origin isolated page; where that is not
   * possible the network runs on one thread and `description` says why.
   */
  readonly threads?: number;
  /** "finite": run() refuses inputs holding NaN or an infinity, which the backends treat differently (default "none"; the CLI checks). */
  readonly check?: "finite" | "none";
}

const BACKENDS = ["wasm", "webgpu", "auto"] as const;

/** Options a caller may have spelled wrong (plain JavaScript has no types to catch them). */
function checkOptions(options: LoadOptions): void {
  if (options.backend !== undefined && !(BACKENDS as readonly string[]).includes(options.backend)) {
    throw new BackendError(`unknown backend '${String(options.backend)}'; the backends are ${BACKENDS.join(", ")}`);
  }
  if (options.check !== undefined && options.check !== "finite" && options.check !== "none") {
    throw new BackendError(`check must be "finite" or "none", got ${JSON.stringify(options.check)}`);
  }
  const t = options.threads;
  if (t !== undefined && (typeof t !== "number" || !Number.isInteger(t) || t < 1)) {
    throw new BackendError(`threads must be a positive integer, got ${String(t)}`);
  }
}

/** Threads past the machine's cores only compete for them: clamped, and the clamp said in `description`. */
function clampThreads(wanted: number | undefined): { threads?: number; note: string } {
  // Where the engine does not say how many cores it has (Node 20), the number is kept.
  const cores = typeof navigator !== "undefined" && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : Infinity;
  if (wanted === undefined || wanted <= cores) return { threads: wanted, note: "" };
  return { threads: cores, note: `; ${wanted} threads asked for, clamped to the ${cores} this machine has` };
}

export async function readBundleFile(base: URL, name: string): Promise<Uint8Array> {
  const url = new URL(name, base);
  if (url.protocol === "file:") {
    const fs = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    return new Uint8Array(await fs.readFile(fileURLToPath(url)));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url.href}: ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

export function weightsFromBytes(bytes: Uint8Array, expected: number): Float32Array {
  if (bytes.byteLength !== expected) throw new Error(`the weights file has ${bytes.byteLength} bytes, expected ${expected}`);
  // Copy into a fresh, aligned buffer: the file's bytes may sit at any offset.
  const out = new Float32Array(expected / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Builds a network from a manifest and its files, already in memory. */
export async function networkFromArtifacts(
  manifest: Manifest,
  files: { wasm?: Uint8Array; wasmRelaxed?: Uint8Array; tables?: Uint8Array; weights: Uint8Array; wgsl?: readonly string[] },
  options: LoadOptions = {},
): Promise<Network> {
  checkOptions(options);
  const check = options.check ?? "none";
  const backend = options.backend ?? "auto";
  const weights = weightsFromBytes(files.weights, manifest.weights.bytes);
  let skipped = "";
  if (backend === "webgpu" || backend === "auto") {
    const gpu = manifest.webgpu;
    if (!gpu || !files.wgsl) {
      if (backend === "webgpu") throw new BackendError("this bundle was compiled without a WebGPU target; compile with --target webgpu or all");
    } else {
      try {
        const choice = await findAdapter(options.gpu);
        if (!choice) throw new BackendError("no WebGPU adapter found (no GPU, and no software fallback)");
        const exec = await WebGpuExecutor.create(choice.adapter, gpu, weights, files.wgsl);
        return new Network(manifest, exec, `WebGPU on ${choice.description}`, check);
      } catch (e) {
        if (backend === "webgpu") throw e;
        skipped = `; WebGPU not used: ${(e as Error).message}`;
      }
    }
  }
  if (!manifest.wasm || !files.wasm) {
    throw new BackendError(`this bundle has no WebAssembly module${skipped || (manifest.webgpu ? "; load it with backend: webgpu" : "")}`);
  }
  const wasmManifest = manifest.wasm;
  const code = { binary: files.wasm, relaxed: options.relaxedSimd === false ? undefined : files.wasmRelaxed, tables: files.tables };
  const clamp = clampThreads(options.threads);
  const exec = await WasmExecutor.create(code, wasmManifest, weights, { threads: clamp.threads });
  const executor: Executor = {
    backend: "wasm",
    runSample: (env: Record<string, number>, inputs: readonly Float32Array[]) => exec.runSample(env, manifest.symbols, inputs),
    dispose: () => exec.dispose(),
  };
  return new Network(manifest, executor, `WebAssembly (${exec.threading}${exec.relaxed ? ", relaxed SIMD" : ""})${clamp.note}${skipped}`, check);
}

/** Loads the bundle whose files sit next to `base` (the bundle's index.js URL). */
export async function loadBundle(manifest: Manifest, base: URL, options: LoadOptions = {}): Promise<Network> {
  checkOptions(options);
  const backend = options.backend ?? "auto";
  const weights = await readBundleFile(base, manifest.weights.file);
  const m = backend !== "webgpu" ? manifest.wasm : undefined;
  const wasm = m ? await readBundleFile(base, m.file) : undefined;
  // The relaxed build is fetched only where it will run.
  const wasmRelaxed = m?.relaxedFile && options.relaxedSimd !== false && hasRelaxedSimd() ? await readBundleFile(base, m.relaxedFile) : undefined;
  const tables = m?.tables ? await readBundleFile(base, m.tables.file) : undefined;
  const text = new TextDecoder();
  const wgsl =
    manifest.webgpu && backend !== "wasm"
      ? await Promise.all(manifest.webgpu.programs.map(async (p) => text.decode(await readBundleFile(base, p.file))))
      : undefined;
  return networkFromArtifacts(manifest, { wasm, wasmRelaxed, tables, weights, wgsl }, options);
}
