// Multithreaded WebAssembly (issue 6), the runtime's side: `load({ threads: n })`.
//
// The compiled module imports its memory (env.memory) and exports, besides `run`,
// `step(i, syms..., tid, part, parts)`; the manifest lists which steps split their work
// (compiler/backends/wasm/threads.ts: part p of `parts` is a contiguous share of the step's
// outermost parallel loop, writing only its share of the output; `tid` picks the thread's own
// scratch). Here the main thread instantiates the module over a shared memory, starts n - 1
// workers (Node worker_threads, or Web Workers in a cross-origin isolated page) that
// instantiate the same compiled module over the same memory, and drives the steps itself.
// A step that splits is cut into PARTS_PER_THREAD * n parts and announced to the workers
// through a small control block (a generation counter they watch); then every thread, the
// main one included, claims parts one at a time (a compare-and-swap on a word holding the
// generation and the next part, so a late worker can never claim a part of a later step)
// until none is left, and the main thread waits until every part is done. A worker the OS is
// slow to wake (a busy machine) thus costs at most the part it claimed, never half the step,
// and if it never comes the main thread does all the parts itself. Every other step runs on
// the main thread alone. Why the JS side coordinates rather than a barrier inside the module:
// the main thread of a browser may not block (no Atomics.wait, nor memory.atomic.wait32),
// small steps need no meeting at all, and the module stays free of atomics.
//
// Waiting is a spin on Atomics.load, then Atomics.wait where the agent may block (workers,
// Node's main thread); in a browser's main thread the spin simply continues. A worker spins
// for WORKER_SPIN_MS of wall time after its last part, not a count of loads: long enough to
// stay hot across the steps that run on the main thread alone and from one inference to the
// next when they follow each other (waking a sleeping worker costs tens of microseconds, and
// on a busy machine a whole time slice), short enough that an idle network stops using a
// core within a couple of milliseconds (pthreadpool, under XNNPACK, spins likewise). A
// worker that traps sets the control block's error word and still counts its part done, so
// the main thread never waits forever.
//
// The module's memory import is declared non-shared; for threads the runtime flips the import's
// limits flag to shared (one byte, `sharedMemoryImport`), so one binary serves both. Workers
// are created from a source string (a Blob URL in browsers, `eval` in Node) so that a bundle
// needs no extra file and the runtime no knowledge of where it was installed. This file ships
// in a bundle only when it was compiled with --threads (the generated index.js hands
// `threadSupport` to the WebAssembly backend); node:worker_threads is imported through a
// computed specifier that bundlers for the web leave alone.

import type { ThreadSupport } from "./wasm.js";

/** Control block words (Int32): generation, step, parts, error; the claim word and the done count on their own cache lines; the symbols. */
const GEN = 0;
const STEP = 1;
const PARTS = 2;
const ERROR = 3;
const NEXT = 16;
const DONE = 32;
const SYMS = 48;
/** The main thread's Atomics.load spins before blocking while it waits for the last parts: some tens of microseconds. */
const SPIN = 20000;
/** How long a worker stays hot (spinning) after its last part before it sleeps in Atomics.wait. */
const WORKER_SPIN_MS = 2;
/** A split step whose parts make no progress for this long has lost a worker (no one part of a step takes a minute). */
const STALL_MS = 60_000;
/** Parts per thread of a split step: enough that a late or slow thread costs little, few enough that a part's fixed cost is nothing. */
const PARTS_PER_THREAD = 8;
/** The claim word: generation (15 bits) << 16 | next part (parts < 2^16). */
const GEN_MASK = 0x7fff;

/** Claims and runs parts of the current step until none is left (shared by the workers, as source, and the main thread). */
function claimParts(ctl: Int32Array, gen: number, parts: number, run: (part: number) => void): void {
  for (;;) {
    const v = Atomics.load(ctl, NEXT);
    if (v >>> 16 !== (gen & GEN_MASK) || (v & 0xffff) >= parts) return;
    if (Atomics.compareExchange(ctl, NEXT, v, v + 1) !== v) continue;
    try {
      run(v & 0xffff);
    } catch {
      Atomics.store(ctl, ERROR, 1);
    }
    Atomics.add(ctl, DONE, 1);
  }
}

