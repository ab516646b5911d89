// Graph -> plan: lays out the weights blob (each weight once, however many nodes share it,
// 16-byte aligned), gives every value a buffer (flatten and reshape alias their input's
// buffer: same elements, another shape), lists one step per remaining node in graph order
// with its fused epilogue and algorithm, and places the buffers in the activation arena with
// the liveness-based memory plan (memory.ts). A node's fused list splits at its pool: the
// work before it is the step's epilogue, the pool (with the pre-pool shape it reads) and the
// activations after it are `step.pool`; only the pooled value gets a buffer.

import * as D from "../ir/dim.js";
import type { Dim } from "../ir/dim.js";
import type { Graph, Node, Weight } from "../ir/graph.js";
import { inferShape } from "../ir/shapes.js";
import type { SizeCheck } from "../../runtime/manifest.js";
import { planMemory } from "./memory.js";
import type { Epilogue, Plan, PlanWeight, Step, StepPool } from "./plan.js";

const align4 = (n: number) => Math.ceil(n / 4) * 4;

export interface PlanOptions {
  /** Liveness-based reuse of activation memory (off: every value its own buffer). */
  readonly reuseMemory: boolean;
}

export function buildPlan(graph: Graph, checks: readonly SizeCheck[], options: PlanOptions = { reuseMemory: true }): Plan {
  const weights = new Map<Weight, PlanWeight>();
  let weightElements = 0;
  for (const node of graph.nodes) {
    for (const w of Object.values(node.weights)) {
      if (!w || weights.has(w)) continue;
      weights.set(w, { name: w.name, offset: weightElements, shape: w.shape, length: w.data.length });
      weightElements += align4(w.data.length);
    }
  }
  const weightData = new Float32Array(weightElements);
  for (const [w, pw] of weights) weightData.set(w.data, pw.offset);

  const bufferOf = new Map<number, number>();
  const sizes: Dim[] = [];
  const newBuffer = (value: number): number => {
    sizes.push(D.product(graph.values[value].shape));
    bufferOf.set(value, sizes.length - 1);
    return sizes.length - 1;
  };
  for (const io of graph.inputs) newBuffer(io.value);

  const steps: Omit<Step, "id">[] = [];
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((v) => ({ buffer: bufferOf.get(v) as number, shape: graph.values[v].shape }));
    if ((node.op.kind === "flatten" || node.op.kind === "reshape") && !node.epilogue?.length) {
      bufferOf.set(node.output, inputs[0].buffer);
      continue;
    }
    const { epilogue, pool } = fusedWork(graph, node);
    const out = newBuffer(node.output);
    steps.push({
      layer: node.layer,
      op: node.op,
      inputs,
      output: { buffer: out, shape: graph.values[node.output].shape },
      weight: node.weights.weight ? weights.get(node.weights.weight) : undefined,
      bias: node.weights.bias ? weights.get(node.weights.bias) : undefined,
      mean: node.weights.running_mean ? weights.get(node.weights.running_mean) : undefined,
      variance: node.weights.running_var ? weights.get(node.weights.running_var) : undefined,
      epilogue,
      ...(pool ? { pool } : {}),
      algorithm: node.algorithm,
    });
  }
  const memory = planMemory(
    sizes,
    steps.map((s) => ({
      op: s.op,
      inputs: s.inputs.map((t) => t.buffer),
      output: s.output.buffer,
      sameShape: s.inputs.length > 0 && D.dimEquals(D.product(s.inputs[0].shape), D.product(s.output.shape)),
    })),
    graph.inputs.map((i) => bufferOf.get(i.value) as number),
    graph.outputs.map((o) => bufferOf.get(o.value) as number),
    options.reuseMemory,
  );
  const io = (x: { name: string; value: number }) => ({
    name: x.name,
    buffer: bufferOf.get(x.value) as number,
    shape: graph.values[x.value].shape,
  });
  return {
    name: graph.name,
    symbols: graph.symbols,
    inputs: graph.inputs.map(io),
    outputs: graph.outputs.map(io),
    buffers: memory.buffers,
    steps: steps.map((s, id) => ({ id, ...s })),
    weights: [...weights.values()],
    weightData,
    arenaElements: memory.arenaElements,
    unplannedElements: memory.unplannedElements,
    checks,
  };
}

/**
 * A node's fused list as the step's epilogue and pool. fuse.ts appends each residual operand
 * to the node's inputs, in the order of its adds, after the op's own inputs: the k-th add
 * reads input (own inputs + k).
 */
function fusedWork(graph: Graph, node: Node): { epilogue: Epilogue[]; pool?: StepPool } {
  const fused = node.epilogue ?? [];
  const adds = fused.filter((e) => e.kind === "add").length;
  const own = node.inputs.length - adds;
  const before: Epilogue[] = [];
  const after: Epilogue[] = [];
  let pool: { op: StepPool["op"]; inShape: StepPool["inShape"] } | undefined;
  let addIndex = 0;
  for (const e of fused) {
    if (e.kind === "pool") {
      if (pool) throw new Error(`internal error: layer ${node.layer} fuses two pools`);
      const r = inferShape(node.op, node.inputs.slice(0, own).map((v) => graph.values[v].shape));
      if (!r.ok) throw new Error(`internal error: layer ${node.layer}: ${r.message}`);
      pool = { op: e.op, inShape: r.shape };
    } else if (e.kind === "add") {
      if (pool) throw new Error(`internal error: layer ${node.layer} adds a residual after its fused pool`);
      const input = own + addIndex++;
      if (node.inputs[input] !== e.value) throw new Error(`internal error: layer ${node.layer}: residual %${e.value} is not input ${input}`);
      before.push({ kind: "add", input });
    } else (pool ? after : before).push({ kind: "activation", fn: e.fn, alpha: e.alpha, beta: e.beta });
  }
  return { epilogue: before, pool: pool && { ...pool, epilogue: after } };
}
