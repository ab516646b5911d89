// Reverse-mode differentiation of a forward graph: walk the nodes backwards from the loss,
// and for each node whose output has a gradient, sum that gradient's contributions (a value
// read by several nodes receives one from each) and emit the GradOps (ir/grad-ops.ts) that
// carry it to the node's inputs and weights. Only what the loss needs is built: a node whose
// output does not reach the loss gets nothing, an input gradient is emitted only towards
// values that depend on a trained weight (never towards the image, unless asked), and frozen
// weights get no gradient. A loss of cross_entropy on an output that is a softmax reads the
// softmax's input instead (softmax_cross_entropy: one stable log-sum-exp, gradient p - onehot).
//
// The forward graph must be unfused (autodiff runs before the passes that add epilogues) and
// every size must be known: training specialises size symbols first (specialise.ts).

import type { Graph, Node, Value, Weight, WeightRole } from "../ir/graph.js";
import type { GradOp, LossKind } from "../ir/grad-ops.js";
import { assertNever } from "../ir/ops.js";
import type { Span } from "../source.js";
import type { GradNode, TrainGraph, WeightGradient } from "./graph.js";

export type LossName = "cross_entropy" | "mse" | "l1";

export interface AutodiffOptions {
  readonly loss: LossName;
  /** Which network output is trained (default: the only one). */
  readonly output?: string;
  /** Layers whose weights stay as they are. */
  readonly frozen?: ReadonlySet<string>;
  /** Batch norm normalises by the batch's statistics (training mode) instead of the running ones (default false). */
  readonly batchStatistics?: boolean;
  /** Also differentiate with respect to the network's inputs (for tests). */
  readonly inputGradients?: boolean;
}

/** A problem with the network or the request, reported as a diagnostic at `span` by the caller. */
export class TrainError extends Error {
  constructor(
    message: string,
    readonly span?: Span,
  ) {
    super(message);
  }
}

const TRAINED_ROLES: readonly WeightRole[] = ["weight", "bias"];

