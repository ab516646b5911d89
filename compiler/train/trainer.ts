// The reference trainer: each step runs the batch through the training graph on the reference
// (float64, reference-batch.ts), takes the gradient of the batch's mean loss, and updates
// float64 master weights with the optimiser (and, in training mode, batch norm's running
// statistics). Slow, but the definition the compiled
// steps are compared with. A step whose loss is not finite changes nothing (the last good
// weights stay) and throws a TrainError naming the step, the sample and the first layer whose
// output went bad.

import type { Weight } from "../ir/graph.js";
import { interpret } from "../reference/interpret.js";
import { lossAndGrad } from "../reference/grad/loss.js";
import { fmtShape, size, type Tensor } from "../reference/tensor.js";
import { writeSafetensors } from "../tensors/safetensors.js";
import { readTrainingState, writeTrainingState } from "./state-file.js";
import { TrainError } from "./autodiff.js";
import type { TrainGraph } from "./graph.js";
import { applyUpdate, newState, type OptimiserConfig, type OptimiserState } from "./optim.js";
import { referenceBatch } from "./reference-batch.js";

/** `count` samples back to back: images [count, C, D..], labels [count, ...targetShape]. */
export interface Batch {
  readonly count: number;
  readonly images: Float32Array;
  readonly labels: Float64Array;
}

export interface StepResult {
  readonly loss: number;
  /** The fraction of positions classified right, for classification losses. */
  readonly accuracy?: number;
}

/** Every label of a classifier's batch a class of its prediction; a TrainError names the first that is not. */
export function checkLabels(graph: TrainGraph, batch: Batch, classifies: boolean): void {
  if (!classifies) return;
  const C = graph.values[graph.prediction].shape[0] as number;
  for (let i = 0; i < batch.labels.length; i++) {
    const l = batch.labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= C) throw new TrainError(`label ${l} (sample ${Math.floor(i / size(graph.targetShape))} of the batch) is not a class of the ${C} the network outputs`);
  }
}

/** The compiled steps' batch check: count samples of n image values and t target values each, and the labels. */
export function checkBatch(graph: TrainGraph, batch: Batch, n: number, t: number, classifies: boolean): void {
  if (batch.images.length !== batch.count * n) throw new TrainError(`a batch of ${batch.count} samples needs ${batch.count * n} image values, got ${batch.images.length}`);
  if (batch.labels.length !== batch.count * t) throw new TrainError(`a batch of ${batch.count} needs ${batch.count * t} target values, got ${batch.labels.length}`);
  checkLabels(graph, batch, classifies);
}

export class ReferenceTrainer {
  private readonly master: Map<Weight, Tensor>;
  private state: OptimiserState = newState();
  private readonly inputName: string;
  private readonly inputShape: number[];
  readonly classifies: boolean;

