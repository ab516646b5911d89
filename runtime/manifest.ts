// The contract between the compiler's bundle writer and the runtime: a JSON manifest saying
// where everything lives. Sizes that depend on input sizes are Dim expressions (runtime/dim.ts),
// evaluated once the inputs' shapes bind the symbols.

import type { Dim } from "./dim.js";

export interface TensorSpec {
  readonly name: string;
  /** One sample's logical shape, [C, D1..Dd] (the batch axis is implicit). */
  readonly shape: readonly Dim[];
}

export interface WasmIO extends TensorSpec {
  /** Byte offset in the module's memory where this tensor lives (one sample). */
  readonly offset: Dim;
}

export interface WasmManifest {
  readonly file: string;
  /** The same module built with relaxed SIMD (`f32x4.relaxed_madd`), used where the engine validates it. */
  readonly relaxedFile?: string;
  /** Bytes of memory `run` needs for the bound sizes. */
  readonly memoryBytes: Dim;
  /** Pages the module's imported memory starts with (at least). */
  readonly memoryPages: number;
  /** Bytes of memory each thread after the first adds (its scratch and spill slot). */
  readonly threadBytes: Dim;
  /** Per step: whether its work is split across threads (`step(i, syms..., tid, part, parts)`); the others run on one. */
  readonly parallel: readonly boolean[];
  /** Where the weights blob is copied before the first run. */
  readonly weightsOffset: number;
  /** Compile-time tables (packed and transformed weights): a file copied in at `offset` before the first run. */
  readonly tables?: { readonly file: string; readonly offset: number; readonly bytes: number };
  readonly inputs: readonly WasmIO[];
  readonly outputs: readonly WasmIO[];
}

/**
 * WebGPU limits a compiled network relies on (the names of GPUSupportedLimits). The compiler
 * splits the work so that these suffice (the WebGPU defaults unless told otherwise); the
 * runtime checks them against the adapter and requests them for the device.
 */
export interface GpuLimits {
  readonly maxStorageBuffersPerShaderStage: number;
  /** Bytes. */
  readonly maxStorageBufferBindingSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  /** Bytes. */
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
}

/** One WGSL compute shader: `main` in bundle file `file`. */
export interface WebGpuProgram {
  /** The WGSL source's file in the bundle. */
  readonly file: string;
  /** Kernel family (conv, pool, ...): for messages. */
  readonly family: string;
  /** Cache key (family and a hash of the source): equal keys share one pipeline. */
  readonly key: string;
  /** Preferred workgroup size (x). The shader takes it as the override constant `WG`; the runtime lowers it to the device's limit (a power of two). */
  readonly workgroupSize: number;
  /** "invocation": one work item per invocation; "workgroup": one per workgroup (cooperative reductions). */
  readonly itemsPer: "invocation" | "workgroup";
  /** Binding 0 is a uniform `array<vec4<i32>, n>` of this many i32 values (none when 0). */
  readonly uniforms: number;
  /** Storage bindings 1..storage; the last one is written (read_write), the others are read. */
  readonly storage: number;
  /** Bytes of workgroup memory at the preferred workgroup size (scales with it). */
  readonly workgroupBytes: number;
}

/** A GPU buffer: an activation (one per plan buffer), a weight tensor, or a scratch output. */
export interface WebGpuBuffer {
  readonly kind: "activation" | "weight" | "scratch";
  /** f32 elements. */
  readonly elements: Dim;
  /** Weights: where the tensor starts in the weights blob (f32 elements). */
  readonly weightOffset?: number;
  /** Weights packed into one buffer (batchnorm's four vectors): blob ranges, concatenated in order. */
  readonly weightParts?: readonly { readonly offset: number; readonly length: number }[];
  /** The layer that writes it (or whose weight it is): for messages. */
  readonly layer?: string;
}

/** A binding of one dispatch: elements [offset, offset + size) of a buffer, or all of it. */
export interface WebGpuBinding {
  readonly buffer: number;
  readonly offset?: Dim;
  readonly size?: Dim;
}

export type WebGpuCommand =
  | {
      readonly kind: "dispatch";
      readonly program: number;
      /** The plan step and layer it computes (layer names are for messages only, never WGSL). */
      readonly step: number;
      readonly layer: string;
      /** Work items: workgroups = ceil(items / workgroup size), or items, by the program's itemsPer. */
      readonly items: Dim;
      /** The uniform values, in the program's order. */
      readonly uniforms: readonly Dim[];
      /** Storage bindings 1..n in order (the last one is the output). */
      readonly bindings: readonly WebGpuBinding[];
    }
  | {
      /** copyBufferToBuffer (an output computed into scratch because it aliases an input). */
      readonly kind: "copy";
      readonly from: number;
      readonly to: number;
      readonly elements: Dim;
    };

export interface WebGpuIO extends TensorSpec {
  readonly buffer: number;
}

export interface WebGpuManifest {
  readonly programs: readonly WebGpuProgram[];
  readonly buffers: readonly WebGpuBuffer[];
  /** In execution order; one command encoder per run. */
  readonly commands: readonly WebGpuCommand[];
  readonly inputs: readonly WebGpuIO[];
  readonly outputs: readonly WebGpuIO[];
  /** What the compiled network needs (it was split to fit these). */
  readonly limits: GpuLimits;
}

/** A size that must be positive for the network to be defined on the given input. */
export interface SizeCheck {
  readonly dim: Dim;
  /** Said when it is not: "layer conv1: the input is smaller than the kernel". */
  readonly message: string;
}

export interface Manifest {
  readonly format: 1;
  readonly name: string;
  /** Size symbols, in the order `run` takes them. */
  readonly symbols: readonly string[];
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly checks: readonly SizeCheck[];
  /** Raw little-endian f32 weights, in the order the plan laid them out. */
  readonly weights: { readonly file: string; readonly bytes: number };
  readonly wasm?: WasmManifest;
  readonly webgpu?: WebGpuManifest;
  /** The convolution algorithm chosen per layer (direct, gemm, winograd2, winograd4, winograd1d, fft, separable, direct_simd) and why: for tools and people, the runtime does not need it. */
  readonly algorithms?: Readonly<Record<string, { readonly name: string; readonly reason: string }>>;
}