export function autodiff(forward: Graph, options: AutodiffOptions): TrainGraph {
  const values: Value[] = [...forward.values];
  const shape = (v: number): readonly number[] => {
    const s = values[v].shape;
    if (!s.every((d): d is number => typeof d === "number")) throw new TrainError(`training needs every size known; ${values[v].name} has shape [${s.join(", ")}] (give the sizes)`);
    return s;
  };
  for (const n of forward.nodes) {
    if (n.epilogue?.length) throw new TrainError(`autodiff runs on the unfused graph; layer ${n.layer} has fused work`, n.span);
  }
  forward.values.forEach((v) => shape(v.id));

  const output = options.output === undefined ? forward.outputs[0] : forward.outputs.find((o) => o.name === options.output);
  if (!output || (options.output === undefined && forward.outputs.length !== 1)) {
    const names = forward.outputs.map((o) => o.name).join(", ");
    throw new TrainError(options.output === undefined ? `the network has outputs ${names}: say which one is trained` : `the network has no output ${options.output} (it has ${names})`);
  }

  // The loss and where it reads.
  const producer = (v: number): Node | undefined => {
    const p = forward.values[v].producer;
    return p === undefined ? undefined : forward.nodes[p];
  };
  let prediction = output.value;
  let lossKind: LossKind = options.loss;
  const last = producer(output.value);
  if (options.loss === "cross_entropy" && last?.op.kind === "softmax") {
    prediction = last.inputs[0];
    lossKind = "softmax_cross_entropy";
  }
  const predShape = shape(prediction);
  const targetShape = options.loss === "cross_entropy" ? (predShape.length === 1 ? [1] : predShape.slice(1)) : predShape;

  const nodes: GradNode[] = [];
  const newValue = (s: readonly number[], name: string): number => {
    const id = values.length;
    values.push({ id, shape: [...s], producer: nodes.length, name });
    return id;
  };
  const emit = (op: GradOp, inputs: readonly number[], outShape: readonly number[], layer: string, span: Span, weights: GradNode["weights"] = {}): number => {
    const out = newValue(outShape, `d${layer}`);
    nodes.push({ id: nodes.length, op, inputs, output: out, weights, layer, span });
    return out;
  };

  const target = values.length;
  values.push({ id: target, shape: targetShape, producer: undefined, name: "target" });
  const loss = emit({ kind: "loss", loss: lossKind }, [prediction, target], [1], "loss", output.span);

  // Which values depend on a trained weight (or an input, when input gradients are asked for).
  const frozen = options.frozen ?? new Set<string>();
  const trained = (n: Node, role: WeightRole): Weight | undefined =>
    TRAINED_ROLES.includes(role) && !frozen.has(n.layer) && n.weights[role]?.source.kind !== "constant" ? n.weights[role] : undefined;
  const needs = new Set<number>();
  if (options.inputGradients) for (const io of forward.inputs) needs.add(io.value);
  for (const n of forward.nodes) {
    if (n.inputs.some((v) => needs.has(v)) || trained(n, "weight") || trained(n, "bias")) needs.add(n.output);
  }

  const grads = new Map<number, number[]>();
  const weightGrads = new Map<Weight, number[]>();
  const contribute = (v: number, g: number): void => {
    if (needs.has(v)) grads.set(v, [...(grads.get(v) ?? []), g]);
  };
  const contributeWeight = (w: Weight | undefined, g: () => number): void => {
    if (w) weightGrads.set(w, [...(weightGrads.get(w) ?? []), g()]);
  };
  const sum = (parts: readonly number[], s: readonly number[], layer: string, span: Span): number =>
    parts.length === 1 ? parts[0] : emit({ kind: "accumulate" }, parts, s, layer, span);
  contribute(prediction, emit({ kind: "loss_grad", loss: lossKind }, [prediction, target], predShape, "loss", output.span));

  for (let i = forward.nodes.length - 1; i >= 0; i--) {
    const n = forward.nodes[i];
    const parts = grads.get(n.output);
    if (!parts) continue;
    const dy = sum(parts, shape(n.output), n.layer, n.span);
    const x = n.inputs[0];
    const inShape = shape(x);
    const op = n.op;
    const g = (o: GradOp, inputs: readonly number[], s: readonly number[], weights?: GradNode["weights"]): number => emit(o, inputs, s, n.layer, n.span, weights);
    const wShape = (): readonly number[] => (n.weights.weight as Weight).shape;
    const bShape = (): readonly number[] => (n.weights.bias as Weight).shape;
    const toInput = (make: () => number): void => {
      if (needs.has(x)) contribute(x, make());
    };
    switch (op.kind) {
      case "conv":
        toInput(() => g({ kind: "conv_grad_input", conv: op, inShape }, [dy], inShape, { weight: n.weights.weight }));
        contributeWeight(trained(n, "weight"), () => g({ kind: "conv_grad_kernel", conv: op }, [x, dy], wShape()));
        if (op.bias !== "none") contributeWeight(trained(n, "bias"), () => g({ kind: "bias_grad", bias: op.bias as "channel" | "location", tiles: [] }, [dy], bShape()));
        break;
      case "deconv":
        toInput(() => g({ kind: "deconv_grad_input", deconv: op }, [dy], inShape, { weight: n.weights.weight }));
        contributeWeight(trained(n, "weight"), () => g({ kind: "deconv_grad_kernel", deconv: op }, [x, dy], wShape()));
        if (op.bias !== "none") contributeWeight(trained(n, "bias"), () => g({ kind: "bias_grad", bias: "channel", tiles: [] }, [dy], bShape()));
        break;
      case "local":
        toInput(() => g({ kind: "local_grad_input", local: op, inShape }, [dy], inShape, { weight: n.weights.weight }));
        contributeWeight(trained(n, "weight"), () => g({ kind: "local_grad_kernel", local: op }, [x, dy], wShape()));
        if (op.bias !== "none") contributeWeight(trained(n, "bias"), () => g({ kind: "bias_grad", bias: "location", tiles: [] }, [dy], bShape()));
        break;
      case "tiled":
        toInput(() => g({ kind: "tiled_grad_input", tiled: op, inShape }, [dy], inShape, { weight: n.weights.weight }));
        contributeWeight(trained(n, "weight"), () => g({ kind: "tiled_grad_kernel", tiled: op }, [x, dy], wShape()));
        if (op.bias !== "none") contributeWeight(trained(n, "bias"), () => g({ kind: "bias_grad", bias: "tiled", tiles: op.tiles }, [dy], bShape()));
        break;
      case "batchnorm":
        toInput(() =>
          options.batchStatistics
            ? g({ kind: "batchnorm_batch_grad_input", eps: op.eps }, [x, dy], inShape, { weight: n.weights.weight, running_mean: n.weights.running_mean, running_var: n.weights.running_var })
            : g({ kind: "batchnorm_grad_input", eps: op.eps }, [dy], inShape, { weight: n.weights.weight, running_var: n.weights.running_var }),
        );
        contributeWeight(trained(n, "weight"), () =>
          g({ kind: "batchnorm_grad_gamma", eps: op.eps }, [x, dy], wShape(), { running_mean: n.weights.running_mean, running_var: n.weights.running_var }),
        );
        contributeWeight(trained(n, "bias"), () => g({ kind: "bias_grad", bias: "channel", tiles: [] }, [dy], bShape()));
        break;
      case "dense":
        toInput(() => g({ kind: "dense_grad_input", inShape }, [dy], inShape, { weight: n.weights.weight }));
        contributeWeight(trained(n, "weight"), () => g({ kind: "dense_grad_kernel" }, [x, dy], wShape()));
        if (op.bias !== "none") contributeWeight(trained(n, "bias"), () => g({ kind: "bias_grad", bias: "channel", tiles: [] }, [dy], bShape()));
        break;
      case "maxout":
        toInput(() => g({ kind: "maxout_grad", k: op.k }, [x, dy], inShape));
        break;
      case "pool":
        toInput(() => g({ kind: "pool_grad", pool: op }, [x, dy], inShape));
        break;
      case "adaptive_pool":
        toInput(() => g({ kind: "adaptive_pool_grad", pool: op }, [x, dy], inShape));
        break;
      case "activation":
        toInput(() => g({ kind: "activation_grad", fn: op.fn, alpha: op.alpha, beta: op.beta }, [x, dy], inShape));
        break;
      case "softmax":
        toInput(() => g({ kind: "softmax_grad" }, [n.output, dy], inShape));
        break;
      case "log_softmax":
        toInput(() => g({ kind: "log_softmax_grad" }, [n.output, dy], inShape));
        break;
      case "flatten":
      case "reshape":
        toInput(() => g({ kind: "reshape_grad", shape: inShape }, [dy], inShape));
        break;
      case "add":
        n.inputs.forEach((v) => {
          const s = shape(v);
          if (!needs.has(v)) return;
          const same = s.length === shape(n.output).length && s.every((d, k) => d === shape(n.output)[k]);
          contribute(v, same ? dy : g({ kind: "unbroadcast", shape: s }, [dy], s));
        });
        break;
      case "mul":
        n.inputs.forEach((v, k) => {
          if (needs.has(v)) contribute(v, g({ kind: "mul_grad", shape: shape(v) }, [dy, n.inputs[1 - k]], shape(v)));
        });
        break;
      case "concat": {
        let start = 0;
        n.inputs.forEach((v) => {
          const s = shape(v);
          if (needs.has(v)) contribute(v, g({ kind: "slice_channels", start, count: s[0] }, [dy], s));
          start += s[0];
        });
        break;
      }
      case "matmul":
        throw new TrainError(`training through matmul (layer ${n.layer}) is not supported yet`, n.span);
      case "transpose":
        throw new TrainError(`training through transpose (layer ${n.layer}) is not supported yet`, n.span);
      case "resize":
      case "pad":
      case "slice":
        toInput(() => g({ kind: "move_grad", op, inShape }, [dy], inShape));
        break;
      default:
        return assertNever(op);
    }
  }

  const gradients: WeightGradient[] = [];
  for (const w of forward.weights) {
    const parts = weightGrads.get(w);
    if (parts) gradients.push({ weight: w, value: sum(parts, w.shape, w.name, output.span) });
  }
  const inputGradients = new Map<string, number>();
  for (const io of forward.inputs) {
    const parts = grads.get(io.value);
    if (options.inputGradients && parts) inputGradients.set(io.name, sum(parts, shape(io.value), io.name, io.span));
  }
  const saved = [...new Set(nodes.flatMap((n) => n.inputs.filter((v) => v < forward.values.length)))].sort((a, b) => a - b);
  const batchStatistics = options.batchStatistics ?? false;
  if (batchStatistics) {
    const seen = new Set<Weight>();
    for (const n of forward.nodes) {
      const m = n.op.kind === "batchnorm" ? n.weights.running_mean : undefined;
      if (m && seen.has(m)) throw new TrainError(`batch norm layer ${n.layer} is applied twice; with batch statistics each use would need its own`, n.span);
      if (m) seen.add(m);
    }
  }
  return { forward, values, nodes, output, prediction, lossKind, target, targetShape, loss, gradients, inputGradients, saved, batchStatistics };
}
