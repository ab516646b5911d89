// Graph -> plan: lays out the weights blob (each weight once, however many nodes share it,
// 16-byte aligned), gives every value a buffer (flatten and reshape alias their input's
// buffer: same elements, another shape), lists one step per remaining node in graph order
// with its fused epilogue and algorithm, and places the buffers in the activation arena with
// the liveness-based memory plan (memory.ts).

import * as D from "../ir/dim.js";
import type { Dim } from "../ir/dim.js";
import type { Graph, Weight } from "../ir/graph.js";
import type { SizeCheck } from "../../runtime/manifest.js";
import { planMemory } from "./memory.js";
import type { Epilogue, Plan, PlanWeight, Step } from "./plan.js";

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
    const epilogue = (node.epilogue ?? []).map((e): Epilogue => {
      if (e.kind !== "activation") throw new Error(`internal error: the plan cannot carry fused ${e.kind} yet (layer ${node.layer})`);
      return { kind: "activation", fn: e.fn, alpha: e.alpha };
    });
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
