// Batch norm after a convolution or dense layer is an affine map per output channel, so it
// folds into that layer's weights and bias at compile time:
//   W'[o] = W[o] * s[o],  b'[o] = (b[o] - mean[o]) * s[o] + beta[o],  s = gamma / sqrt(var + eps).
// New Weight objects are made (the originals may be shared with other nodes), and the batch
// norm node disappears. Only when the producer's output feeds nothing else.

import type { Graph, Node, Weight } from "../ir/graph.js";
import type { Pass } from "./pass.js";
import { rewire, useCounts } from "./pass.js";

function foldable(p: Node): boolean {
  if (p.epilogue?.length) return false;
  if (p.op.kind === "conv") return p.op.bias !== "location";
  if (p.op.kind === "deconv" || p.op.kind === "dense") return true;
  return false;
}

/** How many consecutive weight entries scale with one output channel, and the channel's stride. */
function channelLayout(p: Node, w: Weight): (i: number) => number {
  const per = w.shape.slice(2).reduce((a, b) => a * b, 1);
  if (p.op.kind === "deconv") {
    // [C_in, O/groups, k...]: output channel of element i is (group of its input channel) * O/g + i's axis-1 index.
    const [cin, opg] = w.shape;
    const groups = p.op.groups;
    return (i) => {
      const c = Math.floor(i / (opg * per));
      const j = Math.floor(i / per) % opg;
      return Math.floor(c / (cin / groups)) * opg + j;
    };
  }
  const inner = w.shape.slice(1).reduce((a, b) => a * b, 1);
  return (i) => Math.floor(i / inner);
}

export const foldBatchnorm: Pass = {
  name: "fold-batchnorm",
  run(g: Graph): Graph {
    const uses = useCounts(g);
    const byOutput = new Map(g.nodes.map((n) => [n.output, n]));
    const replaced = new Map<number, Node>();
    const dropped = new Set<Node>();
    const weights = [...g.weights];
    for (const bn of g.nodes) {
      if (bn.op.kind !== "batchnorm") continue;
      const p = byOutput.get(bn.inputs[0]);
      if (!p || !foldable(p) || uses.get(p.output) !== 1 || g.outputs.some((o) => o.value === p.output)) continue;
      const { weight: gamma, bias: beta, running_mean: mean, running_var: variance } = bn.weights;
      const w = p.weights.weight;
      if (!gamma || !beta || !mean || !variance || !w) continue;
      const eps = bn.op.eps;
      const channels = gamma.data.length;
      const scale = Float64Array.from(gamma.data, (gm, c) => gm / Math.sqrt(variance.data[c] + eps));
      const channelOf = channelLayout(p, w);
      const nw: Weight = {
        id: weights.length,
        name: w.name,
        shape: w.shape,
        data: Float32Array.from(w.data, (v, i) => v * scale[channelOf(i)]),
        source: { kind: "folded", from: `${w.name} and ${bn.layer}` },
      };
      weights.push(nw);
      const oldBias = p.weights.bias;
      const nb: Weight = {
        id: weights.length,
        name: oldBias?.name ?? `${p.layer}.bias`,
        shape: [channels],
        data: Float32Array.from({ length: channels }, (_, c) => ((oldBias?.data[c] ?? 0) - mean.data[c]) * scale[c] + beta.data[c]),
        source: { kind: "folded", from: `${oldBias?.name ?? "zero bias"} and ${bn.layer}` },
      };
      weights.push(nb);
      const op = p.op.kind === "dense" || p.op.kind === "conv" || p.op.kind === "deconv" ? { ...p.op, bias: "channel" as const } : p.op;
      replaced.set(p.id, { ...p, op, weights: { weight: nw, bias: nb }, output: bn.output, fused: [...(p.fused ?? []), bn.layer] });
      dropped.add(bn);
    }
    if (dropped.size === 0) return g;
    const nodes = g.nodes.filter((n) => !dropped.has(n)).map((n) => replaced.get(n.id) ?? n);
    // The producer now writes the batch norm's value directly; nothing else read its old one.
    const used = new Set(nodes.flatMap((n) => Object.values(n.weights)));
    return { ...rewire(g, nodes, new Map()), weights: weights.filter((w) => used.has(w)) };
  },
};
