// The plan: what backends and the runtime see (never the graph). A list of kernel steps in
// execution order, each reading and writing buffers of an activation arena, plus the weights
// blob laid out once. Reshape and flatten produce no step: their output aliases the input's
// buffer with another shape. Sizes are Dims, so a plan with symbolic input sizes is still one
// plan: the WASM backend turns each Dim into i32 arithmetic over `run`'s parameters.

import type { Dim } from "../ir/dim.js";
import type { AlgorithmChoice } from "../ir/graph.js";
import type { ActivationFn, Op, PoolOp } from "../ir/ops.js";
import type { SizeCheck } from "../../runtime/manifest.js";

export interface PlanWeight {
  readonly name: string;
  /** Offset in the weights blob, in f32 elements (a multiple of 4: 16-byte aligned). */
  readonly offset: number;
  readonly shape: readonly number[];
  readonly length: number;
}

export interface PlanBuffer {
  readonly id: number;
  /** f32 elements, one sample. */
  readonly elements: Dim;
  /** Offset in the activation arena, in f32 elements (a multiple of 4). */
  readonly offset: Dim;
}

export interface StepTensor {
  readonly buffer: number;
  /** One sample's logical shape [C, D1..Dd] (or [N] when flat). */
  readonly shape: readonly Dim[];
}

/**
 * Work a kernel does on each value after its main computation (fusion, issue 5), in order:
 * an activation, or the addition of `step.inputs[input]` (a residual operand of the same
 * shape as the step's pre-pool output) read at the value's own element index.
 */
export type Epilogue =
  | { readonly kind: "activation"; readonly fn: ActivationFn; readonly alpha: number; readonly beta?: number }
  | { readonly kind: "add"; readonly input: number };

/**
 * A pool fused into a convolution-like step: the step's values (after `step.epilogue`), of
 * shape `inShape` [C, D1..Dd], are pooled with `op`, then `epilogue` (activations only) is
 * applied; `step.output.shape` is the pooled shape. The pre-pool values are never stored.
 */
export interface StepPool {
  readonly op: PoolOp;
  readonly inShape: readonly Dim[];
  readonly epilogue: readonly Epilogue[];
}

export interface Step {
  readonly id: number;
  /** The layer it computes, for explain and error messages. */
  readonly layer: string;
  readonly op: Op;
  readonly inputs: readonly StepTensor[];
  readonly output: StepTensor;
  readonly weight?: PlanWeight;
  readonly bias?: PlanWeight;
  /** batchnorm only: its running statistics (gamma is `weight`, beta is `bias`). */
  readonly mean?: PlanWeight;
  readonly variance?: PlanWeight;
  readonly epilogue: readonly Epilogue[];
  /** A fused pool over the step's values (see StepPool); absent when none. */
  readonly pool?: StepPool;
  /** For convolutions: the algorithm the passes chose, and why. */
  readonly algorithm?: AlgorithmChoice;
}

export interface PlanIO {
  readonly name: string;
  readonly buffer: number;
  readonly shape: readonly Dim[];
}

export interface Plan {
  readonly name: string;
  /** Size symbols in the order the compiled code takes them. */
  readonly symbols: readonly string[];
  readonly inputs: readonly PlanIO[];
  readonly outputs: readonly PlanIO[];
  readonly buffers: readonly PlanBuffer[];
  readonly steps: readonly Step[];
  readonly weights: readonly PlanWeight[];
  /** The weights blob (all weights, at their offsets). */
  readonly weightData: Float32Array;
  /** Size of the activation arena in f32 elements. */
  readonly arenaElements: Dim;
  /** What the arena would be without memory planning (every value its own buffer). */
  readonly unplannedElements: Dim;
  /** Sizes that must be >= 1 for the bound input sizes (symbolic networks). */
  readonly checks: readonly SizeCheck[];
}
