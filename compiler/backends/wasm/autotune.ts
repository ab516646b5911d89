// `--autotune` on WebAssembly (the wasm target's `autotune`): instead of estimating, time
// each applicable algorithm for a convolution layer on this machine and keep the fastest. The layer alone becomes a one-step plan (its weights,
// a seeded input; symbolic sizes at the cost model's nominal size; no epilogue, which costs
// the same whatever the algorithm), compiled by this backend (module.ts) and instantiated
// synchronously (Node allows synchronous compilation of any size) with V8's optimising
// compiler; each candidate runs once to warm up, then at least 3 times and for about 50 ms,
// and its median counts.

import { NOMINAL_SIZE } from "../../algorithms/applicability.js";
import { emitWasm } from "./module.js";
import { hasRelaxedSimd } from "../../../runtime/wasm.js";
import * as D from "../../ir/dim.js";
import type { AlgorithmChoice, AlgorithmName, Graph, Node } from "../../ir/graph.js";
import { inferShape } from "../../ir/shapes.js";
import type { Plan, PlanWeight } from "../../plan/plan.js";

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** A plan computing only this convolution with `name`. */
export function layerPlan(n: Node, g: Graph, name: AlgorithmName): Plan {
  const env = Object.fromEntries(g.symbols.map((s) => [s, NOMINAL_SIZE]));
  const inShape = D.evalDims(g.values[n.inputs[0]].shape, env);
  const r = inferShape(n.op, [inShape]);
  if (!r.ok) throw new Error(`internal error: layer ${n.layer}: ${r.message}`);
  const outShape = D.evalDims(r.shape, env);
  const weights: PlanWeight[] = [];
  const parts: Float32Array[] = [];
  let at = 0;
  const add = (role: "weight" | "bias"): PlanWeight | undefined => {
    const w = n.weights[role];
    if (!w) return undefined;
    const pw = { name: w.name, offset: at, shape: w.shape, length: w.data.length };
    weights.push(pw);
    parts.push(w.data);
    at += align4(w.data.length);
    return pw;
  };
  const weight = add("weight");
  const bias = add("bias");
  const weightData = new Float32Array(at);
  weights.forEach((w, i) => weightData.set(parts[i], w.offset));
  const inElements = D.product(inShape) as number;
  const outElements = D.product(outShape) as number;
  return {
    name: "autotune",
    symbols: [],
    inputs: [{ name: "x", buffer: 0, shape: inShape }],
    outputs: [{ name: "y", buffer: 1, shape: outShape }],
    buffers: [
      { id: 0, elements: inElements, offset: 0 },
      { id: 1, elements: outElements, offset: align4(inElements) },
    ],
    steps: [
      {
        id: 0,
        layer: n.layer,
        op: n.op,
        inputs: [{ buffer: 0, shape: inShape }],
        output: { buffer: 1, shape: outShape },
        weight,
        bias,
        epilogue: [],
        algorithm: { name, reason: "autotune" },
      },
    ],
    weights,
    weightData,
    arenaElements: align4(inElements) + align4(outElements),
    unplannedElements: align4(inElements) + align4(outElements),
    checks: [],
  };
}

// V8's flags (below), in Node only: read through a computed specifier so that the browser
// entry's bundle carries no node: module; a browser's autotune times whatever tier runs.
const v8Name = "node:v8";
const v8 = typeof process !== "undefined" && process.versions?.node ? ((await import(/* @vite-ignore */ v8Name)) as typeof import("node:v8")) : undefined;

const math = { exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log };

/** Median ms of one run of the plan's module (seeded input). */
export function timePlan(plan: Plan, minRuns = 3, minMs = 50): number {
  const { binary, relaxed, tables, manifest } = emitWasm(plan);
  // Time what will run here: the relaxed-SIMD build where this engine has relaxed SIMD.
  const code = relaxed && hasRelaxedSimd() ? relaxed : binary;
  // V8 compiles with its baseline compiler first and optimises a function only after many
  // runs of it; timing that would rank compilers, not algorithms. Optimise from the start,
  // for this module only.
  v8?.setFlagsFromString("--no-liftoff");
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(new Uint8Array(code));
  } finally {
    v8?.setFlagsFromString("--liftoff");
  }
  // The module imports its memory (module.ts).
  const memory = new WebAssembly.Memory({ initial: manifest.memoryPages, maximum: 2 ** 15 });
  const instance = new WebAssembly.Instance(module, { env: { ...math, memory } });
  const run = instance.exports.run as () => void;
  const bytes = D.evalDim(manifest.memoryBytes, {});
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  new Float32Array(memory.buffer, manifest.weightsOffset, plan.weightData.length).set(plan.weightData);
  if (manifest.tables) new Uint8Array(memory.buffer, manifest.tables.offset, manifest.tables.bytes).set(tables);
  const io = manifest.inputs[0];
  const x = new Float32Array(memory.buffer, D.evalDim(io.offset, {}), D.evalDim(D.product(io.shape), {}));
  let s = 1;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || (performance.now() - start < minMs && times.length < 25)) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const fmt = (ms: number) => (ms >= 10 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toPrecision(2)) + " ms";

/** Times every candidate for the layer and picks the fastest. */
export function autotune(n: Node, g: Graph, names: readonly AlgorithmName[]): AlgorithmChoice {
  const timed = names.map((name) => ({ name, ms: timePlan(layerPlan(n, g, name)) })).sort((a, b) => a.ms - b.ms);
  const [best, ...rest] = timed;
  const symbolic = g.values[n.inputs[0]].shape.some((d) => typeof d !== "number");
  return {
    name: best.name,
    reason: `autotuned: ${fmt(best.ms)} vs ${rest.map((c) => `${fmt(c.ms)} ${c.name}`).join(", ")}${symbolic ? ` (timed at ${NOMINAL_SIZE} per symbolic size)` : ""}`,
  };
}
