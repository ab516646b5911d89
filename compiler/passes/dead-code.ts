// Removes nodes whose values nobody reads, walking back from the outputs (a name bound but
// never used, a view made redundant by simplify), and the weights only they held.

import type { Graph } from "../ir/graph.js";
import type { Pass } from "./pass.js";

export const deadCode: Pass = {
  name: "dead-code",
  run(g: Graph): Graph {
    const live = new Set(g.outputs.map((o) => o.value));
    const keep = new Set<number>();
    for (let i = g.nodes.length - 1; i >= 0; i--) {
      const n = g.nodes[i];
      if (!live.has(n.output)) continue;
      keep.add(i);
      n.inputs.forEach((v) => live.add(v));
    }
    if (keep.size === g.nodes.length) return g;
    const nodes = g.nodes.filter((_, i) => keep.has(i));
    const used = new Set(nodes.flatMap((n) => Object.values(n.weights)));
    return { ...g, nodes, weights: g.weights.filter((w) => used.has(w)) };
  },
};