  constructor(
    readonly graph: TrainGraph,
    readonly optimiser: OptimiserConfig,
  ) {
    if (graph.forward.inputs.length !== 1) throw new TrainError(`training takes networks with one input; ${graph.forward.name} has ${graph.forward.inputs.length}`);
    const io = graph.forward.inputs[0];
    this.inputName = io.name;
    this.inputShape = graph.forward.values[io.value].shape as number[];
    this.master = new Map(graph.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }]));
    this.classifies = graph.lossKind === "softmax_cross_entropy" || graph.lossKind === "cross_entropy";
  }

  /** The step count so far (the learning-rate schedule's clock). */
  get steps(): number {
    return this.state.step;
  }

  private sample(batch: Batch, i: number): { input: Map<string, Tensor>; target: Tensor } {
    const n = size(this.inputShape);
    const t = size(this.graph.targetShape);
    if (batch.images.length !== batch.count * n) throw new TrainError(`a batch of ${batch.count} samples of ${fmtShape(this.inputShape)} needs ${batch.count * n} image values, got ${batch.images.length}`);
    if (batch.labels.length !== batch.count * t) throw new TrainError(`a batch of ${batch.count} needs ${batch.count * t} target values (${fmtShape(this.graph.targetShape)} each), got ${batch.labels.length}`);
    const x = { shape: this.inputShape, data: Float64Array.from(batch.images.subarray(i * n, (i + 1) * n)) };
    return { input: new Map([[this.inputName, x]]), target: { shape: this.graph.targetShape, data: batch.labels.slice(i * t, (i + 1) * t) } };
  }

  /** Correctly classified positions of one prediction ([C, D..]) against class targets. */
  private correct(pred: Tensor, target: Tensor): number {
    const C = pred.shape[0];
    const per = size(pred.shape.slice(1));
    let right = 0;
    for (let p = 0; p < per; p++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (pred.data[c * per + p] > pred.data[best * per + p]) best = c;
      if (best === target.data[p]) right++;
    }
    return right;
  }

  /** One optimiser step on the batch: returns the batch's mean loss (before the update) and accuracy. */
  step(batch: Batch): StepResult {
    checkLabels(this.graph, batch, this.classifies);
    const samples = Array.from({ length: batch.count }, (_, i) => this.sample(batch, i));
    const r = referenceBatch(
      this.graph,
      samples.map((x) => x.input),
      samples.map((x) => x.target),
      this.master,
    );
    // A NaN can hide from the loss (relu maps it to 0) and still poison a gradient: check both.
    const badLoss = r.losses.findIndex((l) => !Number.isFinite(l));
    const badGrad = [...r.gradients].find(([, g]) => g.data.some((v) => !Number.isFinite(v)));
    if (badLoss >= 0 || badGrad) {
      const i = Math.max(0, badLoss >= 0 ? badLoss : samples.findIndex((x) => x.input.values().next().value?.data.some((v) => !Number.isFinite(v))));
      const what = badLoss >= 0 ? `the loss is ${r.losses[badLoss]}` : `the gradient of ${badGrad?.[0].name} is not finite`;
      throw new TrainError(`step ${this.state.step + 1}: ${what} on sample ${i} of the batch (${this.firstBadLayer(samples[i].input)}); the weights are left as they were after step ${this.state.step}`);
    }
    let right = 0;
    if (this.classifies) r.outputs.forEach((o, i) => (right += this.correct(o, samples[i].target)));
    const params = new Map<string, { weight: Tensor; grad: Tensor }>();
    for (const [w, g] of r.gradients) params.set(w.name, { weight: this.master.get(w) as Tensor, grad: g });
    applyUpdate(this.optimiser, this.state, params);
    // Training-mode batch norm: running statistics follow the batches (PyTorch: momentum 0.1, unbiased variance).
    for (const [bn, st] of r.statistics) {
      const rm = this.master.get(bn.weights.running_mean as Weight) as Tensor;
      const rv = this.master.get(bn.weights.running_var as Weight) as Tensor;
      const unbias = st.count > 1 ? st.count / (st.count - 1) : 1;
      for (let c = 0; c < rm.data.length; c++) {
        rm.data[c] = 0.9 * rm.data[c] + 0.1 * st.mean.data[c];
        rv.data[c] = 0.9 * rv.data[c] + 0.1 * st.variance.data[c] * unbias;
      }
    }
    return this.result(
      r.losses.reduce((a, b) => a + b, 0),
      right,
      batch,
    );
  }

  private result(loss: number, right: number, batch: Batch): StepResult {
    const positions = batch.count * size(this.graph.targetShape);
    return this.classifies ? { loss: loss / batch.count, accuracy: right / positions } : { loss: loss / batch.count };
  }

  /** Loss and accuracy without training. */
  evaluate(batch: Batch): StepResult {
    checkLabels(this.graph, batch, this.classifies);
    let loss = 0;
    let right = 0;
    for (let i = 0; i < batch.count; i++) {
      const { input, target } = this.sample(batch, i);
      const env = new Map<number, Tensor>();
      interpret(this.graph.forward, input, env, this.master);
      loss += lossAndGrad(this.graph.lossKind, env.get(this.graph.prediction) as Tensor, target).loss;
      if (this.classifies) right += this.correct(env.get(this.graph.output.value) as Tensor, target);
    }
    return this.result(loss, right, batch);
  }

  private firstBadLayer(input: Map<string, Tensor>): string {
    const env = new Map<number, Tensor>();
    interpret(this.graph.forward, input, env, this.master);
    for (const n of this.graph.forward.nodes) {
      const v = env.get(n.output);
      if (v && v.data.some((x) => !Number.isFinite(x))) return `layer ${n.layer} is the first to output a non-finite value`;
    }
    return "every layer's output is finite: the loss or a gradient overflowed";
  }

  /** The weights as float32 safetensors, for `cnnc compile --weights`. */
  weights(): Uint8Array {
    return writeSafetensors(new Map([...this.master].map(([w, t]) => [w.name, { shape: w.shape, data: Float32Array.from(t.data) }])));
  }

  /** Weights and optimiser state (float32; the step count in `__step__`), to resume from. */
  saveState(): Uint8Array {
    const weights = [...this.master].map(([w, t]) => ({ name: w.name, shape: w.shape, data: Float32Array.from(t.data) }));
    const slots = [...this.state.slots].map(([name, each]) => [name, each.map((s) => Float32Array.from(s))] as const);
    return writeTrainingState(weights, slots, this.state.step);
  }

  restoreState(bytes: Uint8Array): void {
    const file = readTrainingState(bytes);
    const master = new Map([...this.master].map(([w, t]) => [w, Float64Array.from(file.weight(w.name, t.data.length))] as const));
    const state = newState();
    state.step = file.step;
    for (const [name, each] of file.slots()) state.slots.set(name, each.map((s) => Float64Array.from(s)));
    for (const [w, d] of master) (this.master.get(w) as Tensor).data.set(d);
    this.state = state;
  }
}
