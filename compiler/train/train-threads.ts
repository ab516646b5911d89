// Data-parallel training steps on WebAssembly threads: the batch's samples are split between
// the main thread and helper workers, each with its own instance of the same compiled step
// (its own memory: one sample's values, its own gradient sums). Per step the main thread sends
// each helper the current weights and its samples, runs its own share meanwhile, then adds the
// helpers' gradient sums to its own and makes the update alone, so the weights and the
// optimiser state live in one place. Messages, not shared memory: a LeNet step of 64 samples
// moves about 0.5 MB per helper (weights out, gradients back) against milliseconds of work, and
// needs no cross-origin isolation in a browser.
//
// The helpers are created from a source string (`eval` in Node, a Blob URL in browsers), like
// the inference runtime's thread pool, so that no bundler has to find a worker file.

import { startWorker } from "../../runtime/threads.js";

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
}

/** One helper's share of a step. */
export interface Share {
  readonly weights: readonly Float32Array[];
  readonly images: Float32Array;
  readonly labels: Float64Array;
  readonly count: number;
}

export interface ShareResult {
  /** Each sample's loss, in order. */
  readonly losses: Float64Array;
  readonly right: number;
  /** The share's gradient sums, per trained weight. */
  readonly grads: readonly Float32Array[];
}

/** Plain JavaScript, run by every helper (Node and browsers). */
const HELPER_SOURCE = `"use strict";
const countCorrect = ${countCorrect.toString()};
let post, spec, mem, exp;
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
  d.weights.forEach((w, k) => f32(spec.weights[k]).set(w));
  exp.zero();
  const x = f32(spec.x), t = f32(spec.t), out = f32(spec.out);
  const loss = new Float32Array(mem.buffer, spec.loss, 1);
  const n = x.length, tl = t.length;
  const losses = new Float64Array(d.count);
  let right = 0;
  for (let i = 0; i < d.count; i++) {
    x.set(d.images.subarray(i * n, (i + 1) * n));
    for (let k = 0; k < tl; k++) t[k] = d.labels[i * tl + k];
    exp.sample();
    losses[i] = loss[0];
    if (spec.classifies) right += countCorrect(out, t, spec.classes);
  }
  exp.flush();
  const grads = spec.grads.map((g) => Float32Array.from(f32(g)));
  post({ losses, right, grads }, [losses.buffer, ...grads.map((g) => g.buffer)]);
}
function receive(d) {
  try {
    if (d.init) init(d.init);
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
  post = (m, transfer) => self.postMessage(m, transfer);
  self.onmessage = (e) => receive(e.data);
}
`;

interface Channel {
  post(message: unknown): void;
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
  return { post: (m) => w.post(m), next, terminate: () => w.terminate() };
}

function failure(m: unknown): string | undefined {
  if (typeof m !== "object" || m === null) return "no reply";
  const e = (m as { error?: unknown }).error;
  return e === undefined ? undefined : String(e);
}

/** Helper threads for a training step; the main thread is the first share. */
export class TrainHelpers {
  private constructor(private readonly channels: readonly Channel[]) {}

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
    return new TrainHelpers(channels);
  }

  get count(): number {
    return this.channels.length;
  }

  /** Runs one share on each helper (shares.length <= count). */
  async run(shares: readonly Share[]): Promise<ShareResult[]> {
    shares.forEach((s, i) => this.channels[i].post(s));
    const replies = await Promise.all(shares.map((_, i) => this.channels[i].next()));
    return replies.map((m) => {
      const why = failure(m);
      if (why) throw new Error(`a training helper thread failed: ${why}`);
      return m as ShareResult;
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
