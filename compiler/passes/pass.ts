// A pass is a name and a function from graph to graph (as in TVM Relax); the pipeline is
// an array of them (pipeline.ts). The graph is verified after every pass, so a pass that
// breaks an invariant is caught where it happens, not three passes later in a backend.

import type { Graph } from "../ir/graph.js";
import { verifyGraph } from "../ir/verify.js";
import type { AlgorithmName } from "../ir/graph.js";
import type { Target } from "../target.js";

export interface PassOptions {
  /** `--no-fuse`: keep every layer a kernel of its own. */
  readonly fuse: boolean;
  /** `--algorithm LAYER=NAME` overrides. */
  readonly algorithms: ReadonlyMap<string, AlgorithmName>;
  /** Why a layer of `algorithms` has its algorithm, where not `--algorithm` (WebGPU autotuning). */
  readonly reasons?: ReadonlyMap<string, string>;
  /** `--autotune`: time the candidates on this machine instead of estimating (where the target can: Target.autotune). */
  readonly autotune?: boolean;
  /** Told before each layer is autotuned (the CLI's progress bar). */
  readonly onAutotune?: (layer: string) => void;
}

export interface PassContext {
  /** What the passes ask about the backend(s) they compile for: fusion, algorithms, costs, timing. */
  readonly target: Target;
  readonly options: PassOptions;
}

export interface Pass {
  readonly name: string;
  run(g: Graph, ctx: PassContext): Graph;
}

/** Runs the passes in order, verifying the graph after each; `trace` sees every stage. */
export function runPipeline(g: Graph, passes: readonly Pass[], ctx: PassContext, trace?: (pass: string, g: Graph) => void): Graph {
  let cur = g;
  for (const p of passes) {
    cur = p.run(cur, ctx);
    const problems = verifyGraph(cur);
    if (problems.length > 0) throw new Error(`internal error: pass ${p.name} broke the graph:\n${problems.join("\n")}`);
    trace?.(p.name, cur);
  }
  return cur;
}

/** Rebuilds a graph with node inputs and outputs renamed through `replace` (value -> value). */
export function rewire(g: Graph, nodes: Graph["nodes"], replace: ReadonlyMap<number, number>): Graph {
  const r = (v: number): number => {
    let x = v;
    while (replace.has(x)) x = replace.get(x) as number;
    return x;
  };
  return {
    ...g,
    nodes: nodes.map((n) => ({
      ...n,
      inputs: n.inputs.map(r),
      epilogue: n.epilogue?.map((e) => (e.kind === "add" ? { ...e, value: r(e.value) } : e)),
    })),
    outputs: g.outputs.map((o) => ({ ...o, value: r(o.value) })),
  };
}

/** How many nodes read each value, plus one for each graph output that is the value. */
export function useCounts(g: Graph): Map<number, number> {
  const uses = new Map<number, number>();
  const use = (v: number) => uses.set(v, (uses.get(v) ?? 0) + 1);
  for (const n of g.nodes) n.inputs.forEach(use);
  for (const o of g.outputs) use(o.value);
  return uses;
}
