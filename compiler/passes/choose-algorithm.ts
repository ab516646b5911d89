// Algorithm choice per convolution layer, recorded on the node with its reason: the
// candidates the target implements and allows for the layer are ranked by the target's cost
// model (WebAssembly's fitted one in backends/wasm/cost.ts, WebGPU's analytic one in
// backends/wgsl/cost.ts; `--target all` ranks with its first target's, among what both allow);
// `--algorithm LAYER=NAME` overrides it, `--autotune` asks the target to time the candidates
// on this machine instead, where it can inside the pass (WebAssembly). Every algorithm
// computes what direct convolution computes (to float tolerance), so the choice only changes
// speed. The pass asks the target (compiler/target.ts); it never reads a backend's files.

import { ALGORITHMS, type ConvShape, convShape, NOMINAL_SIZE } from "../algorithms/applicability.js";
import type { AlgorithmChoice, AlgorithmName, Graph, Node } from "../ir/graph.js";
import type { Pass, PassContext } from "./pass.js";

/** A layer whose direct estimate is under this is left direct: the others cannot win back their fixed costs (code size, tables). */
export const SMALL_LAYER_MS = 0.02;

export interface Candidate {
  readonly name: AlgorithmName;
  readonly ms: number;
}

/** The applicable candidates the target implements, with their estimates, fastest first. */
export function candidates(n: Node, g: Graph, ctx: PassContext): Candidate[] {
  const s = convShape(n, g);
  const t = ctx.target;
  return ALGORITHMS.filter((a) => t.algorithms.has(a) && t.allows(a, n, g) === undefined)
    .map((name) => ({ name, ms: t.estimateMs(name, s) }))
    .sort((a, b) => a.ms - b.ms);
}

export const fmtMs = (ms: number) => (ms >= 10 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toPrecision(2)) + " ms";

/** "3x3 stride 1, 64->64 channels, 56x56": the shape the reason talks about. */
function describe(s: ConvShape): string {
  const { op } = s;
  const depthwise = op.groups === s.c && op.groups > 1;
  const stride = op.stride.every((v) => v === 1) ? "stride 1" : `stride ${op.stride.join("x")}`;
  const dil = op.dilation.some((r) => r !== 1) ? `, dilation ${op.dilation.join("x")}` : "";
  const chans = depthwise ? `depthwise on ${s.c} channels` : `${s.c}->${op.filters} channels${op.groups > 1 ? ` in ${op.groups} groups` : ""}`;
  const size = `${s.out.join("x")} outputs${s.symbolic ? ` (estimated at ${NOMINAL_SIZE} per symbolic size)` : ""}`;
  return `${op.kernel.join("x")} ${stride}${dil}, ${chans}, ${size}`;
}

export function chooseFor(n: Node, g: Graph, ctx: PassContext): AlgorithmChoice | undefined {
  if (n.op.kind !== "conv") return undefined;
  const forced = ctx.options.algorithms.get(n.layer);
  const notApplicable = forced ? ctx.target.allows(forced, n, g) : undefined;
  if (forced && !notApplicable && ctx.target.algorithms.has(forced)) return { name: forced, reason: ctx.options.reasons?.get(n.layer) ?? "asked for with --algorithm" };
  const s = convShape(n, g);
  const cands = candidates(n, g, ctx);
  if (cands.length <= 1) {
    const name = cands[0]?.name ?? "direct";
    const poolFused = n.epilogue?.some((e) => e.kind === "pool");
    if (forced && notApplicable) return { name, reason: `${forced} cannot compute this layer: ${notApplicable}` };
    if (poolFused) return { name, reason: "a pooling layer is fused into it, and only direct convolution (and on WebAssembly direct_simd) computes pooled values without storing the pre-pool ones" };
    if (ctx.target.algorithms.size <= 1) {
      // `--target all` plans for both backends: what they have in common.
      const { backends } = ctx.target;
      const who = backends.length > 1 ? `both backends (${backends.join(" and ")})` : `the ${backends[0]} backend`;
      return { name, reason: `the only convolution algorithm ${who} implement${backends.length > 1 ? "" : "s"}` };
    }
    return { name, reason: `the only algorithm that applies to this layer on ${ctx.target.backends.join(" and ")}` };
  }
  // A target that cannot time inside the pass (WebGPU) leaves it to the cost model.
  if (ctx.options.autotune && ctx.target.autotune) {
    ctx.options.onAutotune?.(n.layer);
    return ctx.target.autotune(n, g, cands.map((c) => c.name));
  }
  const direct = cands.find((c) => c.name === "direct");
  if (direct && direct.ms < SMALL_LAYER_MS) {
    return { name: "direct", reason: `${describe(s)}: a small layer (estimated ${fmtMs(direct.ms)} direct), where the other algorithms cannot win back their setup` };
  }
  const [best, ...rest] = cands;
  const others = rest.map((c) => `${fmtMs(c.ms)} ${c.name}`).join(", ");
  const because = ctx.target.why(best.name, s);
  return { name: best.name, reason: `${describe(s)}: ${because}; estimated ${fmtMs(best.ms)} vs ${others}` };
}

export const chooseAlgorithm: Pass = {
  name: "choose-algorithm",
  run(g: Graph, ctx: PassContext): Graph {
    return {
      ...g,
      nodes: g.nodes.map((n) => {
        const algorithm = chooseFor(n, g, ctx);
        return algorithm ? { ...n, algorithm } : n;
      }),
    };
  },
};
