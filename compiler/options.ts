// What compile() and analyse() take: kept apart from compiler/index.ts so that the modules
// the CLI's check and explain load (analyse.ts, optimise.ts) can name them without importing
// the emitters (index.ts loads binaryen at top level).

import type { GpuLimits } from "../runtime/manifest.js";
import type { AlgorithmName } from "./ir/graph.js";
import type { OnProgress } from "./progress.js";
import type { TargetName, WasmOptimize } from "./target.js";

/** The `target` option's values (compiler/target.ts's TargetName; Target there is the object the passes ask). */
export type Target = TargetName;
export type { TargetName };

export interface CompileOptions {
  /** Shown in diagnostics; also the base for `weights "..."` paths. */
  readonly fileName?: string;
  /** A safetensors file: its path, or its bytes. */
  readonly weights?: string | Uint8Array;
  readonly target?: Target;
  /** Fuse activations, residual adds and pools into the producing kernel (default true; `--no-fuse`). */
  readonly fuse?: boolean;
  /** Liveness-based reuse of activation memory (default true). */
  readonly planMemory?: boolean;
  /** Per-layer algorithm overrides (`--algorithm LAYER=NAME`). */
  readonly algorithms?: Readonly<Record<string, AlgorithmName>>;
  /** Time each convolution's applicable algorithms on this machine and keep the fastest (`--autotune`; WebAssembly here, WebGPU through autotune-webgpu.ts). */
  readonly autotune?: boolean;
  /** Why each layer of `algorithms` has its algorithm (default: asked for with --algorithm). */
  readonly algorithmReasons?: Readonly<Record<string, string>>;
  /** WebGPU limits to compile for (default: WebGPU's defaults); a network that needs more is split. */
  readonly webgpuLimits?: Partial<GpuLimits>;
  /** Which network, when the file defines several. */
  readonly network?: string;
  /** Reads files named by the source or by `weights` (default: the file system). */
  /** `onnx` to read the input as an ONNX model; by default an ONNX model is recognised by its bytes. */
  readonly format?: "cnn" | "onnx";
  readonly readFile?: (path: string) => Uint8Array;
  /** How binaryen optimises the WebAssembly (default: module.ts's DEFAULT_OPTIMIZE); for measurements (bench/compile.ts). */
  readonly wasmOptimize?: WasmOptimize;
  /** Adds milliseconds per compile phase to this map (bench/compile.ts). */
  readonly timings?: Map<string, number>;
  /** Told before each convolution is autotuned (`--autotune` on WebAssembly): the CLI's progress bar. */
  readonly onAutotune?: (layer: string) => void;
  /** Told as each stage starts (analyse, optimise) and before each kernel is emitted and each build optimised: the CLI's progress bar (progress.ts). */
  readonly onProgress?: OnProgress;
}
