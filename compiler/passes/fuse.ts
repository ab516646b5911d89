// Fusion: a convolution-like producer (conv, depthwise, local, tiled, deconv, dense) absorbs
// the elementwise work after it and a following pool, as an epilogue list on the producer
// (TVM's "out-elementwise-fusable" pattern), so the book's convolution -> detector -> pooling
// layer is one kernel and the pre-pool activations are never written to memory. A consumer
// is absorbed only when the producer's value has no other reader and is not an output, so
// nothing anyone else reads is fused away; a residual `+` is absorbed when its other operand
// has the same shape and is computed before the producer runs. Pooling ends the chain
// (it changes the shape), except for activations after it.
//
// A pool is absorbed into a convolution only when the algorithm the layer would get without
// it is direct (choose-algorithm's own choice, `--algorithm` included), or when direct_simd
// can pool it (max/avg windows that tile the output, see backends/wasm/direct-simd.ts) and
// is estimated no slower than the layer's choice plus a separate pool pass: only these two
// compute pooled values without storing the pre-pool ones, and trading a fast algorithm
// (Winograd, FFT: often 5-30x fewer operations) for one saved pass over memory is a loss. Such a layer still absorbs its activations and residual add, and the
// pool stays a kernel of its own. Local, tiled and transposed convolutions are direct only.
//
// Which producers absorb which kinds is the target's answer (Target.fuses): a backend whose
// kernel for a new op applies an epilogue says so in its target.ts, not here.

import { chooseFor } from "./choose-algorithm.js";
import { convShape } from "../algorithms/applicability.js";
import type { PoolOp } from "../ir/ops.js";
import * as D from "../ir/dim.js";
import type { FusedOp, Graph, Node } from "../ir/graph.js";
import type { Fusion } from "../target.js";
import type { Pass, PassContext } from "./pass.js";
import { rewire, useCounts } from "./pass.js";

export const fuse: Pass = {
  name: "fuse",
  run(g: Graph, ctx: PassContext): Graph {
    if (!ctx.options.fuse) return g;
    const can = (p: Node, kind: Fusion) => ctx.target.fuses(p.op.kind, kind);
    const uses = useCounts(g);
    const isOutput = new Set(g.outputs.map((o) => o.value));
    const readers = new Map<number, Node[]>();
    for (const n of g.nodes) for (const v of n.inputs) readers.set(v, [...(readers.get(v) ?? []), n]);
    const computedAt = new Map<number, number>(g.nodes.map((n, i) => [n.output, i]));
    const absorbed = new Set<Node>();
    const result = new Map<Node, Node>();

    g.nodes.forEach((p, index) => {
      if (absorbed.has(p) || !(["activation", "add", "pool"] as const).some((k) => can(p, k))) return;
      let out = p.output;
      const epilogue: FusedOp[] = [...(p.epilogue ?? [])];
      const inputs = [...p.inputs];
      const fused: string[] = [...(p.fused ?? [])];
      let pooled = epilogue.some((e) => e.kind === "pool");
      for (;;) {
        if (uses.get(out) !== 1 || isOutput.has(out)) break;
        const c = (readers.get(out) ?? [])[0];
        if (!c || c.epilogue?.length) break;
        let item: FusedOp | undefined;
        if (c.op.kind === "activation" && can(p, "activation")) item = { kind: "activation", fn: c.op.fn, alpha: c.op.alpha, beta: c.op.beta };
        else if (c.op.kind === "pool" && can(p, "pool") && !pooled && poolFuses({ ...p, epilogue }, c.op, g, ctx)) item = { kind: "pool", op: c.op };
        else if (c.op.kind === "add" && can(p, "add") && !pooled) {
          const other = c.inputs[0] === out ? c.inputs[1] : c.inputs[0];
          const sameShape = D.dimEquals(D.product(g.values[other].shape), D.product(g.values[out].shape)) &&
            g.values[other].shape.length === g.values[out].shape.length;
          const before = (computedAt.get(other) ?? -1) < index;
          if (other !== out && sameShape && before) {
            item = { kind: "add", value: other };
            inputs.push(other);
          }
        }
        if (!item) break;
        epilogue.push(item);
        if (item.kind === "pool") pooled = true;
        fused.push(c.layer);
        absorbed.add(c);
        out = c.output;
      }
      if (out !== p.output) result.set(p, { ...p, inputs, output: out, epilogue, fused });
    });
    if (absorbed.size === 0) return g;
    const nodes = g.nodes.filter((n) => !absorbed.has(n)).map((n) => result.get(n) ?? n);
    // Absorbed consumers' values are now the producer's; nobody else read the old ones.
    return rewire(g, nodes, new Map());
  },
};

/**
 * Whether the producer keeps a kernel that pools: it runs direct convolution even without the
 * pool (always, but for conv), or direct_simd can pool this one and its estimate beats the
 * layer's choice plus a separate pool pass over the pre-pool values.
 */
function poolFuses(p: Node, pool: PoolOp, g: Graph, ctx: PassContext): boolean {
  if (p.op.kind !== "conv") return true;
  // The cost model's choice, not autotuning's: timing every candidate twice is not worth it here.
  const choice = chooseFor(p, g, { ...ctx, options: { ...ctx.options, autotune: false } });
  if (choice === undefined || choice.name === "direct") return true;
  const forced = ctx.options.algorithms.get(p.layer);
  if ((forced && forced !== "direct_simd") || !ctx.target.algorithms.has("direct_simd")) return false;
  const withPool: Node = { ...p, epilogue: [...(p.epilogue ?? []), { kind: "pool", op: pool }] };
  if (ctx.target.allows("direct_simd", withPool, g) !== undefined) return false;
  if (choice.name === "direct_simd") return true;
  const s = convShape(p, g);
  const poolMs = ctx.target.poolMs?.(s);
  return poolMs !== undefined && ctx.target.estimateMs("direct_simd", s) <= ctx.target.estimateMs(choice.name, s) + poolMs;
}
