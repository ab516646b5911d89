// Runs a compiled network's WebAssembly module, one sample at a time. The module imports its
// memory (env.memory, made here; shared when running on threads, see threads.ts), laid out by
// the compiler: the weights blob at
// `weightsOffset` (copied in once, here), the activation arena after it, inputs and outputs
// at byte offsets that may depend on the size symbols. `run` takes one i32 per symbol.
// Transcendentals are the host's Math functions, imported as env.exp/tanh/pow/log (the
// compiler's backends/wasm/math.ts names the same four). The compile-time tables (packed
// weights) are copied in beside the weights. Where the network has a relaxed-SIMD build and
// the engine validates relaxed SIMD (current browsers; Node 20 behind
// --experimental-wasm-relaxed-simd), that build runs. Imports nothing from the compiler.
// Threads are handed in (`threadSupport`, runtime/threads.ts) rather than imported, so that a
// bundle compiled without --threads ships no thread pool.

import { type DimEnv, evalDim } from "./dim.js";
import type { WasmIO, WasmManifest } from "./manifest.js";
import type { WasmBackend } from "./open-network.js";

/** The thread pool as the executor uses it (runtime/threads.ts's ThreadPool). */
export interface Pool {
  readonly count: number;
  run(steps: number, syms: readonly number[]): void;
  dispose(): void;
}

/** What running on threads takes: runtime/threads.ts's `threadSupport`. */
export interface ThreadSupport {
  /** Why this environment cannot run threads, or undefined when it can. */
  unavailable(): string | undefined;
  /** The module with its memory import marked shared. */
  sharedMemoryImport(wasm: Uint8Array): Uint8Array<ArrayBuffer>;
  start(module: WebAssembly.Module, memory: WebAssembly.Memory, step: (...args: number[]) => void, parallel: readonly boolean[], symbols: number, n: number): Promise<Pool>;
}

const PAGE = 65536;
/** The module computes addresses in i32 and declares at most this much memory. */
const MAX_BYTES = 2 ** 31;

const mathImports = { exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log };

type RunFn = (...sizes: number[]) => void;

/** A compiled network's WebAssembly: the plain-SIMD module, its relaxed-SIMD build if it has one, the tables region's bytes. */
export interface WasmCode {
  readonly binary: Uint8Array | ArrayBuffer;
  readonly relaxed?: Uint8Array | ArrayBuffer;
  readonly tables?: Uint8Array;
}

/** (module (func (result v128) (f32x4.relaxed_madd (v128.const i64x2 0 0) (v128.const i64x2 0 0) (v128.const i64x2 0 0)))) */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 133, 2, 11,
]);

