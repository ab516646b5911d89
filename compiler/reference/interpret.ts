// Runs a graph with the reference ops, one sample at a time, in float64: the oracle every
// backend and pass is compared with. Symbolic sizes are whatever the inputs bring.

import type { Graph, Weight } from "../ir/graph.js";
import { assertNever } from "../ir/ops.js";
import * as R from "./index.js";
import type { Tensor } from "./tensor.js";

/**
 * Evaluates the graph on one sample; inputs and outputs by name, shapes [C, D1..Dd]. Training
 * passes `env` to keep every value (the backward pass reads them) and `weights` to run on its
 * float64 master weights instead of the graph's float32 ones.
 */
export function interpret(
  graph: Graph,
  inputs: ReadonlyMap<string, Tensor>,
  env: Map<number, Tensor> = new Map(),
  weights?: ReadonlyMap<Weight, Tensor>,
): Map<string, Tensor> {
  const asTensor = (w: Weight | undefined): Tensor | undefined =>
    w ? (weights?.get(w) ?? { shape: w.shape, data: Float64Array.from(w.data) }) : undefined;
  // The size symbols' values, from the inputs: deconv needs them for the size it returns.
  const sizes: Record<string, number> = {};
  for (const io of graph.inputs) {
    const t = inputs.get(io.name);
    if (!t) throw new Error(`missing input ${io.name}`);
    env.set(io.value, t);
    graph.values[io.value].shape.forEach((d, i) => {
      if (typeof d !== "number" && d.op === "sym" && i < t.shape.length) sizes[d.name] = t.shape[i];
    });
  }
  for (const node of graph.nodes) {
    const xs = node.inputs.map((v) => {
      const t = env.get(v);
      if (!t) throw new Error(`value ${v} used before it is computed`);
      return t;
    });
    const op = node.op;
    const weight = asTensor(node.weights.weight);
    const bias = asTensor(node.weights.bias);
    let y: Tensor;
    switch (op.kind) {
      case "conv":
        if (!weight) throw new Error(`layer ${node.layer} has no weight`);
        y = R.conv(xs[0], op, weight, bias);
        break;
      case "local":
        if (!weight) throw new Error(`layer ${node.layer} has no weight`);
        y = R.local(xs[0], op, weight, bias);
        break;
      case "tiled":
        if (!weight) throw new Error(`layer ${node.layer} has no weight`);
        y = R.tiled(xs[0], op, weight, bias);
        break;
      case "deconv":
        if (!weight) throw new Error(`layer ${node.layer} has no weight`);
        y = R.deconv(xs[0], op, weight, bias, sizes);
        break;
      case "batchnorm": {
        const mean = asTensor(node.weights.running_mean);
        const variance = asTensor(node.weights.running_var);
        if (!weight || !bias || !mean || !variance) throw new Error(`layer ${node.layer} lacks batch-norm parameters`);
        y = R.batchnorm(xs[0], op, { gamma: weight, beta: bias, mean, variance });
        break;
      }
      case "maxout":
        y = R.maxout(xs[0], op);
        break;
      case "pool":
        y = R.pool(xs[0], op);
        break;
      case "adaptive_pool":
        y = R.adaptivePool(xs[0], op);
        break;
      case "dense":
        if (!weight) throw new Error(`layer ${node.layer} has no weight`);
        y = R.dense(xs[0], op, weight, bias);
        break;
      case "activation":
        y = R.activation(xs[0], op);
        break;
      case "softmax":
        y = R.softmax(xs[0]);
        break;
      case "log_softmax":
        y = R.logSoftmax(xs[0]);
        break;
      case "flatten":
        y = R.flatten(xs[0]);
        break;
      case "reshape":
        y = R.reshape(xs[0], op.shape);
        break;
      case "add":
      case "mul":
        y = R.binary(op.kind, xs[0], xs[1]);
        break;
      case "concat":
        y = R.concat(xs);
        break;
      case "slice":
        y = R.slice(xs[0], op);
        break;
      case "pad":
        y = R.pad(xs[0], op);
        break;
      case "resize":
        y = R.resize(xs[0], op);
        break;
      case "transpose":
        y = R.transpose(xs[0], op);
        break;
      case "matmul":
        y = R.matmul(xs[0], xs[1]);
        break;
      default:
        return assertNever(op);
    }
    // Fused work, in order: the same reference ops, so a fused graph means what the unfused one did.
    for (const e of node.epilogue ?? []) {
      if (e.kind === "activation") y = R.activation(y, { kind: "activation", fn: e.fn, alpha: e.alpha, beta: e.beta });
      else if (e.kind === "pool") y = R.pool(y, e.op);
      else {
        const other = env.get(e.value);
        if (!other) throw new Error(`value ${e.value} used before it is computed`);
        y = R.binary("add", y, other);
      }
    }
    env.set(node.output, y);
  }
  const out = new Map<string, Tensor>();
  for (const io of graph.outputs) out.set(io.name, env.get(io.value) as Tensor);
  return out;
}
