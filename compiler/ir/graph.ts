// The dataflow graph: values (activations, one sample: [C, D1..Dd] with symbolic sizes),
// nodes (one op each, a span back into the source, a layer name for weight files and
// `explain`), and weights (shared between nodes by reference: applying a label twice makes
// two nodes that point at the same Weight objects).

import type { SourceFile, Span } from "../source.js";
import type { Dim } from "./dim.js";
import type { ActivationFn, Op, PoolOp } from "./ops.js";

/** Where a weight's numbers come from; `init` with `defaulted` means nobody asked for them. */
export type WeightSource =
  | { readonly kind: "file"; readonly file: string }
  | { readonly kind: "literal" }
  | { readonly kind: "named"; readonly name: string }
  | { readonly kind: "init"; readonly description: string; readonly defaulted: boolean }
  | { readonly kind: "folded"; readonly from: string }
  /** Numbers an op is written with (mean's 1/n, instancenorm's eps): never read from files nor trained. */
  | { readonly kind: "constant" };

export interface Weight {
  readonly id: number;
  /** The tensor's name in weight files: `conv1.weight`, `c1.0.bias`. */
  readonly name: string;
  readonly shape: readonly number[];
  data: Float32Array;
  source: WeightSource;
}

/** weight and bias for every layer; batchnorm adds its running statistics. */
export type WeightRole = "weight" | "bias" | "running_mean" | "running_var";

export interface Value {
  readonly id: number;
  readonly shape: readonly Dim[];
  /** The node that computes it; undefined for network inputs. */
  readonly producer: number | undefined;
  /** A readable name for dumps: the bound name or `<layer>`. */
  readonly name: string;
}

/**
 * Work fused into a convolution-like producer, applied in order to each value it computes:
 * an activation, the addition of another value of the same shape (a residual connection),
 * or a pooling window (last: it changes the shape). The pre-pool values are never stored.
 */
export type FusedOp =
  | { readonly kind: "activation"; readonly fn: ActivationFn; readonly alpha: number; readonly beta?: number }
  | { readonly kind: "add"; readonly value: number }
  | { readonly kind: "pool"; readonly op: PoolOp };

export type AlgorithmName = "direct" | "gemm" | "winograd2" | "winograd4" | "winograd1d" | "fft" | "separable" | "direct_simd";

/** The algorithm chosen for a layer, and why (printed by explain and in IR dumps). */
export interface AlgorithmChoice {
  readonly name: AlgorithmName;
  readonly reason: string;
}

/**
 * A node that computes `x op k` (or `k op x`) for a named constant k (lower/constants.ts),
 * x its one input: export writes ONNX's op on k's initializer instead of the node's own op.
 */
export interface ConstantForm {
  /** "Omit": the node makes k a value for such a node, which reads k's initializer instead: export writes nothing. */
  readonly op: "Add" | "Sub" | "Mul" | "Div" | "Omit";
  readonly constFirst: boolean;
  readonly constant: Weight;
}

/**
 * What a composite op (lower/composites.ts: prelu, instancenorm, max/min/mean of values, the
 * reductions) is as one ONNX operator: set on the last node of its chain, whose output is the
 * op's; export writes this operator there and skips the chain's other nodes.
 */
export interface CompositeForm {
  readonly op: "PRelu" | "InstanceNormalization" | "ReduceMean" | "ReduceMax" | "ReduceSum" | "ReduceL2" | "Max" | "Min" | "Mean";
  readonly inputs: readonly number[];
  /** PRelu's slope; InstanceNormalization's scale and B (each [C, 1, ..] or [C]). */
  readonly weights?: readonly Weight[];
  readonly eps?: number;
  /** The reduced axes of a sample (0 the channels): ONNX's are one more. */
  readonly axes?: readonly number[];
  readonly keep?: boolean;
}

export interface Node {
  readonly id: number;
  readonly op: Op;
  readonly inputs: readonly number[];
  readonly output: number;
  readonly weights: Readonly<Partial<Record<WeightRole, Weight>>>;
  /** `conv1`, or `c1.0` for an unlabelled layer (statement name, position in its chain). */
  readonly layer: string;
  readonly span: Span;
  /** Fused work (see FusedOp); `output` is the value after all of it. */
  readonly epilogue?: readonly FusedOp[];
  readonly algorithm?: AlgorithmChoice;
  /** Layers fused into this node, for explain. */
  readonly fused?: readonly string[];
  /** Set by the lowering of named constants; read by export only. */
  readonly constantForm?: ConstantForm;
  /** The composite op this node is part of (`group`, one per use), and on its last node what it is as one ONNX operator; read by export only. */
  readonly composite?: { readonly group: number; readonly form?: CompositeForm };
}

/**
 * The inputs a node's own op reads, without the operands of its fused adds. The fuse pass
 * appends each add's operand after the op's inputs, and an operand may also be one of them
 * (`y = a + conv(a)`), so they are counted off the end, never matched by value.
 */
export function ownInputs(n: Node): readonly number[] {
  const adds = (n.epilogue ?? []).filter((e) => e.kind === "add").length;
  return n.inputs.slice(0, n.inputs.length - adds);
}

export interface GraphIO {
  readonly name: string;
  readonly value: number;
  readonly span: Span;
}

export interface Graph {
  readonly name: string;
  readonly file: SourceFile;
  readonly inputs: GraphIO[];
  readonly outputs: GraphIO[];
  readonly values: Value[];
  readonly nodes: Node[];
  readonly weights: Weight[];
  /** Size symbols of the inputs (`H`, `W`), in order of first appearance. */
  readonly symbols: string[];
}

export function value(g: Graph, id: number): Value {
  return g.values[id];
}

/** Nodes that read a value (its consumers), in node order. */
export function consumers(g: Graph, valueId: number): Node[] {
  return g.nodes.filter((n) => n.inputs.includes(valueId));
}
