/// <reference types="@webgpu/types" />
// The compiled WebGPU trainer: the training step as WGSL kernels (compiler/backends/wgsl/
// grad-module.ts), each over the whole batch, with the weights, the batch's gradient sums and
// the optimiser state in one device buffer that stays there across steps. A step writes the
// batch's images and targets and the step's numbers (learning rate from the schedule, 1 / B,
// Adam's bias corrections) and records every dispatch in one command buffer: forward, loss,
// backward, the norm-and-finite check, the update (which does nothing when the check failed).
// It reads back only the per-sample losses, the correct counts and the check: the reference
// trainer's definition (trainer.ts, optim.ts) in float32. A step that goes wrong changes no
// weight and throws a TrainError naming the step, the sample and the first layer whose output
// went bad. weights() and saveState() read a copy that `sync()` refreshes: the weights are not
// read back every step.

import type { Weight } from "../ir/graph.js";
import { emitTrainingWgsl, type TrainingWgsl } from "../backends/wgsl/grad-module.js";
import { WG, type WgslKernel } from "../backends/wgsl/grad-kernel.js";
import { size } from "../reference/tensor.js";
// GPUBufferUsage / GPUMapMode / GPUShaderStage values (not globals in Node), as the runtime states them.
import { MAP_READ, STAGE_COMPUTE, USAGE_COPY_DST, USAGE_COPY_SRC, USAGE_MAP_READ, USAGE_STORAGE, USAGE_UNIFORM } from "../../runtime/webgpu.js";
import { writeSafetensors } from "../tensors/safetensors.js";
import { readTrainingState, writeTrainingState } from "./state-file.js";
import { TrainError } from "./autodiff.js";
import type { TrainGraph } from "./graph.js";
import { learningRate, type OptimiserConfig } from "./optim.js";
import { type Batch, checkBatch, type StepResult } from "./trainer.js";

interface Pipelines {
  readonly forward: GPUComputePipeline[];
  /** The forward on batch norm's running statistics (the same pipelines without batch norm in training mode). */
  readonly evaluate: GPUComputePipeline[];
  readonly loss: GPUComputePipeline[];
  readonly backward: GPUComputePipeline[];
  readonly stats: GPUComputePipeline;
  readonly update: GPUComputePipeline;
  readonly running: GPUComputePipeline[];
}

export class WebGpuTrainer {
  private step_ = 0;
  private cap = 0;
  private arena!: GPUBuffer;
  private bindGroup!: GPUBindGroup;
  private readonly uniform: GPUBuffer;
  private readonly tables: GPUBuffer;
  /** The weights and optimiser slots as of the last sync (undefined: stale). */
  private mirror: Float32Array | undefined;
  private lost: string | undefined;
  /** Calls run one after another: a step's batch must not be overwritten while it is read back. */
  private queue: Promise<unknown> = Promise.resolve();
  readonly classifies: boolean;
  private readonly inputSize: number;
  private readonly targetSize: number;

  private constructor(
    readonly graph: TrainGraph,
    readonly optimiser: OptimiserConfig,
    private readonly device: GPUDevice,
    private readonly program: TrainingWgsl,
    private readonly pipelines: Pipelines,
    private readonly kernels: Map<GPUComputePipeline, WgslKernel>,
    private readonly bindLayout: GPUBindGroupLayout,
    readonly adapter: string,
    /** The largest storage binding, in bytes: the device's, or less (tests). */
    private readonly bindingBytes: number,
  ) {
    this.classifies = graph.lossKind === "softmax_cross_entropy" || graph.lossKind === "cross_entropy";
    this.inputSize = size(graph.values[graph.forward.inputs[0].value].shape as number[]);
    this.targetSize = size(graph.targetShape);
    this.uniform = device.createBuffer({ size: 32, usage: USAGE_UNIFORM | USAGE_COPY_DST, label: "cnnc training params" });
    this.tables = device.createBuffer({ size: program.tables.byteLength, usage: USAGE_STORAGE | USAGE_COPY_DST, label: "cnnc training tables" });
    device.queue.writeBuffer(this.tables, 0, program.tables as Int32Array<ArrayBuffer>);
    device.lost.then((info) => {
      this.lost = info.message || info.reason;
    });
    this.ensure(1);
    const fixed = new Float32Array(program.layout.batchedBase);
    for (const [w, at] of program.layout.weights) fixed.set(w.data, at);
    device.queue.writeBuffer(this.arena, 0, fixed);
    this.mirror = fixed.slice(0, program.layout.gradBase + program.layout.gradCount * (1 + program.layout.slotBases.length));
  }

