// Training runs on one size: every size symbol of the inputs (`H`, `W`) gets a number, and the
// graph's shapes (and the sizes a deconv returns) are evaluated in it. Batches are made of
// samples of that size, so the backward graph, the saved activations and the optimiser state
// all have fixed shapes.

import { type DimEnv, evalDims } from "../ir/dim.js";
import type { Graph, Node } from "../ir/graph.js";
import { TrainError } from "./autodiff.js";

export function specialise(g: Graph, sizes: DimEnv): Graph {
  const missing = g.symbols.filter((s) => sizes[s] === undefined);
  if (missing.length > 0) throw new TrainError(`training needs a size for ${missing.join(", ")} (give it, e.g. ${missing[0]}=28)`);
  if (g.symbols.length === 0) return g;
  const nodes: Node[] = g.nodes.map((n) => (n.op.kind === "deconv" ? { ...n, op: { ...n.op, out: evalDims(n.op.out, sizes) } } : n));
  return { ...g, values: g.values.map((v) => ({ ...v, shape: evalDims(v.shape, sizes) })), nodes, symbols: [] };
}