/** Plain JavaScript, run by every worker (Node and browsers). */
const WORKER_SOURCE = `"use strict";
const GEN = ${GEN}, STEP = ${STEP}, PARTS = ${PARTS}, ERROR = ${ERROR}, NEXT = ${NEXT}, DONE = ${DONE}, SYMS = ${SYMS}, WORKER_SPIN_MS = ${WORKER_SPIN_MS}, GEN_MASK = ${GEN_MASK};
const claimParts = ${claimParts.toString()};
let post, close;
function start(data) {
  const { module, memory, control, tid, symbols } = data;
  const env = { exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log, memory };
  let step;
  try {
    step = new WebAssembly.Instance(module, { env }).exports.step;
  } catch (e) {
    post({ error: String((e && e.message) || e) });
    return;
  }
  const ctl = new Int32Array(control);
  const args = new Array(symbols + 4);
  let seen = Atomics.load(ctl, GEN);
  post({ ready: true });
  for (;;) {
    // Hot for WORKER_SPIN_MS (the clock read every 1024 loads), then asleep until notified.
    const until = performance.now() + WORKER_SPIN_MS;
    let spins = 0;
    let hot = true;
    while (Atomics.load(ctl, GEN) === seen) {
      if (hot && (++spins & 1023) === 0) hot = performance.now() < until;
      if (!hot) Atomics.wait(ctl, GEN, seen);
    }
    const gen = Atomics.load(ctl, GEN);
    seen = gen;
    const index = ctl[STEP];
    if (index < 0) break;
    const parts = ctl[PARTS];
    args[0] = index;
    for (let i = 0; i < symbols; i++) args[i + 1] = ctl[SYMS + i];
    args[symbols + 1] = tid;
    args[symbols + 3] = parts;
    // Parameters read while the main thread had moved on belong to no part this worker can claim.
    if (Atomics.load(ctl, GEN) !== gen) continue;
    claimParts(ctl, gen, parts, (part) => {
      args[symbols + 2] = part;
      step(...args);
    });
    Atomics.notify(ctl, DONE);
  }
  close();
}
if (typeof require === "function" && typeof self === "undefined") {
  const { parentPort } = require("node:worker_threads");
  post = (m) => parentPort.postMessage(m);
  close = () => parentPort.close();
  parentPort.once("message", start);
} else {
  post = (m) => self.postMessage(m);
  close = () => self.close();
  self.onmessage = (e) => start(e.data);
}
`;

type StepFn = (...args: number[]) => void;

/** One worker, Node's or the browser's, reduced to what the pool needs. */
interface ThreadHandle {
  post(message: unknown): void;
  /** Resolves on the worker's first message: ready, or why not. */
  readonly ready: Promise<void>;
  terminate(): void;
}

/** Why this environment cannot run threads, or undefined when it can. */
export function threadsUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer === "undefined") return "SharedArrayBuffer is not available (a browser page needs cross-origin isolation: COOP and COEP headers)";
  const g = globalThis as { crossOriginIsolated?: boolean; process?: { versions?: { node?: string } } };
  const node = !!g.process?.versions?.node;
  if (!node && g.crossOriginIsolated === false) return "the page is not cross-origin isolated (shared memory needs COOP and COEP headers)";
  if (!node && typeof Worker === "undefined") return "Web Workers are not available";
  return undefined;
}

/** The module with its memory import marked shared (the limits flag 1 -> 3: has a maximum, shared). */
export function sharedMemoryImport(wasm: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(wasm.byteLength));
  out.set(wasm);
  let p = 8;
  const leb = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = out[p++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return v;
    }
  };
  const name = () => {
    const n = leb();
    p += n;
  };
  const limits = () => {
    const flag = out[p++];
    leb();
    if (flag & 1) leb();
  };
  while (p < out.length) {
    const id = out[p++];
    const size = leb();
    const end = p + size;
    if (id !== 2) {
      p = end;
      continue;
    }
    const count = leb();
    for (let i = 0; i < count; i++) {
      name();
      name();
      const kind = out[p++];
      if (kind === 0) leb();
      else if (kind === 1) {
        p++;
        limits();
      } else if (kind === 3) p += 2;
      else if (kind === 2) {
        if (out[p] !== 1) throw new Error("the module's memory import has no maximum; was it compiled by cnnc?");
        out[p] = 3;
        return out;
      } else throw new Error(`unknown import kind ${kind} in the WebAssembly module`);
    }
    break;
  }
  throw new Error("the WebAssembly module imports no memory; was it compiled by cnnc?");
}

