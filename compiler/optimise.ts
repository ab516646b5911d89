// The middle of the pipeline: analyse, then the passes (fusion, algorithm choice) and the
// plan (steps, memory), with no code generation. compile() emits from what this returns;
// `cnnc explain` prints it without ever loading binaryen (compiler/backends/wasm/binaryen.ts).
// `--autotune` (WebAssembly) times emitted kernels, so its caller must have loaded binaryen.

import { analyse } from "./analyse.js";
import type { Diagnostic, DiagnosticLog } from "./diagnostics.js";
import type { Graph } from "./ir/graph.js";
import type { CompileOptions } from "./options.js";
import { type PassContext, runPipeline } from "./passes/pass.js";
import { PIPELINE } from "./passes/pipeline.js";
import { buildPlan } from "./plan/build.js";
import type { Plan } from "./plan/plan.js";
import type { SourceFile } from "./source.js";
import { didYouMean } from "./suggest.js";
import type { Target } from "./target.js";
import { targetNamed } from "./targets.js";

export interface Optimised {
  readonly ok: true;
  readonly log: DiagnosticLog;
  readonly file: SourceFile;
  readonly target: Target;
  /** The graph as lowered from the source, before any pass. */
  readonly source: Graph;
  /** The optimised graph (after the passes). */
  readonly graph: Graph;
  readonly plan: Plan;
  readonly initialised: readonly string[];
}

export type OptimiseResult = Optimised | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** Parse, check, lower, bind weights, run the passes and build the plan. */
export function optimise(source: string | Uint8Array, options: CompileOptions = {}): OptimiseResult {
  const progress = options.onProgress;
  progress?.({ stage: "analyse", done: 0, total: 1 });
  const t0 = performance.now();
  const a = analyse(source, options);
  options.timings?.set("analyse", (options.timings.get("analyse") ?? 0) + performance.now() - t0);
  if (!a.graph || a.log.hasErrors) return { ok: false, diagnostics: a.log.items };
  const target = targetNamed(options.target ?? "wasm");
  const ctx: PassContext = {
    target,
    options: {
      fuse: options.fuse ?? true,
      algorithms: new Map(Object.entries(options.algorithms ?? {})),
      reasons: new Map(Object.entries(options.algorithmReasons ?? {})),
      autotune: options.autotune ?? false,
      onAutotune: options.onAutotune,
    },
  };
  for (const layer of ctx.options.algorithms.keys()) {
    if (!a.graph.nodes.some((n) => n.layer === layer && n.op.kind === "conv")) {
      const convs = a.graph.nodes.filter((n) => n.op.kind === "conv").map((n) => n.layer);
      a.log.error(`--algorithm: there is no convolution layer named '${layer}'${didYouMean(layer, convs)}`, a.file);
      return { ok: false, diagnostics: a.log.items };
    }
  }
  if (!checkForcedAlgorithms(a.graph, ctx, a.log, a.file)) return { ok: false, diagnostics: a.log.items };
  progress?.({ stage: "optimise", done: 0, total: 1 });
  const t1 = performance.now();
  const graph = runPipeline(a.graph, PIPELINE, ctx);
  noteOverriddenAlgorithms(graph, ctx, a.log, a.file);
  const t2 = performance.now();
  const plan = buildPlan(graph, a.checks, { reuseMemory: options.planMemory ?? true });
  const t = options.timings;
  if (t) {
    t.set("passes", (t.get("passes") ?? 0) + t2 - t1);
    t.set("plan", (t.get("plan") ?? 0) + performance.now() - t2);
  }
  return { ok: true, log: a.log, file: a.file, target, source: a.graph, graph, plan, initialised: a.initialised };
}

/** `--algorithm LAYER=NAME` must name an algorithm the target implements and the layer allows. */
function checkForcedAlgorithms(g: Graph, ctx: PassContext, log: DiagnosticLog, file: SourceFile): boolean {
  const target = ctx.target.name;
  let ok = true;
  for (const [layer, name] of ctx.options.algorithms) {
    const node = g.nodes.find((n) => n.layer === layer && n.op.kind === "conv");
    if (!node) continue;
    let why: string | undefined;
    if (!ctx.target.algorithms.has(name)) {
      why = `the ${target === "all" ? "wasm and webgpu targets together" : `${target} backend`} implement${target === "all" ? "" : "s"} only ${[...ctx.target.algorithms].join(", ")}`;
    } else why = ctx.target.allows(name, node, g);
    if (why) {
      log.error(`--algorithm ${layer}=${name}: ${name} cannot compute layer ${layer}: ${why}`, file, node.span);
      ok = false;
    }
  }
  return ok;
}

/** A forced algorithm the passes could not keep (a pool fused into the layer afterwards) is said, not dropped silently. */
function noteOverriddenAlgorithms(g: Graph, ctx: PassContext, log: DiagnosticLog, file: SourceFile): void {
  for (const [layer, name] of ctx.options.algorithms) {
    const node = g.nodes.find((n) => n.layer === layer && n.op.kind === "conv");
    if (node?.algorithm && node.algorithm.name !== name) {
      log.warning(`--algorithm ${layer}=${name} not applied: ${node.algorithm.reason}`, file, node.span);
    }
  }
}

