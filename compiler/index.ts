// The programmatic API: compile(source, options) -> { ok, diagnostics, graph, plan,
// artifacts, load() }. It never throws on bad user input (syntax, names, shapes, weight
// files): every such problem is a diagnostic. The pipeline is visible here: parse, lower,
// bind weights, plan, emit.

import { readFileSync, statSync } from "node:fs";
import { MAX_WEIGHTS_FILE_BYTES } from "./limits.js";
import * as path from "node:path";
import { parse } from "../dsl/parse.js";
import type { GpuLimits, Manifest } from "../runtime/manifest.js";
import type { LoadOptions } from "../runtime/load.js";
import { networkFromArtifacts } from "../runtime/load.js";
import type { Network } from "../runtime/session.js";
import { emitWasm, WasmLimitError } from "./backends/wasm/module.js";
import { emitWgsl, GpuLimitError } from "./backends/wgsl/module.js";
import { type Diagnostic, DiagnosticLog, formatDiagnostics } from "./diagnostics.js";
import type { AlgorithmName, Graph } from "./ir/graph.js";
import { capabilitiesFor } from "./backends/capabilities.js";
import { applicableOn } from "./passes/choose-algorithm.js";
import { type PassContext, runPipeline } from "./passes/pass.js";
import { PIPELINE } from "./passes/pipeline.js";
import { lower } from "./lower/lower.js";
import { bindWeights, type WeightsFile } from "./lower/weights.js";
import { buildPlan } from "./plan/build.js";
import type { Plan } from "./plan/plan.js";
import { SourceFile } from "./source.js";
import { didYouMean } from "./suggest.js";
import { readSafetensors } from "./tensors/safetensors.js";

export type Target = "wasm" | "webgpu" | "all";

export interface CompileOptions {
  /** Shown in diagnostics; also the base for `weights "..."` paths. */
  readonly fileName?: string;
  /** A safetensors file: its path, or its bytes. */
  readonly weights?: string | Uint8Array;
  readonly target?: Target;
  /** Fuse activations, residual adds and pools into the producing kernel (default true; `--no-fuse`). */
  readonly fuse?: boolean;
  /** Liveness-based reuse of activation memory (default true). */
  readonly planMemory?: boolean;
  /** Per-layer algorithm overrides (`--algorithm LAYER=NAME`). */
  readonly algorithms?: Readonly<Record<string, AlgorithmName>>;
  /** Time each convolution's applicable algorithms on this machine and keep the fastest (`--autotune`; WebAssembly here, WebGPU through autotune-webgpu.ts). */
  readonly autotune?: boolean;
  /** Why each layer of `algorithms` has its algorithm (default: asked for with --algorithm). */
  readonly algorithmReasons?: Readonly<Record<string, string>>;
  /** WebGPU limits to compile for (default: WebGPU's defaults); a network that needs more is split. */
  readonly webgpuLimits?: Partial<GpuLimits>;
  /** Which network, when the file defines several. */
  readonly network?: string;
  /** Reads files named by the source or by `weights` (default: the file system). */
  readonly readFile?: (path: string) => Uint8Array;
}

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

/** Parse, check and lower to a graph with bound weights (no code generation). */
export function analyse(
  source: string,
  options: CompileOptions = {},
): { log: DiagnosticLog; file: SourceFile; graph?: Graph; checks: Plan["checks"]; initialised: string[] } {
  const fileName = options.fileName ?? "<input>";
  const file = new SourceFile(fileName, source);
  const log = new DiagnosticLog();
  const program = parse(file, log);
  if (log.hasErrors) return { log, file, checks: [], initialised: [] };
  const lowered = lower(program, file, log, options.network);
  if (!lowered || log.hasErrors) return { log, file, checks: [], initialised: [] };
  const read = options.readFile ?? readWeightsFile;
  const files: WeightsFile[] = [];
  const load = (name: string, bytes: () => Uint8Array, span?: { start: number; end: number }) => {
    let data: Uint8Array;
    try {
      data = bytes();
    } catch (e) {
      log.error(`cannot read weights file ${name}: ${(e as Error).message}`, span ? file : undefined, span);
      return;
    }
    const r = readSafetensors(data, name);
    if (r.ok) files.push({ name, tensors: r.value });
    else log.error(r.error, span ? file : undefined, span);
  };
  if (options.weights instanceof Uint8Array) {
    const w = options.weights;
    load("weights", () => w);
  } else if (typeof options.weights === "string") {
    const p = options.weights;
    load(p, () => read(p));
  }
  for (const wf of lowered.weightFiles) {
    // A model names files beside it: a path in the source stays inside the model's folder
    // (a file from elsewhere is given on the command line, `--weights`).
    const folder = path.resolve(path.dirname(fileName));
    const p = path.resolve(folder, wf.path);
    const rel = path.relative(folder, p);
    if (path.isAbsolute(wf.path) || rel.startsWith("..") || path.isAbsolute(rel)) {
      log.error(`weights file ${wf.path} is outside the model's folder; a model reads weights only from its own folder (give others with --weights)`, file, wf.span);
      continue;
    }
    load(wf.path, () => read(p), wf.span);
  }
  if (log.hasErrors) return { log, file, checks: [], initialised: [] };
  const initialised = bindWeights(lowered.pending, files, log, file);
  if (log.hasErrors) return { log, file, checks: [], initialised };
  return { log, file, graph: lowered.graph, checks: lowered.checks, initialised };
}

