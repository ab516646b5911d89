// The training graph: the forward graph, unchanged, and after it the backward graph that
// autodiff builds from it, over one value space (forward values keep their ids; backward
// values follow). The backward nodes hold `GradOp`s (ir/grad-ops.ts) and read forward values
// (the activations the backward pass needs: `saved`), backward values, the target, and the
// forward weights by reference, so a weight shared by several layers (a label applied twice,
// `repeat`) is one Weight whose gradient is the sum over its uses.

import type { GraphIO, Graph, Value, Weight, WeightRole } from "../ir/graph.js";
import type { GradOp, LossKind } from "../ir/grad-ops.js";
import type { Span } from "../source.js";

export interface GradNode {
  readonly id: number;
  readonly op: GradOp;
  readonly inputs: readonly number[];
  readonly output: number;
  /** Forward weights the op reads (a conv's kernel for its input gradient, batch norm's statistics). */
  readonly weights: Readonly<Partial<Record<WeightRole, Weight>>>;
  /** The forward layer this node differentiates (or `loss`). */
  readonly layer: string;
  readonly span: Span;
}

export interface WeightGradient {
  readonly weight: Weight;
  /** The value holding dJ/dweight for one sample (the trainer averages over the batch). */
  readonly value: number;
}

export interface TrainGraph {
  readonly forward: Graph;
  /** Forward values (ids 0 .. forward.values.length - 1), then backward values; a backward value's producer indexes `nodes`. */
  readonly values: readonly Value[];
  readonly nodes: readonly GradNode[];
  /** The network output that is trained. */
  readonly output: GraphIO;
  /** The value the loss reads: the output, or the logits before a final softmax when the loss fuses it. */
  readonly prediction: number;
  readonly lossKind: LossKind;
  /** The target: an extra input of the step, of shape `targetShape`. */
  readonly target: number;
  readonly targetShape: readonly number[];
  /** The loss, shape [1]. */
  readonly loss: number;
  readonly gradients: readonly WeightGradient[];
  /** dJ/d(input) by input name, when asked for (tests). */
  readonly inputGradients: ReadonlyMap<string, number>;
  /** Batch norm runs in training mode: the batch's statistics normalise, the running ones are updated. */
  readonly batchStatistics: boolean;
  /** Forward values the backward nodes read: the activations to keep for the backward pass. */
  readonly saved: readonly number[];
}