/** A worker running `source`: Node worker_threads (eval, unref'd) or a Web Worker from a Blob URL. */
export interface WorkerChannel {
  /** `transfer`: buffers moved to the worker, not copied (they are detached here). */
  post(message: unknown, transfer?: readonly ArrayBuffer[]): void;
  terminate(): void;
  /**
   * Node: whether the worker keeps the process alive. Idle, it must not; while the caller
   * awaits a reply, it must, or Node ends the process mid-await. A no-op in browsers.
   */
  hold(on: boolean): void;
}

/** Starts a worker on `source`; its messages and errors go to the callbacks. */
export async function startWorker(source: string, onMessage: (m: unknown) => void, onError: (message: string) => void): Promise<WorkerChannel> {
  const g = globalThis as { process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node) {
    const workerThreads = "node:worker_threads";
    const { Worker: NodeWorker } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ workerThreads)) as typeof import("node:worker_threads");
    // The source is a CommonJS script: a parent started with --input-type=module (node -e)
    // would pass that on and make it a module, without `require`.
    const proc = (globalThis as { process?: { execArgv?: string[] } }).process;
    const execArgv = (proc?.execArgv ?? []).filter((a) => !a.startsWith("--input-type"));
    const w = new NodeWorker(source, { eval: true, execArgv });
    w.on("message", onMessage);
    // Kept after start: a worker's error must not become the process's uncaught exception.
    w.on("error", (e: Error) => onError(e.message));
    // Idle workers must not keep a Node process alive. After the listeners: adding a message
    // listener refs the worker's port again.
    w.unref();
    return { post: (m, transfer) => w.postMessage(m, transfer ? [...transfer] : undefined), terminate: () => void w.terminate(), hold: (on) => (on ? w.ref() : w.unref()) };
  }
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const w = new Worker(url);
  // Revoked once the worker speaks (it has fetched its script by then), not before: a browser
  // may still be fetching it when the constructor returns.
  let revoked = false;
  const revoke = () => {
    if (!revoked) URL.revokeObjectURL(url);
    revoked = true;
  };
  w.onmessage = (e: MessageEvent) => {
    revoke();
    onMessage(e.data);
  };
  w.onerror = (e) => {
    revoke();
    onError(e.message || "the worker failed");
  };
  return { post: (m, transfer) => w.postMessage(m, transfer ? [...transfer] : []), terminate: () => w.terminate(), hold: () => {} };
}

async function startThread(source: string): Promise<ThreadHandle> {
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  let started = false;
  const w = await startWorker(
    source,
    (m) => {
      if (started) return;
      started = true;
      if (isReady(m)) settle?.resolve();
      else settle?.reject(new Error(workerError(m)));
    },
    (message) => settle?.reject(new Error(message || "the worker failed to start")),
  );
  // Alive while it starts (the caller awaits `ready`), idle after.
  w.hold(true);
  void ready.then(
    () => w.hold(false),
    () => w.hold(false),
  );
  return { post: (m) => w.post(m), ready, terminate: () => w.terminate() };
}

function isReady(m: unknown): boolean {
  return typeof m === "object" && m !== null && (m as { ready?: unknown }).ready === true;
}

function workerError(m: unknown): string {
  const e = typeof m === "object" && m !== null ? (m as { error?: unknown }).error : undefined;
  return `a worker could not start: ${typeof e === "string" ? e : "no reason given"}`;
}

/** Whether this agent may block in Atomics.wait (not a browser's main thread). */
function agentCanBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** n - 1 workers over the shared memory, and the main thread's side of every step. */
export class ThreadPool {
  private readonly ctl: Int32Array;
  private readonly canBlock = agentCanBlock();
  private gen = 0;
  private closed = false;

