// Opening a network from its bundle: read the files the chosen backend needs (and only those:
// the relaxed-SIMD module or the plain one, never both; no WGSL for WebAssembly), pick the
// backend, build the Network. The backends are handed in by the caller (the generated
// index.js imports just the ones its bundle was compiled for), so a WebAssembly-only bundle
// pulls no WebGPU code into a web app, and one compiled without --threads no thread pool.
// The types here are structural and free of DOM, WebGPU and Node declarations, so a bundle's
// index.d.ts type-checks in any strict TypeScript project.

import { BackendError } from "./backend-error.js";
import { type FileOptions, type FileUrls, readFile, type UrlLike } from "./bundle-files.js";
import type { DimEnv } from "./dim.js";
import type { Manifest, WasmManifest, WebGpuManifest } from "./manifest.js";
import { type Executor, Network } from "./session.js";

export { BackendError };
export type { FetchLike, FileOptions, FileSource, FileUrls, ResponseLike, UrlLike } from "./bundle-files.js";

/** A WebGPU entry point: navigator.gpu, or the object the `webgpu` package's create() returns. */
export interface GpuProvider {
  requestAdapter(options?: object): Promise<unknown>;
}

export interface LoadOptions extends FileOptions {
  /** "auto" (the default) picks WebGPU when an adapter exists, else WebAssembly. */
  readonly backend?: "wasm" | "webgpu" | "auto";
  /** Run the relaxed-SIMD build where the engine has relaxed SIMD (default true); false keeps the plain SIMD128 build, whose results are the same on every machine. */
  readonly relaxedSimd?: boolean;
  /** Where to find a WebGPU adapter (default: navigator.gpu in browsers, Dawn through the `webgpu` package in Node). */
  readonly gpu?: GpuProvider;
  /**
   * WebAssembly: run the kernels on this many threads over shared memory (default 1, or what
   * the bundle was compiled with: `cnnc compile --threads N`). Node worker_threads, or Web
   * Workers in a cross-origin isolated page; where that is not possible, or the bundle was
   * compiled without threads, the network runs on one thread and `description` says why.
   */
  readonly threads?: number;
  /**
   * "finite" (the default): run() refuses an input holding NaN or an infinity, with the same
   * InputError on every backend. "none" skips that scan (one pass over the inputs); the
   * backends then do not agree on such inputs (one backend's arithmetic propagates a NaN that
   * another's max drops, in a ReLU or a max pool), so use it only for inputs known to be finite.
   */
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
export function clampThreads(wanted: number | undefined): { threads?: number; note: string } {
  // Where the engine does not say how many cores it has (Node 20), the number is kept.
  const cores = typeof navigator !== "undefined" && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : Infinity;
  if (wanted === undefined || wanted <= cores) return { threads: wanted, note: "" };
  return { threads: cores, note: `; ${wanted} threads asked for, clamped to the ${cores} this machine has` };
}

/** The WebAssembly backend as the loader sees it (runtime/wasm.ts's wasmBackend()). */
export interface WasmBackend {
  hasRelaxedSimd(): boolean;
  create(
    code: { readonly binary: Uint8Array; readonly relaxed?: Uint8Array; readonly tables?: Uint8Array },
    manifest: WasmManifest,
    weights: Float32Array,
    options: { readonly threads?: number },
  ): Promise<{ readonly threading: string; readonly relaxed: boolean; runSample(env: DimEnv, symbols: readonly string[], inputs: readonly Float32Array[]): Float32Array[]; dispose(): void }>;
}

/** The WebGPU backend as the loader sees it (runtime/webgpu.ts's webgpuBackend). */
export interface WebGpuBackend {
  findAdapter(gpu?: GpuProvider): Promise<{ readonly adapter: unknown; readonly description: string } | undefined>;
  create(adapter: unknown, manifest: WebGpuManifest, weights: Float32Array, wgsl: readonly string[]): Promise<Executor>;
}

export interface Backends {
  readonly wasm?: WasmBackend;
  readonly webgpu?: WebGpuBackend;
}

/** A network's files, already in memory. */
export interface NetworkFiles {
  readonly wasm?: Uint8Array;
  readonly wasmRelaxed?: Uint8Array;
  readonly tables?: Uint8Array;
  readonly weights: Uint8Array;
  readonly wgsl?: readonly string[];
}

export function weightsFromBytes(bytes: Uint8Array, expected: number): Float32Array {
  if (bytes.byteLength !== expected) throw new Error(`the weights file has ${bytes.byteLength} bytes, expected ${expected}`);
  // Copy into a fresh, aligned buffer: the file's bytes may sit at any offset.
  const out = new Float32Array(expected / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Builds a network from a manifest and its files, already in memory, on the given backends. */
export async function networkFromFiles(manifest: Manifest, files: NetworkFiles, options: LoadOptions, backends: Backends): Promise<Network> {
  checkOptions(options);
  const check = options.check ?? "finite";
  const backend = options.backend ?? "auto";
  const weights = weightsFromBytes(files.weights, manifest.weights.bytes);
  let skipped = "";
  if (backend === "webgpu" || backend === "auto") {
    const gpu = manifest.webgpu;
    if (!gpu || !files.wgsl || !backends.webgpu) {
      if (backend === "webgpu") throw new BackendError("this bundle was compiled without a WebGPU target; compile with --target webgpu or all");
    } else {
      try {
        const choice = await backends.webgpu.findAdapter(options.gpu);
        if (!choice) throw new BackendError("no WebGPU adapter found (no GPU, and no software fallback)");
        const exec = await backends.webgpu.create(choice.adapter, gpu, weights, files.wgsl);
        return new Network(manifest, exec, `WebGPU on ${choice.description}`, check);
      } catch (e) {
        if (backend === "webgpu") throw e;
        skipped = `; WebGPU not used: ${(e as Error).message}`;
      }
    }
  }
  if (!manifest.wasm || !files.wasm || !backends.wasm) {
    throw new BackendError(`this bundle has no WebAssembly module${skipped || (manifest.webgpu ? "; load it with backend: webgpu" : "")}`);
  }
  const relaxed = options.relaxedSimd === false ? undefined : files.wasmRelaxed;
  const clamp = clampThreads(options.threads);
  const exec = await backends.wasm.create({ binary: files.wasm, relaxed, tables: files.tables }, manifest.wasm, weights, { threads: clamp.threads });
  const executor: Executor = {
    backend: "wasm",
    runSample: (env: DimEnv, inputs: readonly Float32Array[]) => exec.runSample(env, manifest.symbols, inputs),
    dispose: () => exec.dispose(),
  };
  return new Network(manifest, executor, `WebAssembly (${exec.threading}${exec.relaxed ? ", relaxed SIMD" : ""})${clamp.note}${skipped}`, check);
}

/**
 * Loads a bundle: `urls` names each file's URL (the generated index.js) or is the folder they
 * sit in. WebAssembly reads one module: the relaxed-SIMD build where it will run, else the
 * plain one (which it also needs when WebGPU may win: it is then fetched only if WebGPU fails).
 */
export async function openBundle(manifest: Manifest, urls: FileUrls | UrlLike, options: LoadOptions, backends: Backends): Promise<Network> {
  checkOptions(options);
  const backend = options.backend ?? "auto";
  const read = (name: string) => readFile(name, urls, options);
  const weights = await read(manifest.weights.file);
  const text = new TextDecoder();
  const wantGpu = manifest.webgpu && backends.webgpu && backend !== "wasm";
  const wgsl = wantGpu ? await Promise.all(manifest.webgpu!.programs.map(async (p) => text.decode(await read(p.file)))) : undefined;
  const m = backend !== "webgpu" && backends.wasm ? manifest.wasm : undefined;
  if (!m || !backends.wasm) return networkFromFiles(manifest, { weights, wgsl }, options, backends);
  const wasmBackend = backends.wasm;
  const relaxedRuns = !!m.relaxedFile && options.relaxedSimd !== false && wasmBackend.hasRelaxedSimd();
  // The WebAssembly files, read only once WebAssembly is the backend that runs.
  const lazyWasm: WasmBackend = {
    hasRelaxedSimd: () => relaxedRuns,
    create: async (_code, wm, w, o) => {
      const [module, tables] = await Promise.all([read(relaxedRuns ? m.relaxedFile! : m.file), m.tables ? read(m.tables.file) : undefined]);
      const code = relaxedRuns ? { binary: module, relaxed: module, tables } : { binary: module, tables };
      return wasmBackend.create(code, wm, w, o);
    },
  };
  const placeholder = new Uint8Array(0);
  return networkFromFiles(manifest, { weights, wgsl, wasm: placeholder }, options, { ...backends, wasm: lazyWasm });
}