/** Reads a weights file: a regular file only (not a FIFO or a device) and of bounded size. */
function readWeightsFile(p: string): Uint8Array {
  const st = statSync(p);
  if (!st.isFile()) throw new Error("not a regular file");
  if (st.size > MAX_WEIGHTS_FILE_BYTES) throw new Error(`${st.size} bytes, more than the ${MAX_WEIGHTS_FILE_BYTES} a weights file may have`);
  return new Uint8Array(readFileSync(p));
}

export function compile(source: string, options: CompileOptions = {}): CompileResult {
  const a = analyse(source, options);
  if (!a.graph || a.log.hasErrors) return { ok: false, diagnostics: a.log.items };
  const target = options.target ?? "wasm";
  const ctx: PassContext = {
    target: capabilitiesFor(target),
    options: {
      fuse: options.fuse ?? true,
      algorithms: new Map(Object.entries(options.algorithms ?? {})),
      reasons: new Map(Object.entries(options.algorithmReasons ?? {})),
      autotune: options.autotune ?? false,
    },
  };
  for (const layer of ctx.options.algorithms.keys()) {
    if (!a.graph.nodes.some((n) => n.layer === layer && n.op.kind === "conv")) {
      const convs = a.graph.nodes.filter((n) => n.op.kind === "conv").map((n) => n.layer);
      a.log.error(`--algorithm: there is no convolution layer named '${layer}'${didYouMean(layer, convs)}`, a.file);
      return { ok: false, diagnostics: a.log.items };
    }
  }
  if (!checkForcedAlgorithms(a.graph, ctx, target, a.log, a.file)) return { ok: false, diagnostics: a.log.items };
  const graph = runPipeline(a.graph, PIPELINE, ctx);
  noteOverriddenAlgorithms(graph, ctx, a.log, a.file);
  const plan = buildPlan(graph, a.checks, { reuseMemory: options.planMemory ?? true });
  const weights = new Uint8Array(plan.weightData.buffer, plan.weightData.byteOffset, plan.weightData.byteLength);
  let wasm: ReturnType<typeof emitWasm> | undefined;
  try {
    wasm = target === "wasm" || target === "all" ? emitWasm(plan) : undefined;
  } catch (e) {
    // Each tensor fits, but together (after memory planning) they pass the 2 GiB memory.
    if (!(e instanceof WasmLimitError)) throw e;
    a.log.error(e.message, a.file, graph.outputs[0]?.span);
    return { ok: false, diagnostics: a.log.items };
  }
  let webgpu: ReturnType<typeof emitWgsl> | undefined;
  if (target === "webgpu" || target === "all") {
    try {
      webgpu = emitWgsl(plan, { limits: options.webgpuLimits });
    } catch (e) {
      // A network the WebGPU target cannot run: a limit that splitting cannot meet.
      if (!(e instanceof GpuLimitError)) throw e;
      const node = graph.nodes.find((n) => n.layer === e.layer);
      a.log.error(e.message, node ? a.file : undefined, node?.span);
      return { ok: false, diagnostics: a.log.items };
    }
  }
  const manifest: Manifest = {
    format: 1,
    name: plan.name,
    symbols: plan.symbols,
    inputs: plan.inputs.map((i) => ({ name: i.name, shape: i.shape })),
    outputs: plan.outputs.map((o) => ({ name: o.name, shape: o.shape })),
    checks: plan.checks,
    weights: { file: "weights.bin", bytes: weights.byteLength },
    wasm: wasm?.manifest,
    webgpu: webgpu?.manifest,
    algorithms: Object.fromEntries(graph.nodes.flatMap((n) => (n.algorithm ? [[n.layer, { name: n.algorithm.name, reason: n.algorithm.reason }]] : []))),
  };
  const artifacts: Artifacts = {
    manifest,
    wasm: wasm?.binary,
    wasmRelaxed: wasm?.relaxed,
    tables: wasm?.tables,
    wgsl: webgpu?.programs.map((p) => p.code),
    weights,
  };
  return {
    ok: true,
    diagnostics: a.log.items,
    graph,
    source: a.graph,
    plan,
    artifacts,
    initialised: a.initialised,
    load: (opts?: LoadOptions) =>
      networkFromArtifacts(manifest, { wasm: artifacts.wasm, wasmRelaxed: artifacts.wasmRelaxed, tables: artifacts.tables, wgsl: artifacts.wgsl, weights }, opts),
  };
}

/** `--algorithm LAYER=NAME` must name an algorithm the target implements and the layer allows. */
function checkForcedAlgorithms(g: Graph, ctx: PassContext, target: Target, log: DiagnosticLog, file: SourceFile): boolean {
  let ok = true;
  for (const [layer, name] of ctx.options.algorithms) {
    const node = g.nodes.find((n) => n.layer === layer && n.op.kind === "conv");
    if (!node) continue;
    let why: string | undefined;
    if (!ctx.target.algorithms.has(name)) {
      why = `the ${target === "all" ? "wasm and webgpu targets together" : `${target} backend`} implement${target === "all" ? "" : "s"} only ${[...ctx.target.algorithms].join(", ")}`;
    } else why = applicableOn(ctx, name, node, g);
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

export { formatDiagnostics };
export type { Diagnostic };
export type { Network, TensorData } from "../runtime/session.js";
