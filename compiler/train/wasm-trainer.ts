// The compiled trainer: the training step as one WebAssembly module (compiler/backends/wasm/
// grad-module.ts) with the weights, the batch's gradient sums and the optimiser state in its
// memory. A step copies each sample and its target in, runs forward, loss and backward (which
// adds the sample's weight gradients to the sums), then checks that every loss and sum is
// finite and calls the update with g = sum / B, clipped to the global norm when asked: the
// reference trainer's definition (trainer.ts, optim.ts) in float32 tensors and float64
// arithmetic. A step that goes wrong changes no weight and throws a TrainError naming the
// step, the sample and the first layer whose output went bad.

import type { Weight } from "../ir/graph.js";
import { emitTrainingWasm, type TrainingLayout } from "../backends/wasm/grad-module.js";
import { hasRelaxedSimd } from "../../runtime/wasm.js";
import type { TrainAlgorithmSetting, TrainConvChoice } from "../backends/wasm/grad-algorithms.js";
import { size } from "../reference/tensor.js";
import { writeSafetensors } from "../tensors/safetensors.js";
import { readTrainingState, writeTrainingState } from "./state-file.js";
import { TrainError } from "./autodiff.js";
import type { TrainGraph } from "./graph.js";
import { learningRate, type OptimiserConfig } from "./optim.js";
import { type Batch, checkBatch, type StepResult } from "./trainer.js";
import { countCorrect, type HelperSpec, type ShareResult, splitSamples, TrainHelpers } from "./train-threads.js";
import { combineExchange } from "./batch-exchange.js";

interface Exports {
  /** One sample's forward, loss and backward (absent in batch mode). */
  sample?(): void;
  evaluate(): void;
  zero(): void;
  update(): void;
  norm(): void;
  flush(): void;
  /** Winograd layers' transformed kernels from the current weights (zero() does it too). */
  prepare(): void;
  /** Batch mode (batch norm in training mode): the whole batch's forward, loss and backward. */
  batch?(count: number): void;
  /** Batch mode: the sample whose region `evaluate` uses. */
  select?(b: number): void;
  /** Batch mode: the running statistics follow the last batch's. */
  running?(): void;
  /** Batch mode on threads: this thread's sample count and the batch's, before `stage_0` (grad-module.ts). */
  begin?(count: number, total: number): void;
}

export class WasmTrainer {
  private step_ = 0;
  private readonly mem: WebAssembly.Memory;
  private x!: Float32Array;
  private t!: Float32Array;
  private lossView!: Float32Array;
  private out!: Float32Array;
  private readonly exports: Exports;
  private readonly trained: readonly Weight[];
  readonly classifies: boolean;
  private helpers?: TrainHelpers;
  private threading_ = "one thread";
  /** Each convolution's algorithm in this step, and why. */
  algorithms: readonly TrainConvChoice[] = [];
  /** Whether the step was built with relaxed SIMD's fused multiply-add (the engine runs it). */
  relaxedSimd = false;

  private constructor(
    readonly graph: TrainGraph,
    readonly optimiser: OptimiserConfig,
    private readonly layout: TrainingLayout,
    instance: WebAssembly.Instance,
    mem: WebAssembly.Memory,
  ) {
    this.mem = mem;
    this.exports = instance.exports as unknown as Exports;
    this.views();
    for (const { offset, data } of layout.tables) new Uint8Array(mem.buffer, offset, data.byteLength).set(data);
    for (const w of graph.forward.weights) this.view(w).set(w.data);
    this.trained = [...layout.grads.keys()];
    this.classifies = graph.lossKind === "softmax_cross_entropy" || graph.lossKind === "cross_entropy";
  }