  private constructor(
    private readonly threads: readonly ThreadHandle[],
    control: SharedArrayBuffer,
    private readonly step: StepFn,
    private readonly parallel: readonly boolean[],
    readonly count: number,
  ) {
    this.ctl = new Int32Array(control);
  }

  /** Starts n - 1 workers running the compiled shared-memory `module`; `step` is the main thread's own export. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, step: StepFn, parallel: readonly boolean[], symbols: number, n: number): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(4 * (SYMS + symbols));
    // Every worker that did start is stopped again if another one could not.
    const started = await Promise.allSettled(Array.from({ length: n - 1 }, () => startThread(WORKER_SOURCE)));
    const handles = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      handles.forEach((h) => h.terminate());
      throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    }
    try {
      handles.forEach((h, i) => h.post({ module, memory, control, tid: i + 1, symbols }));
      await Promise.all(handles.map((h) => h.ready));
    } catch (e) {
      handles.forEach((h) => h.terminate());
      throw e;
    }
    return new ThreadPool(handles, control, step, parallel, n);
  }

  /** Runs every step for the bound symbols. */
  run(steps: number, syms: readonly number[]): void {
    if (this.closed) throw new Error("this network was disposed");
    const ctl = this.ctl;
    const parts = Math.min(0xffff, PARTS_PER_THREAD * this.count);
    for (let i = 0; i < steps; i++) {
      if (!this.parallel[i]) {
        this.step(i, ...syms, 0, 0, 1);
        continue;
      }
      // Publish the step, then its claim word, then the generation (seq-cst stores: a worker
      // that sees the generation sees everything before it, the memory the step reads included).
      const gen = (this.gen = (this.gen + 1) & GEN_MASK);
      ctl[STEP] = i;
      ctl[PARTS] = parts;
      syms.forEach((v, k) => (ctl[SYMS + k] = v));
      Atomics.store(ctl, DONE, 0);
      Atomics.store(ctl, NEXT, gen << 16);
      Atomics.store(ctl, GEN, gen);
      Atomics.notify(ctl, GEN);
      let trap: unknown;
      claimParts(ctl, gen, parts, (part) => {
        try {
          this.step(i, ...syms, 0, part, parts);
        } catch (e) {
          trap = e;
          throw e;
        }
      });
      this.meet(i, parts);
      if (Atomics.load(ctl, ERROR)) {
        Atomics.store(ctl, ERROR, 0);
        // The main thread's own trap says what happened; a worker's is only known to have happened.
        throw new Error(`step ${i} trapped ${trap instanceof Error ? `on the main thread: ${trap.message}` : "on a worker thread"}`);
      }
    }
  }

  /**
   * Waits until every part of step `i` is done (the last ones may be on workers). A worker that
   * died holding a part (killed by the host, out of memory) would leave the count short
   * forever; events cannot reach this synchronous loop, so no progress for STALL_MS ends the
   * pool with an error instead of a hang.
   */
  private meet(i: number, parts: number): void {
    const ctl = this.ctl;
    let spins = 0;
    let last = Atomics.load(ctl, DONE);
    let since = Date.now();
    for (;;) {
      const d = Atomics.load(ctl, DONE);
      if (d >= parts) return;
      if (d !== last) {
        last = d;
        since = Date.now();
      } else if (++spins > SPIN) {
        if (this.canBlock) Atomics.wait(ctl, DONE, d, 1);
        if (Date.now() - since > STALL_MS) {
          this.dispose();
          throw new Error(`step ${i}: a worker thread stopped responding (${parts - d} of ${parts} parts not done after ${STALL_MS / 1000} s); load the network again`);
        }
      }
    }
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctl[STEP] = -1;
    Atomics.store(this.ctl, GEN, (this.gen + 1) & GEN_MASK);
    Atomics.notify(this.ctl, GEN);
    this.threads.forEach((t) => t.terminate());
  }
}

/** What the WebAssembly executor needs to run on threads (runtime/wasm.ts's wasmBackend(threadSupport)). */
export const threadSupport: ThreadSupport = {
  unavailable: threadsUnavailable,
  sharedMemoryImport,
  start: (module, memory, step, parallel, symbols, n) => ThreadPool.start(module, memory, step, parallel, symbols, n),
};
