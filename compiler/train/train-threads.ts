// Data-parallel training steps on WebAssembly threads: the batch's samples are split between
// the main thread and helper workers, each with its own instance of the same compiled step
// (its own memory: one sample's values, its own gradient sums). Per step the main thread sends
// each helper the current weights and its samples, runs its own share meanwhile, then adds the
// helpers' gradient sums to its own and makes the update alone, so the weights and the
// optimiser state live in one place. Messages, not shared memory, so a browser page needs no
// cross-origin isolation.
//
// Each helper has one ArrayBuffer that goes back and forth, moved (a transfer list), never
// cloned: out, the weights, the share's images and targets; back, in the same buffer, the
// share's losses and gradient sums. A step thus allocates nothing and copies each float once
// per side (a LeNet step of 64 samples: 61,706 weights out, as many gradients back). The
// earlier protocol cloned fresh arrays each way and allocated them anew every step, which cost
// about 2 ms a step for the first hundred-odd steps; see docs/training.md, "Speed".
//
// Batch mode (batch norm in training mode: each instance keeps its share's samples in regions
// of their own and runs the module's stages, compiler/backends/wasm/grad-module.ts): at each
// batch norm exchange a helper sends its per-channel partial sums (f64 x 2C, a few hundred
// bytes) to the main thread and gets every thread's back, which it combines itself in thread
// order (batch-exchange.ts), as the main thread does: all threads get the same values. With
// one helper the main thread sends its own partials as soon as it has them, so neither
// waits for more than the other's message; with more, the helpers wait for the main thread
// to have them all. Then, as above, the losses and gradient sums come back in the buffer.
//
// The helpers are created from a source string (`eval` in Node, a Blob URL in browsers), like
// the inference runtime's thread pool, so that no bundler has to find a worker file.

import { startWorker } from "../../runtime/threads.js";
import type { BatchExchange } from "../backends/wasm/grad-module.js";
import { combineExchange } from "./batch-exchange.js";
import type { Batch } from "./trainer.js";

/** Positions of the output ([C, D..]) whose arg-max is the target class (t: one class per position). */
export function countCorrect(out: Float32Array, t: Float32Array, classes: number): number {
  const per = out.length / classes;
  let right = 0;
  for (let p = 0; p < per; p++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (out[c * per + p] > out[best * per + p]) best = c;
    if (best === t[p]) right++;
  }
  return right;
}

interface Region {
  readonly offset: number;
  readonly length: number;
}

/** What a helper needs to run samples: the module and where things are in its memory. */
export interface HelperSpec {
  readonly module: WebAssembly.Module;
  readonly memoryBytes: number;
  readonly tables: readonly { readonly offset: number; readonly data: Uint8Array }[];
  /** Every weight of the forward graph, in its order (floats). */
  readonly weights: readonly Region[];
  /** The gradient sums of the trained weights, in the trainer's order. */
  readonly grads: readonly Region[];
  readonly x: Region;
  readonly t: Region;
  readonly loss: number;
  readonly out: Region;
  readonly classes: number;
  readonly classifies: boolean;
  /**
   * Batch mode (batch norm in training mode): sample i's values are at the addresses above
   * plus i * stride (its region), the memory must reach start + count * stride, and each
   * exchange's f64 area (`floats` of them) is read after stage j and written before stage j + 1.
   */
  readonly batch?: { readonly start: number; readonly stride: number; readonly exchanges: readonly BatchExchange[] };
}

export interface ShareResult {
  /** Each sample's loss, in order (float32, as the module computes it). */
  readonly losses: Float32Array;
  readonly right: number;
  /** The share's gradient sums, per trained weight. */
  readonly grads: readonly Float32Array[];
}

// The buffer, in floats: out, [weights (every forward weight, packed in order)] [images,
// count x n] [targets, count x tl]; back, [losses, count] [gradient sums (packed in order)].
// The losses overwrite weights already copied in, the sums images already consumed.