/** Whether this engine runs relaxed SIMD (asked each time: a flag may be set after start-up). */
export function hasRelaxedSimd(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

const bytesOf = (b: Uint8Array | ArrayBuffer) => (b instanceof Uint8Array ? new Uint8Array(b) : new Uint8Array(b.slice(0)));

function isRun(f: unknown): f is RunFn {
  return typeof f === "function";
}

export interface WasmOptions {
  /** Threads to run the kernels on (default 1); falls back to one where threads are unavailable. */
  readonly threads?: number;
  /** The thread pool (runtime/threads.ts); without it the executor runs on one thread. */
  readonly threadSupport?: ThreadSupport;
}

export class WasmExecutor {
  private constructor(
    private readonly manifest: WasmManifest,
    private readonly memory: WebAssembly.Memory,
    private readonly run: RunFn,
    private readonly pool: Pool | undefined,
    /** What runs: "one thread", "2 threads", or one thread and why not more. */
    readonly threading: string,
    /** Whether the relaxed-SIMD build runs. */
    readonly relaxed: boolean,
  ) {}

  /** How many threads run the kernels. */
  get threads(): number {
    return this.pool?.count ?? 1;
  }

  static async create(code: WasmCode, manifest: WasmManifest, weights: Float32Array, options: WasmOptions = {}): Promise<WasmExecutor> {
    const relaxed = code.relaxed !== undefined && hasRelaxedSimd();
    // A copy on a plain ArrayBuffer: WebAssembly.compile does not take views of shared memory.
    const bytes = bytesOf(relaxed && code.relaxed ? code.relaxed : code.binary);
    const tables = manifest.tables;
    if (tables && code.tables?.byteLength !== tables.bytes) {
      throw new Error(`the tables file has ${code.tables?.byteLength ?? 0} bytes, expected ${tables.bytes}`);
    }
    const wanted = options.threads ?? 1;
    if (!Number.isInteger(wanted) || wanted < 1) throw new Error(`threads must be a positive integer, got ${wanted}`);
    let threading = "one thread";
    let exec: WasmExecutor | undefined;
    if (wanted > 1) {
      const support = options.threadSupport;
      const why = support ? support.unavailable() : "this bundle was compiled without threads (cnnc compile --threads N)";
      if (why || !support) threading = `one thread; ${wanted} threads unavailable: ${why}`;
      else {
        try {
          exec = await WasmExecutor.threaded(bytes, manifest, wanted, relaxed, support);
        } catch (e) {
          threading = `one thread; ${wanted} threads unavailable: ${(e as Error).message}`;
        }
      }
    }
    if (!exec) {
      const module = await WebAssembly.compile(bytes);
      const memory = new WebAssembly.Memory({ initial: manifest.memoryPages, maximum: MAX_BYTES / PAGE });
      const { run } = (await WebAssembly.instantiate(module, { env: { ...mathImports, memory } })).exports;
      if (!isRun(run)) throw new Error("the WebAssembly module does not export `run`; was it compiled by cnnc?");
      exec = new WasmExecutor(manifest, memory, run, undefined, threading, relaxed);
    }
    exec.reserve(Math.max(manifest.weightsOffset + weights.byteLength, tables ? tables.offset + tables.bytes : 0));
    // Workers share this memory: the tables and weights are copied in once.
    if (tables && code.tables) new Uint8Array(exec.memory.buffer, tables.offset, tables.bytes).set(code.tables);
    new Float32Array(exec.memory.buffer, manifest.weightsOffset, weights.length).set(weights);
    return exec;
  }

  /** The module on a shared memory, with n - 1 workers instantiating it too. */
  private static async threaded(bytes: Uint8Array, manifest: WasmManifest, n: number, relaxed: boolean, support: ThreadSupport): Promise<WasmExecutor> {
    const module = await WebAssembly.compile(support.sharedMemoryImport(bytes));
    const memory = new WebAssembly.Memory({ initial: manifest.memoryPages, maximum: MAX_BYTES / PAGE, shared: true });
    const { run, step } = (await WebAssembly.instantiate(module, { env: { ...mathImports, memory } })).exports;
    if (!isRun(run) || !isRun(step)) throw new Error("the WebAssembly module does not export `run` and `step`; was it compiled by cnnc?");
    const symbols = run.length;
    const pool = await support.start(module, memory, step, manifest.parallel, symbols, n);
    return new WasmExecutor(manifest, memory, run, pool, `${n} threads`, relaxed);
  }

  dispose(): void {
    this.pool?.dispose();
  }

  /** Grows the memory to at least `bytes`. */
  private reserve(bytes: number): void {
    if (bytes > MAX_BYTES) throw new Error(`these input sizes need ${bytes} bytes of memory; the WebAssembly backend addresses at most 2 GiB`);
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  private view(io: WasmIO, env: DimEnv): Float32Array {
    const elements = io.shape.reduce<number>((n, d) => n * evalDim(d, env), 1);
    // A fresh view every time: growing the memory detaches the old buffer.
    return new Float32Array(this.memory.buffer, evalDim(io.offset, env), elements);
  }

  /** Runs one sample; `env` binds every symbol of `symbols` (the order `run` takes them in). */
  runSample(env: DimEnv, symbols: readonly string[], inputs: readonly Float32Array[]): Float32Array[] {
    if (inputs.length !== this.manifest.inputs.length) {
      throw new Error(`the network takes ${this.manifest.inputs.length} inputs, got ${inputs.length}`);
    }
    const extra = this.pool ? (this.pool.count - 1) * evalDim(this.manifest.threadBytes, env) : 0;
    this.reserve(evalDim(this.manifest.memoryBytes, env) + extra);
    this.manifest.inputs.forEach((io, i) => {
      const target = this.view(io, env);
      if (inputs[i].length !== target.length) {
        throw new Error(`input ${io.name} has ${inputs[i].length} values, expected ${target.length}`);
      }
      target.set(inputs[i]);
    });
    const sizes = symbols.map((s) => {
      const v = env[s];
      if (v === undefined) throw new Error(`size symbol ${s} is not bound`);
      return v;
    });
    if (this.pool) this.pool.run(this.manifest.parallel.length, sizes);
    else this.run(...sizes);
    return this.manifest.outputs.map((io) => this.view(io, env).slice());
  }
}

/** The WebAssembly backend for the loader (runtime/open-network.ts), with threads if `threadSupport` is given. */
export function wasmBackend(threadSupport?: ThreadSupport): WasmBackend {
  return {
    hasRelaxedSimd,
    create: (code, manifest, weights, options) => WasmExecutor.create(code, manifest, weights, { threads: options.threads, threadSupport }),
  };
}
