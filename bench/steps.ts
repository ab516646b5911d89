// Where the time of one inference goes, step by step, and what splitting it across threads
// can buy at best (issue 14: two threads gave only 1.3x on small networks). Each network's
// module is instantiated on one thread and every step is called on its own through the
// `step(i, syms..., tid, part, parts)` export the thread pool drives, so the numbers need no
// second core: a step's time whole, the sum of its parts cut as the runtime cuts them for
// two threads (16 parts: what a split costs in repeated per-part set-up), and the larger of
// its two halves (how evenly it splits). The bound for two threads assumes perfect overlap:
// steps that do not split run whole, split ones take max(half, sum of parts / 2). Times are
// the minimum over many calls (a busy machine only adds time), per step in microseconds.
//
//   npm run bench -- --steps [--only lenet,mobilenet_block] [--reps N]

import { compile, formatDiagnostics } from "../compiler/index.js";
import { evalDim } from "../compiler/ir/dim.js";
import { findNetwork, input, NETWORKS, POOL_NETWORKS, weights } from "./networks.js";
import { safetensorsFor } from "./peers/cnnc.js";

/** The runtime's parts per thread (runtime/threads.ts PARTS_PER_THREAD) for two threads. */
const PARTS_TWO_THREADS = 16;

type StepFn = (...args: number[]) => void;

function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

interface StepTime {
  readonly name: string;
  readonly parallel: boolean;
  readonly whole: number;
  readonly parts: number;
  readonly half: number;
}

/** Minimum over `reps` rounds of `f` (each round long enough to time: at least 0.2 ms). */
function minTime(f: () => void, reps: number): number {
  f();
  let inner = 1;
  for (let t = performance.now(); performance.now() - t < 0.2; inner++) f();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) f();
    best = Math.min(best, (performance.now() - t) / inner);
  }
  return best;
}

async function profile(name: string, reps: number): Promise<{ steps: StepTime[]; whole: number }> {
  const spec = findNetwork(name);
  if (!spec) throw new Error(`unknown network ${name}`);
  const r = compile(spec.source, { fileName: `${name}.cnn`, weights: safetensorsFor(weights(spec)) });
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics));
  const m = r.artifacts.manifest.wasm;
  const wasm = r.artifacts.wasm;
  if (!m || !wasm) throw new Error(`${name}: no WebAssembly module`);
  if (r.plan.symbols.length) throw new Error(`${name}: symbolic sizes are not profiled`);
  const bytes = evalDim(m.memoryBytes, {}) + evalDim(m.threadBytes, {});
  const memory = new WebAssembly.Memory({ initial: Math.max(m.memoryPages, Math.ceil(bytes / 65536) + 1), maximum: 32768 });
  const env = { exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log, memory };
  const exports = (await WebAssembly.instantiate(await WebAssembly.compile(new Uint8Array(wasm)), { env })).exports;
  const step = exports.step as StepFn;
  const run = exports.run as StepFn;
  const w = r.artifacts.weights;
  new Uint8Array(memory.buffer, m.weightsOffset, w.byteLength).set(w);
  if (m.tables && r.artifacts.tables) new Uint8Array(memory.buffer, m.tables.offset, m.tables.bytes).set(r.artifacts.tables);
  new Float32Array(memory.buffer, evalDim(m.inputs[0].offset, {}), input(spec).length).set(input(spec));
  const steps = r.plan.steps.map((s, i): StepTime => {
    const parallel = m.parallel[i];
    const whole = minTime(() => step(i, 0, 0, 1), reps);
    if (!parallel) return { name: `${s.layer || s.op.kind} (${s.algorithm?.name ?? s.op.kind})`, parallel, whole, parts: whole, half: whole };
    let parts = 0;
    for (let p = 0; p < PARTS_TWO_THREADS; p++) parts += minTime(() => step(i, 0, p, PARTS_TWO_THREADS), reps);
    const half = Math.max(minTime(() => step(i, 0, 0, 2), reps), minTime(() => step(i, 0, 1, 2), reps));
    return { name: `${s.layer || s.op.kind} (${s.algorithm?.name ?? s.op.kind}${s.pool ? " + pool" : ""})`, parallel, whole, parts, half };
  });
  return { steps, whole: minTime(() => run(), reps) };
}

const us = (ms: number): string => (ms * 1000).toFixed(1);

export async function main(argv: readonly string[]): Promise<number> {
  const only = option(argv, "--only")?.split(",");
  const reps = Number(option(argv, "--reps") ?? 30);
  const names = only ?? [...NETWORKS, ...POOL_NETWORKS].map((n) => n.name);
  const out: string[] = [];
  for (const name of names) {
    process.stderr.write(`${name} ...\n`);
    const { steps, whole } = await profile(name, reps);
    const sum = steps.reduce((a, s) => a + s.whole, 0);
    const two = steps.reduce((a, s) => a + (s.parallel ? Math.max(s.half, s.parts / 2) : s.whole), 0);
    out.push(`### ${name}: run() ${us(whole)} us, steps ${us(sum)} us; two threads at best ${us(two)} us = ${(sum / two).toFixed(2)}x`, "");
    out.push("| step | split | whole, us | 16 parts summed, us | larger half, us | share of the inference |", "| --- | --- | ---: | ---: | ---: | ---: |");
    for (const s of steps) {
      out.push(`| ${s.name} | ${s.parallel ? "yes" : "no"} | ${us(s.whole)} | ${s.parallel ? us(s.parts) : "-"} | ${s.parallel ? us(s.half) : "-"} | ${((100 * s.whole) / sum).toFixed(1)}% |`);
    }
    out.push("");
  }
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
