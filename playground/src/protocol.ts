// The messages between the page (main.ts) and the compiler's worker (worker.ts). Everything
// crosses as structured-cloneable data: the compiled network's files, so that the page runs
// it (WebGPU and WebAssembly side by side), and the pictures' inputs, already computed.

import type { Manifest } from "../../runtime/manifest.js";

/** A diagnostic as an editor marker: offsets into the source, and the CLI's text for it. */
export interface Marker {
  readonly from: number;
  readonly to: number;
  readonly severity: "error" | "warning" | "info";
  /** formatDiagnostic's text: `file:line:col: error: message`, the source line and a caret, as `cnnc check` prints it. */
  readonly text: string;
}

/** A layer's kernel weights, [filters, channels, ...kernel]. */
export interface KernelWeights {
  readonly layer: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** One value of the network for one input: a layer's output (a feature map when it has 2 spatial axes). */
export interface FeatureMap {
  readonly layer: string;
  readonly op: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** The network's first input as the page should make it: its shape with sizes bound, and whether it is an image. */
export interface InputSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export type Request =
  | { readonly kind: "compile"; readonly id: number; readonly source: string; readonly fileName: string; readonly weights?: Uint8Array }
  | { readonly kind: "train"; readonly id: number; readonly source: string; readonly fileName: string; readonly steps: number; readonly batch: number }
  | { readonly kind: "stop" }
  | { readonly kind: "features"; readonly id: number; readonly inputs: Readonly<Record<string, { readonly data: Float32Array; readonly shape: readonly number[] }>> };

export interface Compiled {
  readonly kind: "compiled";
  readonly id: number;
  readonly markers: readonly Marker[];
  readonly ms: number;
  readonly network?: {
    readonly manifest: Manifest;
    readonly files: { readonly wasm?: Uint8Array; readonly wasmRelaxed?: Uint8Array; readonly tables?: Uint8Array; readonly weights: Uint8Array; readonly wgsl?: readonly string[] };
    /** The optimised plan as a picture (compiler/pictures): one box per kernel, laid out by dagre. */
    readonly svg: string;
    readonly kernelCount: number;
    readonly kernels: readonly KernelWeights[];
    readonly inputs: readonly InputSpec[];
    readonly explain: string;
  };
}

export interface Features {
  readonly kind: "features";
  readonly id: number;
  readonly maps: readonly FeatureMap[];
  readonly error?: string;
}

/** One training step done (sent after each), or the run's end with the trained weights (safetensors). */
export type Training =
  | { readonly kind: "progress"; readonly id: number; readonly step: number; readonly loss: number; readonly accuracy?: number }
  | { readonly kind: "trained"; readonly id: number; readonly weights?: Uint8Array; readonly steps: number; readonly error?: string };

export type Reply = { readonly kind: "ready" } | Compiled | Features | Training;