/** Plain JavaScript, run by every helper (Node and browsers). */
const HELPER_SOURCE = `"use strict";
const countCorrect = ${countCorrect.toString()};
const combineExchange = ${combineExchange.toString()};
let post, spec, mem, exp, share;
const f32 = (r) => new Float32Array(mem.buffer, r.offset, r.length);
function init(d) {
  spec = d;
  mem = new WebAssembly.Memory({ initial: Math.ceil(d.memoryBytes / 65536), maximum: 32768 });
  const env = { memory: mem, exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log };
  exp = new WebAssembly.Instance(d.module, { env }).exports;
  for (const t of d.tables) new Uint8Array(mem.buffer, t.offset, t.data.byteLength).set(t.data);
  post({ ready: true });
}
function step(d) {
  const buf = new Float32Array(d.buffer), count = d.count;
  let at = 0;
  for (const r of spec.weights) {
    f32(r).set(buf.subarray(at, at + r.length));
    at += r.length;
  }
  exp.zero();
  const x = f32(spec.x), t = f32(spec.t), out = f32(spec.out);
  const loss = new Float32Array(mem.buffer, spec.loss, 1);
  const n = x.length, tl = t.length, targets = at + count * n;
  let right = 0;
  for (let i = 0; i < count; i++) {
    x.set(buf.subarray(at + i * n, at + (i + 1) * n));
    t.set(buf.subarray(targets + i * tl, targets + (i + 1) * tl));
    exp.sample();
    buf[i] = loss[0];
    if (spec.classifies) right += countCorrect(out, t, spec.classes);
  }
  exp.flush();
  at = count;
  for (const r of spec.grads) {
    buf.set(f32(r), at);
    at += r.length;
  }
  post({ buffer: d.buffer, right }, [d.buffer]);
}
// Batch mode: the share's samples into their regions, then stage by stage; after each stage
// but the last the exchange's partials go to the main thread, and the next stage waits for
// every thread's (the main thread's, and through it the other helpers'), which this thread
// combines itself, as every thread does, into the exchange's area.
function batchStart(d) {
  const buf = new Float32Array(d.buffer), count = d.count, b = spec.batch;
  const need = b.start + count * b.stride;
  if (need > mem.buffer.byteLength) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
  let at = 0;
  for (const r of spec.weights) {
    f32(r).set(buf.subarray(at, at + r.length));
    at += r.length;
  }
  const n = spec.x.length, tl = spec.t.length, targets = at + count * n;
  for (let i = 0; i < count; i++) {
    new Float32Array(mem.buffer, spec.x.offset + i * b.stride, n).set(buf.subarray(at + i * n, at + (i + 1) * n));
    new Float32Array(mem.buffer, spec.t.offset + i * b.stride, tl).set(buf.subarray(targets + i * tl, targets + (i + 1) * tl));
  }
  share = { buffer: d.buffer, count, index: d.index, counts: d.counts };
  exp.zero();
  exp.begin(count, d.total);
  stage(0);
}
function exchanged(d) {
  const e = spec.batch.exchanges[d.stage - 1];
  const area = new Float64Array(mem.buffer, e.offset, 2 * e.channels);
  const parts = d.parts;
  if (!parts[share.index]) parts[share.index] = area.slice();
  area.set(combineExchange(e, parts, share.counts));
  stage(d.stage);
}
function stage(j) {
  exp["stage_" + j]();
  const b = spec.batch, e = b.exchanges[j];
  if (e) {
    const partials = new Float64Array(mem.buffer, e.offset, 2 * e.channels).slice();
    post({ partials }, [partials.buffer]);
    return;
  }
  const buffer = share.buffer, count = share.count;
  const buf = new Float32Array(buffer), tl = spec.t.length, classes = spec.classes;
  let right = 0;
  for (let i = 0; i < count; i++) {
    buf[i] = new Float32Array(mem.buffer, spec.loss + i * b.stride, 1)[0];
    const t = new Float32Array(mem.buffer, spec.t.offset + i * b.stride, tl);
    if (spec.classifies) right += countCorrect(new Float32Array(mem.buffer, spec.out.offset + i * b.stride, spec.out.length), t, classes);
  }
  let at = count;
  for (const r of spec.grads) {
    buf.set(f32(r), at);
    at += r.length;
  }
  share = undefined;
  post({ buffer, right }, [buffer]);
}
function receive(d) {
  try {
    if (d.init) init(d.init);
    else if (d.stage !== undefined) exchanged(d);
    else if (d.total !== undefined) batchStart(d);
    else step(d);
  } catch (e) {
    post({ error: String((e && e.message) || e) });
  }
}
if (typeof require === "function" && typeof self === "undefined") {
  const { parentPort } = require("node:worker_threads");
  post = (m, transfer) => parentPort.postMessage(m, transfer);
  parentPort.on("message", receive);
} else {
  post = (m, transfer) => self.postMessage(m, transfer || []);
  self.onmessage = (e) => receive(e.data);
}
`;

