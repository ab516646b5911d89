// One sample through the training graph on the reference (float64): the forward graph by the
// forward reference, then every backward node by its gradient definition. Weights come from a
// float64 map when given (the trainer's master weights, finite differences' perturbed copies).

import type { Weight } from "../ir/graph.js";
import { evalGrad, type GradWeights } from "../reference/grad/index.js";
import { interpret } from "../reference/interpret.js";
import { fmtShape, size, type Tensor } from "../reference/tensor.js";
import type { TrainGraph } from "./graph.js";

export interface SampleResult {
  readonly loss: number;
  /** The trained output, as the network computes it (probabilities after a softmax). */
  readonly output: Tensor;
  readonly gradients: Map<Weight, Tensor>;
  readonly inputGradients: Map<string, Tensor>;
}

export function referenceSample(tg: TrainGraph, inputs: ReadonlyMap<string, Tensor>, target: Tensor, weights?: ReadonlyMap<Weight, Tensor>): SampleResult {
  if (target.data.length !== size(tg.targetShape)) throw new Error(`target ${fmtShape(target.shape)} does not fit ${fmtShape(tg.targetShape)}`);
  const env = new Map<number, Tensor>();
  const outs = interpret(tg.forward, inputs, env, weights);
  env.set(tg.target, target);
  const asTensor = (w: Weight | undefined): Tensor | undefined =>
    w ? (weights?.get(w) ?? { shape: w.shape, data: Float64Array.from(w.data) }) : undefined;
  for (const n of tg.nodes) {
    const xs = n.inputs.map((v) => {
      const t = env.get(v);
      if (!t) throw new Error(`value ${v} used before it is computed`);
      return t;
    });
    const w: GradWeights = {
      weight: asTensor(n.weights.weight),
      running_mean: asTensor(n.weights.running_mean),
      running_var: asTensor(n.weights.running_var),
    };
    env.set(n.output, evalGrad(n.op, xs, w));
  }
  const get = (v: number): Tensor => env.get(v) as Tensor;
  return {
    loss: get(tg.loss).data[0],
    output: outs.get(tg.output.name) as Tensor,
    gradients: new Map(tg.gradients.map((g) => [g.weight, get(g.value)])),
    inputGradients: new Map([...tg.inputGradients].map(([name, v]) => [name, get(v)])),
  };
}
