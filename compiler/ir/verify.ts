// Invariants every graph keeps between passes: nodes in an order where each input is
// computed before it is read, every value computed once, outputs computed, shapes equal to
// what the shape rules (and fused work) give. Returns the problems found, for the pipeline
// to report as an internal error.

import * as D from "./dim.js";
import { type Graph, ownInputs } from "./graph.js";
import { inferShape } from "./shapes.js";

export function verifyGraph(g: Graph): string[] {
  const problems: string[] = [];
  const ready = new Set(g.inputs.map((i) => i.value));
  for (const n of g.nodes) {
    for (const v of n.inputs) if (!ready.has(v)) problems.push(`node ${n.layer} reads %${v} before it is computed`);
    if (ready.has(n.output)) problems.push(`%${n.output} is computed twice`);
    let r = inferShape(n.op, ownInputs(n).map((v) => g.values[v].shape));
    for (const e of n.epilogue ?? []) {
      if (!r.ok) break;
      if (e.kind === "pool") r = inferShape(e.op, [r.shape]);
      else if (e.kind === "add" && !D.dimEquals(D.product(r.shape), D.product(g.values[e.value].shape))) {
        problems.push(`node ${n.layer} adds %${e.value} of another size`);
      }
    }
    const want = g.values[n.output].shape;
    if (!r.ok) problems.push(`node ${n.layer}: ${r.message}`);
    else if (r.shape.length !== want.length || r.shape.some((d, i) => !D.dimEquals(d, want[i]))) {
      problems.push(`node ${n.layer} computes ${D.printShape(r.shape)} but %${n.output} is ${D.printShape(want)}`);
    }
    ready.add(n.output);
  }
  for (const o of g.outputs) if (!ready.has(o.value)) problems.push(`output ${o.name} (%${o.value}) is never computed`);
  return problems;
}