interface Channel {
  post(message: unknown, transfer?: readonly ArrayBuffer[]): void;
  /** The helper's next message (the helper keeps Node alive until it comes). */
  next(): Promise<unknown>;
  terminate(): void;
}

async function startHelper(): Promise<Channel> {
  const waiting: ((m: unknown) => void)[] = [];
  const queued: unknown[] = [];
  const deliver = (m: unknown) => {
    const w = waiting.shift();
    if (w) w(m);
    else queued.push(m);
  };
  const w = await startWorker(HELPER_SOURCE, deliver, (message) => deliver({ error: message || "the helper failed" }));
  const next = async (): Promise<unknown> => {
    if (queued.length) return queued.shift();
    w.hold(true);
    try {
      return await new Promise<unknown>((resolve) => waiting.push(resolve));
    } finally {
      w.hold(false);
    }
  };
  return { post: (m, transfer) => w.post(m, transfer), next, terminate: () => w.terminate() };
}

function failure(m: unknown): string | undefined {
  if (typeof m !== "object" || m === null) return "no reply";
  const e = (m as { error?: unknown }).error;
  return e === undefined ? undefined : String(e);
}

/** Helper threads for a training step; the main thread is the first share. */
export class TrainHelpers {
  /** Each helper's buffer while it is here (undefined while the helper holds it, or after a failure). */
  private readonly buffers: (ArrayBuffer | undefined)[];
  private readonly weightFloats: number;

  private constructor(
    private readonly channels: readonly Channel[],
    private readonly spec: HelperSpec,
  ) {
    this.buffers = channels.map(() => undefined);
    this.weightFloats = spec.weights.reduce((a, r) => a + r.length, 0);
  }

