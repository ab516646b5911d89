// A batch through the training graph on the reference, for J = the mean of the samples'
// losses. Forward: each sample by the forward reference; in training mode every batch norm
// normalises by the batch's statistics, which depend on the layers before it, so the batch is
// run once per batch-norm layer (each run fixes the next layer's statistics, passed to the
// inference-form reference in the running statistics' places) and once more. Backward: node
// by node over the whole batch, so that a batch-level op (batch norm's input gradient) sees
// every sample; the others run sample by sample. The loss gradient is scaled by 1/B, so the
// weight gradients are sums over the batch: the gradient of the mean loss.

import type { Node, Weight } from "../ir/graph.js";
import { evalBatchGrad, evalGrad, type GradWeights, isBatchGrad } from "../reference/grad/index.js";
import { batchStatistics } from "../reference/grad/pointwise-grad.js";
import { interpret } from "../reference/interpret.js";
import type { Tensor } from "../reference/tensor.js";
import type { TrainGraph } from "./graph.js";

export interface BatchResult {
  readonly losses: number[];
  /** The trained output of each sample. */
  readonly outputs: Tensor[];
  /** dJ/dweight, J the batch's mean loss. */
  readonly gradients: Map<Weight, Tensor>;
  readonly inputGradients: Map<string, Tensor>[];
  /** Training mode: each batch norm layer's batch mean, biased variance and element count. */
  readonly statistics: Map<Node, { mean: Tensor; variance: Tensor; count: number }>;
}

export function referenceBatch(tg: TrainGraph, inputs: readonly ReadonlyMap<string, Tensor>[], targets: readonly Tensor[], weights: ReadonlyMap<Weight, Tensor>): BatchResult {
  const B = inputs.length;
  const over = new Map(weights);
  const bns = tg.batchStatistics ? tg.forward.nodes.filter((n) => n.op.kind === "batchnorm") : [];
  const statistics = new Map<Node, { mean: Tensor; variance: Tensor; count: number }>();
  let envs: Map<number, Tensor>[] = [];
  for (let pass = 0; pass <= bns.length; pass++) {
    envs = inputs.map((input) => {
      const env = new Map<number, Tensor>();
      interpret(tg.forward, input, env, over);
      return env;
    });
    const bn = bns[pass];
    if (!bn) break;
    const s = batchStatistics(envs.map((e) => e.get(bn.inputs[0]) as Tensor));
    statistics.set(bn, s);
    over.set(bn.weights.running_mean as Weight, s.mean);
    over.set(bn.weights.running_var as Weight, s.variance);
  }
  envs.forEach((env, b) => env.set(tg.target, targets[b]));
  const asTensor = (w: Weight | undefined): Tensor | undefined => (w ? (over.get(w) ?? { shape: w.shape, data: Float64Array.from(w.data) }) : undefined);
  for (const n of tg.nodes) {
    const w: GradWeights = { weight: asTensor(n.weights.weight), running_mean: asTensor(n.weights.running_mean), running_var: asTensor(n.weights.running_var) };
    const xs = envs.map((env) => n.inputs.map((v) => env.get(v) as Tensor));
    if (isBatchGrad(n.op)) {
      evalBatchGrad(n.op, xs, w).forEach((t, b) => envs[b].set(n.output, t));
      continue;
    }
    envs.forEach((env, b) => {
      const t = evalGrad(n.op, xs[b], w);
      if (n.op.kind === "loss_grad") for (let i = 0; i < t.data.length; i++) t.data[i] /= B;
      env.set(n.output, t);
    });
  }
  const gradients = new Map<Weight, Tensor>();
  for (const g of tg.gradients) {
    const sum = { shape: g.weight.shape, data: new Float64Array(envs[0].get(g.value)?.data.length ?? 0) };
    for (const env of envs) {
      const t = env.get(g.value) as Tensor;
      for (let i = 0; i < t.data.length; i++) sum.data[i] += t.data[i];
    }
    gradients.set(g.weight, sum);
  }
  return {
    losses: envs.map((env) => (env.get(tg.loss) as Tensor).data[0]),
    outputs: envs.map((env) => env.get(tg.output.value) as Tensor),
    gradients,
    inputGradients: envs.map((env) => new Map([...tg.inputGradients].map(([name, v]) => [name, env.get(v) as Tensor]))),
    statistics,
  };
}