  /** Finds an adapter as inference does (a BackendError when there is none), compiles every kernel. */
  static async create(graph: TrainGraph, optimiser: OptimiserConfig, options: { readonly maxStorageBufferBindingSize?: number } = {}): Promise<WebGpuTrainer> {
    if (graph.forward.inputs.length !== 1) throw new TrainError(`training takes networks with one input; ${graph.forward.name} has ${graph.forward.inputs.length}`);
    const { findAdapter } = await import("../../runtime/webgpu.js");
    const { BackendError } = await import("../../runtime/backend-error.js");
    const choice = await findAdapter();
    if (!choice) throw new BackendError("no WebGPU adapter found (no GPU, and no software fallback)");
    const program = emitTrainingWgsl(graph, optimiser);
    const offer = choice.adapter.limits;
    // The tap tables are one read-only storage buffer, bound whole.
    const tableLimit = Math.min(offer.maxStorageBufferBindingSize, offer.maxBufferSize, options.maxStorageBufferBindingSize ?? Infinity);
    if (program.tables.byteLength > tableLimit) {
      throw new TrainError(`the WebGPU training step's index tables (the window ops' taps) take ${Math.ceil(program.tables.byteLength / 2 ** 20)} MiB; this WebGPU device binds at most ${Math.floor(tableLimit / 2 ** 20)} MiB: train at a smaller size, or on WebAssembly`);
    }
    const device = await choice.adapter.requestDevice({
      label: "cnnc training",
      requiredLimits: { maxStorageBufferBindingSize: offer.maxStorageBufferBindingSize, maxBufferSize: offer.maxBufferSize },
    });
    try {
      device.pushErrorScope("validation");
      const bindLayout = device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: "uniform" } },
          { binding: 1, visibility: STAGE_COMPUTE, buffer: { type: "storage" } },
          { binding: 2, visibility: STAGE_COMPUTE, buffer: { type: "read-only-storage" } },
        ],
      });
      const layout = device.createPipelineLayout({ bindGroupLayouts: [bindLayout] });
      const kernels = new Map<GPUComputePipeline, WgslKernel>();
      // A kernel shared by the training and the evaluation forward is compiled once.
      const made = new Map<WgslKernel, Promise<GPUComputePipeline>>();
      const make = (k: WgslKernel): Promise<GPUComputePipeline> => {
        let p = made.get(k);
        if (!p) made.set(k, (p = build(k)));
        return p;
      };
      const build = async (k: WgslKernel): Promise<GPUComputePipeline> => {
        const module = device.createShaderModule({ code: k.code, label: k.label });
        const info = await module.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === "error");
        if (errors.length) throw new Error(`internal error: the WebGPU training kernel for ${k.label} does not compile: ${errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`).join("; ")}`);
        const p = await device.createComputePipelineAsync({ label: k.label, layout, compute: { module, entryPoint: "main" } });
        kernels.set(p, k);
        return p;
      };
      const all = (ks: readonly WgslKernel[]) => Promise.all(ks.map(make));
      const forward = await all(program.forward);
      const pipelines: Pipelines = {
        forward,
        evaluate: await all(program.evaluate),
        loss: await all(program.loss),
        backward: await all(program.backward),
        stats: await make(program.stats),
        update: await make(program.update),
        running: await all(program.running),
      };
      const bindingBytes = Math.min(device.limits.maxStorageBufferBindingSize, options.maxStorageBufferBindingSize ?? Infinity);
      const trainer = new WebGpuTrainer(graph, optimiser, device, program, pipelines, kernels, bindLayout, choice.description, bindingBytes);
      const err = await device.popErrorScope();
      if (err) throw new Error(`internal error: WebGPU rejected the training step: ${err.message}`);
      return trainer;
    } catch (e) {
      device.destroy();
      throw e;
    }
  }

  get steps(): number {
    return this.step_;
  }

  get memoryBytes(): number {
    return this.arena.size + this.tables.size;
  }

  /** Room for `count` samples: a larger arena, the fixed part (weights, sums, slots) copied over. */
  private ensure(count: number): void {
    if (count <= this.cap) return;
    const L = this.program.layout;
    const bytes = 4 * (L.batchedBase + count * L.perSample);
    const limit = this.bindingBytes;
    if (bytes > limit) {
      throw new TrainError(`a batch of ${count} needs ${Math.ceil(bytes / 1048576)} MiB of device memory in one buffer; this WebGPU device allows ${Math.floor(limit / 1048576)} MiB: use a smaller batch`);
    }
    const arena = this.device.createBuffer({ size: bytes, usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST, label: "cnnc training arena" });
    if (this.cap > 0) {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(this.arena, 0, arena, 0, 4 * L.batchedBase);
      this.device.queue.submit([enc.finish()]);
      this.arena.destroy();
    }
    this.arena = arena;
    this.cap = count;
    this.bindGroup = this.device.createBindGroup({
      layout: this.bindLayout,
      entries: [
        { binding: 0, resource: { buffer: this.uniform } },
        { binding: 1, resource: { buffer: this.arena } },
        { binding: 2, resource: { buffer: this.tables } },
      ],
    });
  }

  /** Start (in floats) of sample 0 of a batched value. */
  private start(v: number): number {
    const L = this.program.layout;
    return L.batchedBase + this.cap * (L.pre.get(v) as number);
  }

  private check(batch: Batch): void {
    if (this.lost) throw new TrainError(`the WebGPU device was lost (${this.lost})`);
    if (batch.count < 1) throw new TrainError("a batch needs at least one sample");
    checkBatch(this.graph, batch, this.inputSize, this.targetSize, this.classifies);
  }

  /** Writes the batch and the step's numbers. */
  private load(batch: Batch, lr: number, first: boolean, t: number): void {
    this.ensure(batch.count);
    const c = this.optimiser;
    const params = new ArrayBuffer(32);
    new Uint32Array(params, 0, 4).set([batch.count, this.cap, first ? 1 : 0, 0]);
    new Float32Array(params, 16, 4).set([lr, 1 / batch.count, 1 - Math.pow(c.beta1, t), 1 - Math.pow(c.beta2, t)]);
    this.device.queue.writeBuffer(this.uniform, 0, params);
    const q = this.device.queue;
    q.writeBuffer(this.arena, 4 * this.start(this.graph.forward.inputs[0].value), batch.images as Float32Array<ArrayBuffer>);
    q.writeBuffer(this.arena, 4 * this.start(this.graph.target), Float32Array.from(batch.labels));
  }

  private dispatch(pass: GPUComputePassEncoder, pipelines: readonly GPUComputePipeline[], nb: number): void {
    const most = this.device.limits.maxComputeWorkgroupsPerDimension;
    for (const p of pipelines) {
      const k = this.kernels.get(p) as WgslKernel;
      const n = k.batched ? nb * k.count : k.count;
      let groups = k.grid === "items" ? Math.ceil(n / WG) : n;
      // Folded onto x, y and z when long (the prelude's group_index reads it back).
      const x = Math.min(groups, most);
      groups = Math.ceil(groups / x);
      const y = Math.min(groups, most);
      const z = Math.ceil(groups / y);
      pass.setPipeline(p);
      pass.dispatchWorkgroups(x, y, z);
    }
  }

  /** Runs `pipelines` on the loaded batch and reads back the listed float ranges, in order. */
  private async run(pipelines: readonly GPUComputePipeline[], nb: number, reads: readonly [number, number][]): Promise<Float32Array[]> {
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setBindGroup(0, this.bindGroup);
    this.dispatch(pass, pipelines, nb);
    pass.end();
    const total = reads.reduce((a, [, n]) => a + n, 0);
    const staging = this.device.createBuffer({ size: Math.max(4, 4 * total), usage: USAGE_MAP_READ | USAGE_COPY_DST });
    let at = 0;
    for (const [from, n] of reads) {
      if (n > 0) enc.copyBufferToBuffer(this.arena, 4 * from, staging, 4 * at, 4 * n);
      at += n;
    }
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(MAP_READ);
    } catch (e) {
      throw new TrainError(`the WebGPU device failed during the step${this.lost ? ` (${this.lost})` : ""}: ${(e as Error).message}`);
    }
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    at = 0;
    return reads.map(([, n]) => all.subarray(at, (at += n)));
  }

  private lossReads(nb: number): [number, number][] {
    const reads: [number, number][] = [[this.start(this.graph.loss), nb]];
    if (this.classifies) reads.push([this.start(this.program.layout.correct), nb]);
    return reads;
  }

  private result(losses: Float32Array, right: Float32Array | undefined, nb: number): StepResult {
    const loss = losses.reduce((a, b) => a + b, 0) / nb;
    if (!this.classifies || !right) return { loss };
    return { loss, accuracy: right.reduce((a, b) => a + b, 0) / (nb * this.targetSize) };
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  step(batch: Batch): Promise<StepResult> {
    return this.serial(() => this.runStep(batch));
  }

  private async runStep(batch: Batch): Promise<StepResult> {
    this.check(batch);
    const t = this.step_ + 1;
    this.load(batch, learningRate(this.optimiser, this.step_), t === 1, t);
    const p = this.pipelines;
    const nb = batch.count;
    const [losses, ...rest] = await this.run([...p.forward, ...p.loss, ...p.backward, p.stats, p.update, ...p.running], nb, [...this.lossReads(nb), [0, 2]]);
    const flags = rest[rest.length - 1];
    if (flags[1] !== 0) await this.refuse(losses, nb);
    this.step_ = t;
    this.mirror = undefined;
    return this.result(losses, this.classifies ? rest[0] : undefined, nb);
  }

  /** The step's check failed: the update did nothing; say which sample and layer went bad. */
  private async refuse(losses: Float32Array, nb: number): Promise<never> {
    const bad = losses.findIndex((l) => !Number.isFinite(l));
    let what: string;
    if (bad >= 0) what = `the loss is ${losses[bad]}`;
    else {
      const L = this.program.layout;
      const [sums] = await this.run([], nb, [[L.gradBase, L.gradCount]]);
      const w = L.trained.find((w) => !sums.subarray((L.grads.get(w) as number) - L.gradBase, (L.grads.get(w) as number) - L.gradBase + size(w.shape)).every(Number.isFinite));
      what = `the gradient of ${w?.name ?? "a weight"} is not finite`;
    }
    const i = Math.max(0, bad);
    throw new TrainError(`step ${this.step_ + 1}: ${what} on sample ${i} of the batch (${await this.firstBadLayer(i, nb)}); the weights are left as they were after step ${this.step_}`);
  }

  /**
   * The first layer whose output for sample i is not finite. The batch is still in the arena,
   * but the planned arena (grad-layout.ts) has reused the places of forward values the
   * backward pass did not need: the forward runs again, node by node, each output read as it
   * is made (a failed step's update did nothing, so the weights are the step's).
   */
  private async firstBadLayer(i: number, nb: number): Promise<string> {
    const nodes = this.graph.forward.nodes;
    const L = this.program.layout;
    let k = 0;
    for (const [j, n] of nodes.entries()) {
      const count = this.program.forwardCounts[j];
      const [out] = await this.run(this.pipelines.forward.slice(k, k + count), nb, [[this.start(n.output) + i * (L.sizes.get(n.output) as number), L.sizes.get(n.output) as number]]);
      k += count;
      if (!out.every(Number.isFinite)) return `layer ${n.layer} is the first to output a non-finite value`;
    }
    return "every layer's output is finite: the loss or a gradient overflowed";
  }

  evaluate(batch: Batch): Promise<StepResult> {
    return this.serial(() => this.runEvaluate(batch));
  }

  private async runEvaluate(batch: Batch): Promise<StepResult> {
    this.check(batch);
    // No update to keep whole: a batch larger than one buffer holds is evaluated in parts.
    const L = this.program.layout;
    const most = Math.max(1, Math.floor((this.bindingBytes / 4 - L.batchedBase) / L.perSample));
    const losses = new Float32Array(batch.count);
    const right = new Float32Array(batch.count);
    const n = this.inputSize;
    const t = this.targetSize;
    for (let at = 0; at < batch.count; at += most) {
      const count = Math.min(most, batch.count - at);
      const part = { count, images: batch.images.subarray(at * n, (at + count) * n), labels: batch.labels.subarray(at * t, (at + count) * t) };
      this.load(part, 0, false, 1);
      const [l, r] = await this.run([...this.pipelines.evaluate, ...this.pipelines.loss], count, this.lossReads(count));
      losses.set(l, at);
      if (r) right.set(r, at);
    }
    return this.result(losses, this.classifies ? right : undefined, batch.count);
  }

  /**
   * The batch's gradient sums (dJ/dW for J the sum of the samples' losses) without an update,
   * and the listed batched values for every sample, back to back (tests).
   */
  probe(batch: Batch, values: readonly number[] = []): Promise<{ gradients: Map<Weight, Float32Array>; values: Float32Array[] }> {
    return this.serial(() => this.runProbe(batch, values));
  }

  private async runProbe(batch: Batch, values: readonly number[]): Promise<{ gradients: Map<Weight, Float32Array>; values: Float32Array[] }> {
    this.check(batch);
    this.load(batch, 0, false, 1);
    const L = this.program.layout;
    const p = this.pipelines;
    const reads: [number, number][] = values.map((v) => [this.start(v), batch.count * (L.sizes.get(v) as number)]);
    const [sums, ...got] = await this.run([...p.forward, ...p.loss, ...p.backward], batch.count, [[L.gradBase, L.gradCount], ...reads]);
    const gradients = new Map(L.trained.map((w) => [w, sums.slice((L.grads.get(w) as number) - L.gradBase, (L.grads.get(w) as number) - L.gradBase + size(w.shape))]));
    return { gradients, values: got.map((g) => g.slice()) };
  }

  /** Reads the weights and the optimiser state back, for weights() and saveState(). */
  sync(): Promise<void> {
    return this.serial(async () => {
      if (this.mirror) return;
      const L = this.program.layout;
      const [m] = await this.run([], 1, [[0, L.gradBase + L.gradCount * (1 + L.slotBases.length)]]);
      this.mirror = Float32Array.from(m);
    });
  }

  private fresh(what: string): Float32Array {
    if (!this.mirror) throw new TrainError(`${what} on WebGPU reads the device's copy: await trainer.sync() after the last step first`);
    return this.mirror;
  }

  /** The current weights by name, float32 (after sync()). */
  weightTensors(): Map<string, Float32Array> {
    const m = this.fresh("weights()");
    const at = this.program.layout.weights;
    return new Map(this.graph.forward.weights.map((w) => [w.name, m.slice(at.get(w) as number, (at.get(w) as number) + size(w.shape))]));
  }

  weights(): Uint8Array {
    const t = this.weightTensors();
    return writeSafetensors(new Map(this.graph.forward.weights.map((w) => [w.name, { shape: w.shape, data: t.get(w.name) as Float32Array }])));
  }

  /** The reference trainer's format: weights, `__optimiser__.NAME.K` slots, `__step__`. */
  saveState(): Uint8Array {
    const mirror = this.fresh("saveState()");
    const L = this.program.layout;
    const weights = [...this.weightTensors()].map(([name, data]) => ({ name, shape: (this.graph.forward.weights.find((w) => w.name === name) as Weight).shape, data }));
    const slots =
      this.step_ > 0
        ? L.trained.map((w) => {
            const off = (L.grads.get(w) as number) - L.gradBase;
            return [w.name, L.slotBases.map((base) => mirror.slice(base + off, base + off + size(w.shape)))] as const;
          })
        : [];
    return writeTrainingState(weights, slots, this.step_);
  }

  restoreState(bytes: Uint8Array): void {
    const file = readTrainingState(bytes);
    const L = this.program.layout;
    const image = new Float32Array(L.gradBase + L.gradCount * (1 + L.slotBases.length));
    for (const w of this.graph.forward.weights) image.set(file.weight(w.name, size(w.shape)), L.weights.get(w) as number);
    const step = file.step;
    for (const w of L.trained) {
      const off = (L.grads.get(w) as number) - L.gradBase;
      L.slotBases.forEach((base, k) => {
        const t = file.slot(w.name, k, size(w.shape));
        if (t) image.set(t, base + off);
      });
    }
    // The weights, then each slot region (the gradient sums between them are rewritten every step).
    this.device.queue.writeBuffer(this.arena, 0, image, 0, L.gradBase);
    for (const base of L.slotBases) this.device.queue.writeBuffer(this.arena, 4 * base, image, base, L.gradCount);
    this.mirror = image;
    this.step_ = step;
  }

  dispose(): void {
    this.device.destroy();
  }
}