  /** Starts `count` helpers, or says why they cannot run here. */
  static async start(count: number, spec: HelperSpec): Promise<TrainHelpers | string> {
    if (typeof Worker === "undefined" && !(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node) return "Web Workers are not available";
    const channels: Channel[] = [];
    try {
      for (let i = 0; i < count; i++) channels.push(await startHelper());
      for (const c of channels) c.post({ init: spec });
      for (const c of channels) {
        const why = failure(await c.next());
        if (why) throw new Error(why);
      }
    } catch (e) {
      for (const c of channels) c.terminate();
      return `a helper thread could not start: ${(e as Error).message}`;
    }
    return new TrainHelpers(channels, spec);
  }

  get count(): number {
    return this.channels.length;
  }

  /**
   * Runs samples [from, to) of `batch` on helper k for the k-th share (shares.length <= count),
   * with `weights` (every forward weight, in the spec's order). The results' arrays are views
   * of the helpers' buffers: read them before the next run, which moves the buffers out again.
   */
  async run(weights: readonly Float32Array[], batch: Batch, shares: readonly (readonly [number, number])[]): Promise<ShareResult[]> {
    this.send(weights, batch, shares);
    return this.results(shares);
  }

  /**
   * Batch mode: starts each share's stages (as `run`; besides, the batch's size, every
   * thread's sample count, `counts`, the main thread's first, and the share's place in them);
   * then `partials` and `answer` for each exchange in turn, and `results`.
   */
  startBatch(weights: readonly Float32Array[], batch: Batch, shares: readonly (readonly [number, number])[], counts: readonly number[]): void {
    this.send(weights, batch, shares, (k) => ({ total: batch.count, counts, index: k + 1 }));
  }

  /** Batch mode: each of the first `shares` helpers' partials of the exchange its stages stopped at. */
  async partials(shares: number): Promise<Float64Array[]> {
    const replies = await this.replies(shares);
    return replies.map((m) => (m as { partials: Float64Array }).partials);
  }

  /**
   * Batch mode: every thread's partials of the exchange, in thread order (a helper's own may
   * be null: it has them), to the first `shares` helpers, which combine them and go on to
   * stage `stage`.
   */
  answer(shares: number, parts: readonly (Float64Array | null)[], stage: number): void {
    for (let k = 0; k < shares; k++) this.channels[k].post({ stage, parts });
  }

  /** Posts each share its weights, images and targets (and, batch mode, the batch's size). */
  private send(weights: readonly Float32Array[], batch: Batch, shares: readonly (readonly [number, number])[], extra?: (k: number) => object): void {
    const n = this.spec.x.length;
    const tl = this.spec.t.length;
    shares.forEach(([from, to], k) => {
      const count = to - from;
      const floats = this.weightFloats + count * (n + tl);
      // Kept from the last step; a larger batch (or a lost buffer) takes a new one.
      let buffer = this.buffers[k];
      if (!buffer || buffer.byteLength < 4 * floats) buffer = new ArrayBuffer(4 * floats);
      this.buffers[k] = undefined;
      const f = new Float32Array(buffer);
      let at = 0;
      for (const w of weights) {
        f.set(w, at);
        at += w.length;
      }
      f.set(batch.images.subarray(from * n, to * n), at);
      at += count * n;
      // Float32 here, as the module's target is: the same rounding the helper's copy made.
      const labels = batch.labels;
      for (let i = from * tl; i < to * tl; i++) f[at++] = labels[i];
      this.channels[k].post({ buffer, count, ...extra?.(k) }, [buffer]);
    });
  }

  /**
   * The next message of the first `shares` helpers. Every reply is awaited before a failure
   * is thrown, so that no helper's message is left to be taken for the next.
   */
  private async replies(shares: number): Promise<unknown[]> {
    const replies = await Promise.all(Array.from({ length: shares }, (_, k) => this.channels[k].next()));
    const why = replies.map(failure).find((w) => w !== undefined);
    if (why) throw new Error(`a training helper thread failed: ${why}`);
    return replies;
  }

  /** Each share's losses, correct count and gradient sums (views of the buffers). */
  async results(shares: readonly (readonly [number, number])[]): Promise<ShareResult[]> {
    const replies = await this.replies(shares.length);
    return replies.map((m, k) => {
      const { buffer, right } = m as { buffer: ArrayBuffer; right: number };
      this.buffers[k] = buffer;
      const count = shares[k][1] - shares[k][0];
      let at = count;
      const grads = this.spec.grads.map((r) => {
        const g = new Float32Array(buffer, 4 * at, r.length);
        at += r.length;
        return g;
      });
      return { losses: new Float32Array(buffer, 0, count), right, grads };
    });
  }

  dispose(): void {
    for (const c of this.channels) c.terminate();
  }
}

/** Splits `count` samples into `parts` contiguous [from, to) ranges, the first ones a sample longer. */
export function splitSamples(count: number, parts: number): [number, number][] {
  const q = Math.floor(count / parts);
  const r = count % parts;
  const out: [number, number][] = [];
  let at = 0;
  for (let p = 0; p < parts; p++) {
    const n = q + (p < r ? 1 : 0);
    out.push([at, at + n]);
    at += n;
  }
  return out;
}
