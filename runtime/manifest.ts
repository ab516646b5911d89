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
  /** Bytes of memory `run` needs for the bound sizes. */
  readonly memoryBytes: Dim;
  /** Where the weights blob is copied before the first run. */
  readonly weightsOffset: number;
  readonly inputs: readonly WasmIO[];
  readonly outputs: readonly WasmIO[];
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
}
