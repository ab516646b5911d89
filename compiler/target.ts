// What a compilation target is, as the passes see it: an object that answers questions
// (TVM's Target with its schedule rules and cost model, tinygrad's renderer per device).
// The passes ask it what it fuses, which algorithms a layer allows there and why not, what
// each costs, and how to time them; compile() asks it to emit a plan. Each backend folder
// has one (backends/wasm/target.ts, backends/wgsl/target.ts); `--target all` is `allOf`
// below. This file is the one place that both passes and backends import, so neither knows
// the other: the passes never see a kernel file, the backends never see a pass.

import type { ConvShape } from "./algorithms/applicability.js";
import type { AlgorithmChoice, AlgorithmName, Graph, Node } from "./ir/graph.js";
import type { Op } from "./ir/ops.js";
import type { Plan } from "./plan/plan.js";
import type { OnProgress } from "./progress.js";
import type { GpuLimits, WasmManifest, WebGpuManifest } from "../runtime/manifest.js";

/** The `target` option of compile() and `--target`. */
export type TargetName = "wasm" | "webgpu" | "all";

/** Kinds of work a producer's kernel can apply to its outputs before storing them (an epilogue). */
export type Fusion = "activation" | "add" | "pool";

/** How binaryen optimises the WebAssembly module: a level (-O0..-O4), or a list of binaryen pass names. */
export type WasmOptimize = { readonly level: 0 | 1 | 2 | 3 | 4 } | { readonly passes: readonly string[] };

export interface EmitOptions {
  /** WebGPU limits to compile for (default: WebGPU's defaults). */
  readonly webgpuLimits?: Partial<GpuLimits>;
  /** The WebAssembly optimisation pipeline (default: backends/wasm/module.ts's DEFAULT_OPTIMIZE). */
  readonly wasmOptimize?: WasmOptimize;
  /** Adds milliseconds per emit phase (`npm run bench -- --compile`). */
  readonly timings?: Map<string, number>;
  /** Told before each kernel is emitted and each build optimised (CompileOptions.onProgress). */
  readonly onProgress?: OnProgress;
}

/** What a target adds to the bundle: its manifest sections and its files. */
export interface Emitted {
  readonly manifest: { readonly wasm?: WasmManifest; readonly webgpu?: WebGpuManifest };
  readonly wasm?: Uint8Array;
  readonly wasmRelaxed?: Uint8Array;
  readonly tables?: Uint8Array;
  readonly wgsl?: readonly string[];
}

/** A plan the target cannot run (a limit that no splitting meets), said for the user at the layer. */
export type EmitResult = { readonly ok: true; readonly emitted: Emitted } | { readonly ok: false; readonly layer?: string; readonly message: string };

export interface Target {
  readonly name: TargetName;
  /** The backends whose code it emits, as reasons name them ("wasm"; "wasm", "webgpu" for all). */
  readonly backends: readonly string[];
  /** Whether a kernel of `producer` applies `item` after it (fuse.ts absorbs only these; a new op kind answers here). */
  fuses(producer: Op["kind"], item: Fusion): boolean;
  /** The convolution algorithms it implements. */
  readonly algorithms: ReadonlySet<AlgorithmName>;
  /** Why `name` cannot compute convolution `n` here (the layer's shape, the kernels' limits), or undefined. */
  allows(name: AlgorithmName, n: Node, g: Graph): string | undefined;
  /** Estimated milliseconds of `name` on this layer (symbolic sizes at their nominal size). */
  estimateMs(name: AlgorithmName, s: ConvShape): number;
  /** Why `name` wins on this layer, in its kernel's terms (the reason's middle). */
  why(name: AlgorithmName, s: ConvShape): string;
  /**
   * Estimated milliseconds of a pool step of its own over this convolution's output: whether
   * pooling inside a kernel that can (direct_simd) beats a faster algorithm plus a pool step
   * (passes/fuse.ts). Absent: never fuse a pool at that price.
   */
  poolMs?(s: ConvShape): number;
  /**
   * `--autotune` inside the pass: times `names` on this layer on this machine and picks the
   * fastest. Absent where timing is asynchronous (WebGPU: compiler/autotune-webgpu.ts times
   * around compile()), and then the cost model decides.
   */
  autotune?(n: Node, g: Graph, names: readonly AlgorithmName[]): AlgorithmChoice;
  /** The plan as this target's code. */
  emit(plan: Plan, options: EmitOptions): EmitResult;
}

/**
 * Several targets at once (`--target all`): what they all fuse and implement, what every one
 * allows; ranked and timed by the first (its cost model), emitted by each in turn.
 */
export function allOf(name: TargetName, first: Target, ...rest: readonly Target[]): Target {
  const all = [first, ...rest];
  return {
    name,
    backends: all.flatMap((t) => t.backends),
    fuses: (producer, item) => all.every((t) => t.fuses(producer, item)),
    algorithms: new Set([...first.algorithms].filter((a) => rest.every((t) => t.algorithms.has(a)))),
    allows: (algorithm, n, g) => all.reduce<string | undefined>((why, t) => why ?? t.allows(algorithm, n, g), undefined),
    estimateMs: (algorithm, s) => first.estimateMs(algorithm, s),
    why: (algorithm, s) => first.why(algorithm, s),
    poolMs: first.poolMs?.bind(first),
    autotune: first.autotune?.bind(first),
    emit(plan, options) {
      let emitted: Emitted = { manifest: {} };
      for (const t of all) {
        const r = t.emit(plan, options);
        if (!r.ok) return r;
        emitted = { ...emitted, ...r.emitted, manifest: { ...emitted.manifest, ...r.emitted.manifest } };
      }
      return { ok: true, emitted };
    },
  };
}
