// compile(source, options) -> { ok, diagnostics, graph, plan, artifacts, load() }, for both
// entries (the Node API, compiler/index.ts, and the browser one, compiler/browser.ts). It never
// throws on bad user input (syntax, names, shapes, weight files): every such problem is a
// diagnostic. The pipeline: analyse (parse, lower, bind weights: analyse.ts), optimise
// (passes, plan: optimise.ts), emit (here). It touches no file system (files come through
// `options.readFile`) and expects binaryen loaded (loadBinaryen) before a WebAssembly emit.

import type { Manifest } from "../runtime/manifest.js";
import type { LoadOptions } from "../runtime/load.js";
import { networkFromArtifacts } from "../runtime/load.js";
import type { Network } from "../runtime/session.js";
import type { Diagnostic } from "./diagnostics.js";
import type { Graph } from "./ir/graph.js";
import type { CompileOptions } from "./options.js";
import { optimise } from "./optimise.js";
import type { Plan } from "./plan/plan.js";

export interface Artifacts {
  readonly manifest: Manifest;
  readonly wasm?: Uint8Array;
  /** The relaxed-SIMD build of the module (manifest.wasm.relaxedFile), where it differs. */
  readonly wasmRelaxed?: Uint8Array;
  /** The compile-time tables (manifest.wasm.tables.file): packed and transformed weights. */
  readonly tables?: Uint8Array;
  /** WGSL sources, in the order of manifest.webgpu.programs (each written to its `file`). */
  readonly wgsl?: readonly string[];
  /** Raw little-endian f32 weights blob. */
  readonly weights: Uint8Array;
}

export interface CompileSuccess {
  readonly ok: true;
  readonly diagnostics: readonly Diagnostic[];
  /** The optimised graph (after the passes). */
  readonly graph: Graph;
  /** The graph as lowered from the source, before any pass. */
  readonly source: Graph;
  readonly plan: Plan;
  readonly artifacts: Artifacts;
  /** Layers whose weights were initialised because none were given. */
  readonly initialised: readonly string[];
  load(options?: LoadOptions): Promise<Network>;
}

export interface CompileFailure {
  readonly ok: false;
  readonly diagnostics: readonly Diagnostic[];
}

export type CompileResult = CompileSuccess | CompileFailure;

export function compile(source: string | Uint8Array, options: CompileOptions = {}): CompileResult {
  const o = optimise(source, options);
  if (!o.ok) return o;
  const { target, graph, plan, log, file } = o;
  const weights = new Uint8Array(plan.weightData.buffer, plan.weightData.byteOffset, plan.weightData.byteLength);
  const emit = target.emit(plan, { webgpuLimits: options.webgpuLimits, wasmOptimize: options.wasmOptimize, timings: options.timings, onProgress: options.onProgress });
  if (!emit.ok) {
    // A network the target cannot run: a limit that splitting cannot meet.
    // At its layer, or (a limit of the whole network) at the output.
    const span = graph.nodes.find((n) => n.layer === emit.layer)?.span ?? graph.outputs[0]?.span;
    log.error(emit.message, span ? file : undefined, span);
    return { ok: false, diagnostics: log.items };
  }
  const emitted = emit.emitted;
  const manifest: Manifest = {
    format: 1,
    name: plan.name,
    symbols: plan.symbols,
    inputs: plan.inputs.map((i) => ({ name: i.name, shape: i.shape })),
    outputs: plan.outputs.map((o) => ({ name: o.name, shape: o.shape })),
    checks: plan.checks,
    weights: { file: "weights.bin", bytes: weights.byteLength },
    wasm: emitted.manifest.wasm,
    webgpu: emitted.manifest.webgpu,
    algorithms: Object.fromEntries(graph.nodes.flatMap((n) => (n.algorithm ? [[n.layer, { name: n.algorithm.name, reason: n.algorithm.reason }]] : []))),
  };
  const artifacts: Artifacts = {
    manifest,
    wasm: emitted.wasm,
    wasmRelaxed: emitted.wasmRelaxed,
    tables: emitted.tables,
    wgsl: emitted.wgsl,
    weights,
  };
  return {
    ok: true,
    diagnostics: log.items,
    graph,
    source: o.source,
    plan,
    artifacts,
    initialised: o.initialised,
    load: (opts?: LoadOptions) =>
      networkFromArtifacts(manifest, { wasm: artifacts.wasm, wasmRelaxed: artifacts.wasmRelaxed, tables: artifacts.tables, wgsl: artifacts.wgsl, weights }, opts),
  };
}
