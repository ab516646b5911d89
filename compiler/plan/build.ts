// Graph -> plan: lays out the weights blob (each weight once, however many nodes share it,
// 16-byte aligned), gives every value a buffer in the activation arena (flatten and reshape
// alias their input's buffer: same elements, another shape), and lists one step per
// remaining node in graph order. Buffers are placed one after another for now; the memory
// planning pass replaces this layout with a liveness-based one.

import * as D from "../ir/dim.js";
import type { Dim } from "../ir/dim.js";
import type { Graph, Weight } from "../ir/graph.js";
import type { SizeCheck } from "../../runtime/manifest.js";
import type { Plan, PlanBuffer, PlanWeight, Step } from "./plan.js";

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** The aligned size of a buffer: a multiple of 4 elements (16 bytes), symbolic or not. */
export function alignedElements(d: Dim): Dim {
  return D.mul(D.ceildiv(d, 4), 4);
}

export function buildPlan(graph: Graph, checks: readonly SizeCheck[]): Plan {
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
  const buffers: PlanBuffer[] = [];
  let arena: Dim = 0;
  const newBuffer = (value: number): number => {
    const elements = D.product(graph.values[value].shape);
    const id = buffers.length;
    buffers.push({ id, elements, offset: arena });
    arena = D.add(arena, alignedElements(elements));
    bufferOf.set(value, id);
    return id;
  };
  for (const io of graph.inputs) newBuffer(io.value);

  const steps: Step[] = [];
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((v) => ({ buffer: bufferOf.get(v) as number, shape: graph.values[v].shape }));
    if (node.op.kind === "flatten" || node.op.kind === "reshape") {
      bufferOf.set(node.output, inputs[0].buffer);
      continue;
    }
    const out = newBuffer(node.output);
    steps.push({
      id: steps.length,
      layer: node.layer,
      op: node.op,
      inputs,
      output: { buffer: out, shape: graph.values[node.output].shape },
      weight: node.weights.weight ? weights.get(node.weights.weight) : undefined,
      bias: node.weights.bias ? weights.get(node.weights.bias) : undefined,
      epilogue: [],
    });
  }
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
    buffers,
    steps,
    weights: [...weights.values()],
    weightData,
    arenaElements: arena,
    checks,
  };
}
