// compileTraining(source, options): the network and its `train` declaration (or options
// alone) to a training graph and a trainer. Parse, check and lower as `compile` does, read
// the train declaration, give every size symbol its value, differentiate (autodiff.ts); each
// problem is a diagnostic. Backends: the reference (float64, the definition) and the compiled
// WebAssembly step (wasm-trainer.ts) and the compiled WebGPU step (webgpu-trainer.ts) run;
// `auto` takes WebAssembly when it has a kernel for every op of the graph and the reference
// otherwise (never WebGPU: it needs a device, found only at load). Asking for a backend that
// cannot run the graph (an op its step lacks) names what it would need rather than failing
// somewhere inside.

import { parse } from "../../dsl/parse.js";
import type { TrainDecl } from "../../dsl/ast.js";
import { type Diagnostic, DiagnosticLog } from "../diagnostics.js";
import { analyse } from "../analyse.js";
import type { CompileOptions } from "../options.js";
import { SourceFile } from "../source.js";
import { didYouMean } from "../suggest.js";
import { evalDim } from "../ir/dim.js";
import { MAX_SIZE } from "../limits.js";
import { autodiff, TrainError } from "./autodiff.js";
import { DEFAULT_TRAIN, readTrainConfig, type TrainConfig } from "./config.js";
import type { TrainGraph } from "./graph.js";
import { specialise } from "./specialise.js";
import { footprintProblem } from "./footprint.js";
import { type Batch, ReferenceTrainer, type StepResult } from "./trainer.js";
import { unsupportedOps } from "../backends/wasm/grad-module.js";
import { unsupportedOps as unsupportedOnWebGpu } from "../backends/wgsl/grad-module.js";
import { WasmTrainer } from "./wasm-trainer.js";
import type { TrainAlgorithmSetting, TrainConvChoice } from "../backends/wasm/grad-algorithms.js";
import { clampThreads } from "../../runtime/open-network.js";
import { WebGpuTrainer } from "./webgpu-trainer.js";

export type TrainingBackend = "reference" | "wasm" | "webgpu";

export interface TrainingOptions extends Pick<CompileOptions, "fileName" | "weights" | "network" | "readFile"> {
  /** Values of the inputs' size symbols (`{ H: 28, W: 28 }`). */
  readonly sizes?: Readonly<Record<string, number>>;
  /** Default `reference`; `auto`: WebAssembly when it runs every op, else the reference. */
  readonly backend?: TrainingBackend | "auto";
  /** Settings that override the source's `train` declaration. */
  readonly config?: Partial<TrainConfig>;
}

export interface Trainer {
  /** One optimiser step on the batch: the batch's loss (before the update) and accuracy for classifiers. */
  step(batch: Batch): Promise<StepResult>;
  evaluate(batch: Batch): Promise<StepResult>;
  /** Float32 safetensors by layer name, for `cnnc compile --weights`. */
  weights(): Uint8Array;
  saveState(): Uint8Array;
  restoreState(bytes: Uint8Array): void;
  /**
   * Brings weights() and saveState() up to date with the device (WebGPU keeps the weights
   * there and reads them back only when asked; a no-op on the other backends).
   */
  sync(): Promise<void>;
  readonly steps: number;
  /** The compiled step's memory in bytes (weights, gradient sums, optimiser state, one sample's values, or the batch's on WebGPU and with batch norm in training mode); undefined on the reference. */
  readonly memoryBytes?: number;
  /** WebGPU: the adapter the step runs on ("llvmpipe (OpenGL ES 3.2 Mesa 22.3.6) via Dawn (OpenGL ES), compatibility mode"). */
  readonly adapter?: string;
  /** WebAssembly: "one thread", "2 threads", or one thread and why not the threads asked for. */
  readonly threading?: string;
  /** WebAssembly: each convolution's algorithm in the step ("gemm" or "winograd") and why. */
  readonly algorithms?: readonly TrainConvChoice[];
  /** Stops the helper threads of a multi-threaded WebAssembly trainer (idle ones never keep Node alive). */
  dispose(): void;
}

export interface LoadOptions {
  /** The run's length in steps, for a cosine schedule that spans the whole run. */
  readonly totalSteps?: number;
  /** WebAssembly only: the batch's samples split across this many threads (clamped to the machine's cores). */
  readonly threads?: number;
  /**
   * WebAssembly only: each convolution's algorithm in the step. `auto` (the default): a cost
   * model per layer; `gemm` or `winograd`: that algorithm wherever it applies.
   */
  readonly convAlgorithm?: TrainAlgorithmSetting;
}

