// Algebraic clean-ups that need no numbers: an identity activation is its input; a reshape or
// flatten of a reshape or flatten is one reshape of the original (same elements, row-major);
// a flatten or reshape to the shape the value already has is nothing.

import * as D from "../ir/dim.js";
import type { Graph, Node } from "../ir/graph.js";
import type { Pass } from "./pass.js";
import { rewire } from "./pass.js";

const isView = (n: Node) => n.op.kind === "flatten" || n.op.kind === "reshape";

export const simplify: Pass = {
  name: "simplify",
  run(g: Graph): Graph {
    const replace = new Map<number, number>();
    const byOutput = new Map<number, Node>();
    const nodes: Node[] = [];
    const resolve = (v: number): number => (replace.has(v) ? resolve(replace.get(v) as number) : v);
    for (const n0 of g.nodes) {
      let n: Node = { ...n0, inputs: n0.inputs.map(resolve) };
      const x = n.inputs[0];
      const same = (a: readonly D.Dim[], b: readonly D.Dim[]) => a.length === b.length && a.every((d, i) => D.dimEquals(d, b[i]));
      if (n.op.kind === "activation" && n.op.fn === "identity" && !n.epilogue?.length && !g.outputs.some((o) => o.value === n.output)) {
        replace.set(n.output, x);
        continue;
      }
      if (isView(n)) {
        const src = byOutput.get(x);
        if (src && isView(src)) n = { ...n, inputs: [src.inputs[0]] };
        if (same(g.values[n.inputs[0]].shape, g.values[n.output].shape) && !g.outputs.some((o) => o.value === n.output)) {
          replace.set(n.output, n.inputs[0]);
          continue;
        }
      }
      byOutput.set(n.output, n);
      nodes.push(n);
    }
    return rewire(g, nodes, replace);
  },
};