  /** threads > 1: the batch's samples split across this thread and threads - 1 helpers (train-threads.ts). */
  static async create(graph: TrainGraph, optimiser: OptimiserConfig, threads = 1, convAlgorithm: TrainAlgorithmSetting = "auto"): Promise<WasmTrainer> {
    if (graph.forward.inputs.length !== 1) throw new TrainError(`training takes networks with one input; ${graph.forward.name} has ${graph.forward.inputs.length}`);
    const { loadBinaryen } = await import("../backends/wasm/binaryen.js");
    await loadBinaryen();
    const relaxed = hasRelaxedSimd();
    const { binary, layout, algorithms } = emitTrainingWasm(graph, optimiser, { convAlgorithm, relaxed, threads: threads > 1 });
    // The module declares at most 2 GiB (32768 pages); the memory is made as large as the layout.
    // Batch mode: room for a batch of 64 samples to start with; a larger batch grows it.
    const bytes = layout.memoryBytes + (layout.samples ? 64 * layout.samples.stride : 0);
    if (bytes > 2 ** 31) throw new TrainError(`the training step of ${graph.forward.name} needs ${Math.ceil(bytes / 2 ** 20)} MiB of WebAssembly memory, more than its 2 GiB`);
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536), maximum: 32768 });
    const env = { memory, exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log };
    const module = await WebAssembly.compile(binary as Uint8Array<ArrayBuffer>);
    const instance = await WebAssembly.instantiate(module, { env });
    const trainer = new WasmTrainer(graph, optimiser, layout, instance, memory);
    trainer.algorithms = algorithms;
    trainer.relaxedSimd = relaxed;
    if (threads > 1) {
      const helpers = await TrainHelpers.start(threads - 1, trainer.helperSpec(module));
      if (typeof helpers === "string") trainer.threading_ = `one thread; ${threads} threads unavailable: ${helpers}`;
      else {
        trainer.helpers = helpers;
        trainer.threading_ = `${threads} threads`;
      }
    }
    return trainer;
  }

  private helperSpec(module: WebAssembly.Module): HelperSpec {
    const region = (offset: number, length: number) => ({ offset, length });
    const g = this.graph;
    const s = this.layout.samples;
    return {
      module,
      memoryBytes: this.layout.memoryBytes,
      tables: this.layout.tables,
      weights: g.forward.weights.map((w) => region(this.layout.weights.get(w) as number, size(w.shape))),
      grads: this.trained.map((w) => region(this.layout.grads.get(w) as number, size(w.shape))),
      x: region(this.x.byteOffset, this.x.length),
      t: region(this.t.byteOffset, this.t.length),
      loss: this.lossView.byteOffset,
      out: region(this.out.byteOffset, this.out.length),
      classes: g.values[g.output.value].shape[0] as number,
      classifies: this.classifies,
      batch: s && { start: s.start, stride: s.stride, exchanges: s.exchanges },
    };
  }

  /** "one thread", "2 threads", or one thread and why not the threads asked for. */
  get threading(): string {
    return this.threading_;
  }

  /** Stops the helper threads (the trainer then runs on one thread). */
  dispose(): void {
    this.helpers?.dispose();
    if (this.helpers) this.threading_ = "one thread";
    this.helpers = undefined;
  }

  get steps(): number {
    return this.step_;
  }

  get memoryBytes(): number {
    return this.mem.buffer.byteLength;
  }

  /** The views of the (first) sample's input, target, loss and output. Batch mode: sample 0's, which `evaluate` uses after select(0). */
  private views(): void {
    const g = this.graph;
    this.x = this.valueView(g.forward.inputs[0].value, 0);
    this.t = new Float32Array(this.mem.buffer, this.address(g.target, 0), size(g.targetShape));
    this.lossView = this.valueView(g.loss, 0);
    this.out = this.valueView(g.output.value, 0);
  }

  /** Byte address of value `id` of sample b (batch mode), or of the one sample's. */
  private address(id: number, b: number): number {
    const at = this.layout.values.get(id) as number;
    const s = this.layout.samples;
    return s ? s.start + b * s.stride + at : at;
  }

  /** Value `id` of sample b, as it is now in memory. */
  private valueView(id: number, b: number): Float32Array {
    return new Float32Array(this.mem.buffer, this.address(id, b), size(this.graph.values[id].shape as number[]));
  }

  /** Batch mode: memory for `count` samples' regions (growing it invalidates every view: they are made again). */
  private reserve(count: number): void {
    const s = this.layout.samples;
    if (!s) return;
    const need = s.start + count * s.stride;
    if (need <= this.mem.buffer.byteLength) return;
    if (need > 2 ** 31) throw new TrainError(`a batch of ${count} needs ${Math.ceil(need / 2 ** 20)} MiB of WebAssembly memory for ${this.graph.forward.name}, more than 2 GiB: use a smaller batch`);
    this.mem.grow(Math.ceil((need - this.mem.buffer.byteLength) / 65536));
    this.views();
  }

  private view(w: Weight): Float32Array {
    return new Float32Array(this.mem.buffer, this.layout.weights.get(w) as number, size(w.shape));
  }

  private load(batch: Batch, i: number): void {
    const n = this.x.length;
    const t = this.t.length;
    this.x.set(batch.images.subarray(i * n, (i + 1) * n));
    for (let k = 0; k < t; k++) this.t[k] = batch.labels[i * t + k];
  }

  private check(batch: Batch): void {
    checkBatch(this.graph, batch, this.x.length, this.t.length, this.classifies);
  }

  /** Positions of the output ([C, D..]) whose arg-max is the target class. */
  private correct(): number {
    return countCorrect(this.out, this.t, this.graph.values[this.graph.output.value].shape[0] as number);
  }

  private result(loss: number, right: number, batch: Batch): StepResult {
    const positions = batch.count * this.t.length;
    return this.classifies ? { loss: loss / batch.count, accuracy: right / positions } : { loss: loss / batch.count };
  }

  step(batch: Batch): StepResult {
    this.check(batch);
    if (this.layout.samples) return this.batchStep(batch);
    this.exports.zero();
    const mine = this.samples(batch, 0, batch.count);
    // The dense kernel gradients of the last samples (fewer than a chunk) into the sums.
    this.exports.flush();
    return this.finish(batch, mine.loss, mine.right, mine.bad);
  }

  /** A step with the samples split across this thread and the helpers (step() without them). */
  async stepAsync(batch: Batch): Promise<StepResult> {
    const helpers = this.helpers;
    if (!helpers || batch.count < 2) return this.step(batch);
    if (this.layout.samples) return this.batchStepAsync(batch, helpers);
    this.check(batch);
    const shares = splitSamples(batch.count, 1 + Math.min(helpers.count, batch.count - 1));
    // Posted before this thread starts its own share, so that all run at once.
    const pending = helpers.run(
      this.graph.forward.weights.map((w) => this.view(w)),
      batch,
      shares.slice(1),
    );
    this.exports.zero();
    const mine = this.samples(batch, 0, shares[0][1]);
    this.exports.flush();
    const results = await pending;
    let { loss, right, bad } = mine;
    results.forEach((r, k) => {
      const from = shares[k + 1][0];
      r.losses.forEach((l, i) => {
        if (!Number.isFinite(l) && bad < 0) bad = from + i;
        loss += l;
      });
      right += r.right;
      this.addGrads(r.grads);
    });
    return this.finish(batch, loss, right, bad);
  }

  /**
   * Batch mode: every sample and target into its region, then the module's phases over the
   * whole batch; the losses and outputs are read back from each region.
   */
  private runBatch(batch: Batch): { loss: number; right: number; bad: number } {
    this.loadRegions(batch, 0, batch.count);
    this.exports.zero();
    (this.exports.batch as (count: number) => void)(batch.count);
    return this.readRegions(batch.count);
  }

  /** Batch mode: samples [from, to) of the batch and their targets into regions 0 to to - from. */
  private loadRegions(batch: Batch, from: number, to: number): void {
    this.reserve(to - from);
    const g = this.graph;
    const n = this.x.length;
    const t = this.t.length;
    for (let i = from; i < to; i++) {
      this.valueView(g.forward.inputs[0].value, i - from).set(batch.images.subarray(i * n, (i + 1) * n));
      const target = new Float32Array(this.mem.buffer, this.address(g.target, i - from), t);
      for (let k = 0; k < t; k++) target[k] = batch.labels[i * t + k];
    }
  }

  /** Batch mode: the losses and correct counts of regions [0, count) (bad: the first region whose loss is not finite). */
  private readRegions(count: number): { loss: number; right: number; bad: number } {
    const g = this.graph;
    const t = this.t.length;
    let loss = 0;
    let right = 0;
    let bad = -1;
    const classes = g.values[g.output.value].shape[0] as number;
    for (let i = 0; i < count; i++) {
      const l = this.valueView(g.loss, i)[0];
      if (!Number.isFinite(l) && bad < 0) bad = i;
      loss += l;
      if (this.classifies) right += countCorrect(this.valueView(g.output.value, i), new Float32Array(this.mem.buffer, this.address(g.target, i), t), classes);
    }
    return { loss, right, bad };
  }

  private batchStep(batch: Batch): StepResult {
    const { loss, right, bad } = this.runBatch(batch);
    return this.finish(batch, loss, right, bad);
  }

  /**
   * Batch mode on threads: each thread runs its share's stages (grad-module.ts), stopping at
   * each batch norm exchange, where every thread gets every share's per-channel partials and
   * combines them, in thread order, into the batch's values (batch-exchange.ts; the helpers
   * get them through this thread); then the helpers' gradient sums are added to this
   * thread's and the update is made here, as without batch norm. A step that fails is taken
   * again on this thread alone, which names the sample and layer as one thread does (its
   * regions then hold the whole batch) and changes nothing.
   */
  private async batchStepAsync(batch: Batch, helpers: TrainHelpers): Promise<StepResult> {
    this.check(batch);
    const shares = splitSamples(batch.count, 1 + Math.min(helpers.count, batch.count - 1));
    const counts = shares.map(([from, to]) => to - from);
    const theirs = shares.slice(1);
    const exchanges = (this.layout.samples as NonNullable<TrainingLayout["samples"]>).exchanges;
    // A batch too large for this thread's memory is refused before any helper starts.
    this.reserve(counts[0]);
    let results: ShareResult[];
    try {
      // Posted before this thread starts its own share, so that all run at once.
      helpers.startBatch(this.graph.forward.weights.map((w) => this.view(w)), batch, theirs, counts);
      this.loadRegions(batch, 0, counts[0]);
      this.exports.zero();
      (this.exports.begin as (count: number, total: number) => void)(counts[0], batch.count);
      const stages = this.exports as unknown as Record<string, () => void>;
      for (let j = 0; j <= exchanges.length; j++) {
        stages[`stage_${j}`]();
        if (j === exchanges.length) break;
        const e = exchanges[j];
        const area = new Float64Array(this.mem.buffer, e.offset, 2 * e.channels);
        const own = area.slice();
        // One helper: it needs only these, so they go before this thread waits for its.
        if (theirs.length === 1) helpers.answer(1, [own, null], j + 1);
        const parts = [own, ...(await helpers.partials(theirs.length))];
        if (theirs.length > 1) helpers.answer(theirs.length, parts, j + 1);
        area.set(combineExchange(e, parts, counts));
      }
      results = await helpers.results(theirs);
    } catch (e) {
      // Helpers stopped mid-step would answer the next step with this one's messages: they
      // are stopped instead, and the trainer goes on on one thread.
      this.dispose();
      this.threading_ = `one thread; the helper threads were stopped: ${(e as Error).message}`;
      throw e;
    }
    let { loss, right, bad } = this.readRegions(counts[0]);
    results.forEach((r, k) => {
      const from = theirs[k][0];
      r.losses.forEach((l, i) => {
        if (!Number.isFinite(l) && bad < 0) bad = from + i;
        loss += l;
      });
      right += r.right;
      this.addGrads(r.grads);
    });
    return this.finish(batch, loss, right, bad, () => this.batchStep(batch));
  }

  /** A share's gradient sums (trained weights in order) added to this thread's. */
  private addGrads(grads: readonly Float32Array[]): void {
    this.trained.forEach((w, j) => {
      const sum = new Float32Array(this.mem.buffer, this.layout.grads.get(w) as number, size(w.shape));
      const part = grads[j];
      for (let e = 0; e < sum.length; e++) sum[e] += part[e];
    });
  }

  /** Forward, loss and backward of samples [from, to) into the gradient sums. */
  private samples(batch: Batch, from: number, to: number): { loss: number; right: number; bad: number } {
    let loss = 0;
    let right = 0;
    let bad = -1;
    const sample = this.exports.sample as () => void;
    for (let i = from; i < to; i++) {
      this.load(batch, i);
      sample();
      const l = this.lossView[0];
      if (!Number.isFinite(l) && bad < 0) bad = i;
      loss += l;
      if (this.classifies) right += this.correct();
    }
    return { loss, right, bad };
  }

  /**
   * The update from the batch's gradient sums, or a TrainError (and no change) if anything is
   * not finite; `retake` given, a failed step is handed to it instead (threads in batch mode,
   * whose report needs the whole batch on this thread).
   */
  private finish(batch: Batch, loss: number, right: number, bad: number, retake?: () => StepResult): StepResult {
    const scale = 1 / batch.count;
    const params = new Float64Array(this.mem.buffer, this.layout.params, 8);
    params[1] = scale;
    // The squared norm of the mean gradient, summed in the module (f64, weight by weight as
    // this loop once did): finite exactly when every gradient is, so the per-weight search
    // for the bad one runs only when it is not.
    this.exports.norm();
    const sq = params[5];
    const badGrad = Number.isFinite(sq) ? undefined : this.trained.find((w) => !new Float32Array(this.mem.buffer, this.layout.grads.get(w) as number, size(w.shape)).every(Number.isFinite));
    if ((bad >= 0 || badGrad) && retake) return retake();
    if (bad >= 0 || badGrad) {
      const what = bad >= 0 ? `the loss is ${this.lossAt(batch, bad)}` : `the gradient of ${badGrad?.name} is not finite`;
      const i = Math.max(0, bad);
      throw new TrainError(`step ${this.step_ + 1}: ${what} on sample ${i} of the batch (${this.firstBadLayer(batch, i)}); the weights are left as they were after step ${this.step_}`);
    }
    const c = this.optimiser;
    const norm = Math.sqrt(sq);
    const clip = c.clip > 0 && norm > c.clip ? c.clip / (norm + 1e-6) : 1;
    const t = this.step_ + 1;
    params.set([learningRate(c, this.step_), scale * clip, t === 1 ? 1 : 0, 1 - Math.pow(c.beta1, t), 1 - Math.pow(c.beta2, t)]);
    this.exports.update();
    this.exports.running?.();
    this.step_ = t;
    return this.result(loss, right, batch);
  }

  private lossAt(batch: Batch, i: number): number {
    // Batch mode: the failed step left every sample's values in place.
    if (this.layout.samples) return this.valueView(this.graph.loss, i)[0];
    this.load(batch, i);
    this.exports.evaluate();
    return this.lossView[0];
  }

  private firstBadLayer(batch: Batch, i: number): string {
    const batchMode = this.layout.samples !== undefined;
    // Batch mode: the regions still hold the failed step's batch; else sample i is loaded
    // again. The plan reused the places of forward values that later kernels did not read, so
    // each layer runs again and its output is read as it is made.
    if (!batchMode) this.load(batch, i);
    const exports = this.exports as unknown as Record<string, () => void>;
    for (const [k, n] of this.graph.forward.nodes.entries()) {
      exports[`forward_${k}`]();
      const v = this.valueView(n.output, batchMode ? i : 0);
      if (!v.every(Number.isFinite)) return `layer ${n.layer} is the first to output a non-finite value`;
    }
    return "every layer's output is finite: the loss or a gradient overflowed";
  }

  evaluate(batch: Batch): StepResult {
    this.check(batch);
    // Batch mode: sample by sample in sample 0's region, on the running statistics.
    this.exports.select?.(0);
    this.exports.prepare();
    let loss = 0;
    let right = 0;
    for (let i = 0; i < batch.count; i++) {
      this.load(batch, i);
      this.exports.evaluate();
      loss += this.lossView[0];
      if (this.classifies) right += this.correct();
    }
    return this.result(loss, right, batch);
  }

  /**
   * The batch's gradient sums (dJ/dW for J the sum of the samples' losses) without an update,
   * and every value of the last sample: the kernels' outputs, for the tests that hold them to
   * the reference.
   */
  probe(batch: Batch): { gradients: Map<Weight, Float32Array>; value: (id: number) => Float32Array } {
    this.check(batch);
    if (this.layout.samples) this.runBatch(batch);
    else {
      this.exports.zero();
      const sample = this.exports.sample as () => void;
      for (let i = 0; i < batch.count; i++) {
        this.load(batch, i);
        sample();
      }
    }
    this.exports.flush();
    const gradients = new Map(this.trained.map((w) => [w, Float32Array.from(new Float32Array(this.mem.buffer, this.layout.grads.get(w) as number, size(w.shape)))]));
    const last = this.layout.samples ? batch.count - 1 : 0;
    const value = (id: number) => Float32Array.from(this.valueView(id, last));
    return { gradients, value };
  }

  /** The current weights by name, float32 (tests compare them with the reference trainer's). */
  weightTensors(): Map<string, Float32Array> {
    return new Map(this.graph.forward.weights.map((w) => [w.name, Float32Array.from(this.view(w))]));
  }

  weights(): Uint8Array {
    return writeSafetensors(new Map(this.graph.forward.weights.map((w) => [w.name, { shape: w.shape, data: Float32Array.from(this.view(w)) }])));
  }

  /** The reference trainer's format: weights, `__optimiser__.NAME.K` slots, `__step__`. */
  saveState(): Uint8Array {
    const weights = this.graph.forward.weights.map((w) => ({ name: w.name, shape: w.shape, data: Float32Array.from(this.view(w)) }));
    const slots = this.step_ > 0 ? [...this.layout.slots].map(([w, at]) => [w.name, at.map((offset) => Float32Array.from(new Float32Array(this.mem.buffer, offset, size(w.shape))))] as const) : [];
    return writeTrainingState(weights, slots, this.step_);
  }

  restoreState(bytes: Uint8Array): void {
    const file = readTrainingState(bytes);
    const weights = this.graph.forward.weights.map((w) => [w, file.weight(w.name, size(w.shape))] as const);
    const step = file.step;
    const slots: [number, Float32Array][] = [];
    for (const [w, at] of this.layout.slots) {
      at.forEach((offset, k) => slots.push([offset, file.slot(w.name, k, size(w.shape)) ?? new Float32Array(size(w.shape))]));
    }
    for (const [w, d] of weights) this.view(w).set(d);
    for (const [offset, d] of slots) new Float32Array(this.mem.buffer, offset, d.length).set(d);
    this.step_ = step;
  }
}