export type TrainingResult =
  | {
      readonly ok: true;
      readonly diagnostics: readonly Diagnostic[];
      readonly config: TrainConfig;
      readonly graph: TrainGraph;
      /** The backend that runs the steps. */
      readonly backend: TrainingBackend;
      /** Layers whose weights were initialised because none were given. */
      readonly initialised: readonly string[];
      /**
       * totalSteps: the run's length, for a cosine schedule that spans the whole run.
       * threads: WebAssembly only, the batch's samples split across this many threads (helper
       * workers; no shared memory needed), clamped to the machine's cores.
       */
      load(options?: LoadOptions): Promise<Trainer>;
    }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export function compileTraining(source: string, options: TrainingOptions = {}): TrainingResult {
  const a = analyse(source, options);
  if (!a.graph || a.log.hasErrors) return { ok: false, diagnostics: a.log.items };
  const log = a.log;
  const file = a.file;
  const forward = a.graph;

  // The train declaration for this network, if the source has one.
  const program = parse(new SourceFile(file.name, source), new DiagnosticLog());
  const decls = program.items.filter((i): i is TrainDecl => i.kind === "train");
  for (const d of decls) {
    const nets = program.items.filter((i) => i.kind === "network").map((i) => i.name.name);
    if (!nets.includes(d.name.name)) log.error(`train names no network of this file: '${d.name.name}'${didYouMean(d.name.name, nets)}`, file, d.name.span);
  }
  const mine = decls.filter((d) => d.name.name === forward.name);
  if (mine.length > 1) log.error(`network ${forward.name} has ${mine.length} train declarations; keep one`, file, mine[1].span);
  const fromSource = mine[0] ? readTrainConfig(mine[0], file, log) : DEFAULT_TRAIN;
  const config: TrainConfig = { ...fromSource, ...options.config, optimiser: { ...fromSource.optimiser, ...options.config?.optimiser } };
  const layers = new Set(forward.nodes.map((n) => n.layer));
  for (const f of config.frozen) {
    if (!layers.has(f)) log.error(`frozen: the network has no layer '${f}'${didYouMean(f, layers)}`, file, mine[0]?.span);
  }
  if (log.hasErrors) return { ok: false, diagnostics: log.items };

  // At the given sizes every window must still fit and every output be at least 1 (what
  // run() checks for a network with symbolic sizes), before any kernel is emitted.
  const sizes = options.sizes ?? {};
  if (forward.symbols.length && forward.symbols.every((s) => sizes[s] !== undefined)) {
    const shown = forward.symbols.map((s) => `${s} = ${sizes[s]}`).join(", ");
    for (const [s, v] of Object.entries(sizes)) {
      if (forward.symbols.includes(s) && (!Number.isSafeInteger(v) || v < 1 || v > MAX_SIZE)) log.error(`size ${s} = ${v} must be a whole number from 1 to ${MAX_SIZE}`, file, mine[0]?.span);
    }
    if (!log.hasErrors) for (const message of new Set(a.checks.filter((c) => evalDim(c.dim, sizes) < 1).map((c) => c.message))) log.error(`${message} (with ${shown})`, file, mine[0]?.span);
    if (log.hasErrors) return { ok: false, diagnostics: log.items };
  }
  let graph: TrainGraph;
  try {
    graph = autodiff(specialise(forward, sizes), { loss: config.loss, output: config.output, frozen: config.frozen, batchStatistics: config.batchStatistics });
  } catch (e) {
    if (!(e instanceof TrainError)) throw e;
    log.error(e.message, file, e.span ?? mine[0]?.span);
    return { ok: false, diagnostics: log.items };
  }
  if (graph.gradients.length === 0) log.error(`nothing to train: every layer of ${forward.name} is frozen or has no weights`, file, mine[0]?.span);
  const tooBig = footprintProblem(graph);
  if (tooBig) log.error(tooBig.message, file, tooBig.node?.span ?? mine[0]?.span);
  const asked = options.backend ?? "reference";
  const missing = asked === "wasm" || asked === "auto" ? unsupportedOps(graph) : [];
  const backend: TrainingBackend = asked === "auto" ? (missing.length ? "reference" : "wasm") : asked;
  const gpuMissing = backend === "webgpu" ? unsupportedOnWebGpu(graph) : [];
  if (gpuMissing.length) {
    log.error(`the WebGPU training step has no kernel yet for ${gpuMissing.join(", ")}; use --backend reference`, file, mine[0]?.span);
  }
  if (backend === "wasm" && missing.length) {
    log.error(`the WebAssembly training step has no kernel yet for ${missing.join(", ")}; use --backend reference`, file, mine[0]?.span);
  }
  if (log.hasErrors) return { ok: false, diagnostics: log.items };

  return {
    ok: true,
    diagnostics: log.items,
    config,
    graph,
    backend,
    initialised: a.initialised,
    load: async (o = {}): Promise<Trainer> => {
      const s = config.optimiser.schedule;
      const optimiser = config.cosineOverRun && s.kind === "cosine" && o.totalSteps ? { ...config.optimiser, schedule: { ...s, total: o.totalSteps } } : config.optimiser;
      const clamp = clampThreads(o.threads);
      const t = backend === "wasm" ? await WasmTrainer.create(graph, optimiser, clamp.threads ?? 1, o.convAlgorithm) : backend === "webgpu" ? await WebGpuTrainer.create(graph, optimiser) : new ReferenceTrainer(graph, optimiser);
      return {
        sync: async () => {
          if (t instanceof WebGpuTrainer) await t.sync();
        },
        step: async (b) => (t instanceof WasmTrainer ? t.stepAsync(b) : t.step(b)),
        dispose: () => {
          if (t instanceof WasmTrainer) t.dispose();
        },
        threading: t instanceof WasmTrainer ? `${t.threading}${clamp.note}` : undefined,
        algorithms: t instanceof WasmTrainer ? t.algorithms : undefined,
        evaluate: async (b) => t.evaluate(b),
        weights: () => t.weights(),
        saveState: () => t.saveState(),
        restoreState: (bytes) => t.restoreState(bytes),
        get steps() {
          return t.steps;
        },
        get memoryBytes() {
          return t instanceof WasmTrainer || t instanceof WebGpuTrainer ? t.memoryBytes : undefined;
        },
        adapter: t instanceof WebGpuTrainer ? t.adapter : undefined,
      };
    },
  };
}
