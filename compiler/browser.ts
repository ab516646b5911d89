// The compiler for browsers (and workers, Deno, anything without node:): the same parser,
// lowering, passes, planner and both emitters as the Node API (compiler/index.ts), with no
// file system. Weights files a model names are read through `options.readFile` (or given as
// bytes with `weights`); a bundle is assembled as in-memory files (bundleFiles), the runtime's
// files coming from a reader the caller gives. Nothing this file reaches imports a `node:`
// module (tests/architecture/imports.test.ts checks it). binaryen.js is loaded at the top, as
// in Node, so that importing this module gives a compile() that can emit WebAssembly.

import { analyse as analyseSource } from "./analyse.js";
import { loadBinaryen } from "./backends/wasm/binaryen.js";
import { compile } from "./compile.js";
import { type Diagnostic, formatDiagnostic, formatDiagnostics, headline, location } from "./diagnostics.js";
import { loadOnnxImporter } from "./import/onnx/front.js";
import { loadTargets } from "./targets.js";
import type { Graph } from "./ir/graph.js";
import type { CompileOptions } from "./options.js";
import type { Plan } from "./plan/plan.js";

await Promise.all([loadBinaryen(), loadOnnxImporter(), loadTargets()]);

export { compile };
export type { Artifacts, CompileFailure, CompileResult, CompileSuccess } from "./compile.js";
export type { CompileOptions, Target, TargetName } from "./options.js";
export type { CompileProgress, CompileStage } from "./progress.js";
export { type BundleFiles, type BundleOptions, bundleFiles, type RuntimeSource } from "./bundle-files.js";
export { explain, layerRows, type LayerRow } from "./explain.js";
export { type GraphPicture, graphPicture } from "./pictures/graph.js";
export { renderSvg } from "./pictures/svg.js";
export { receptiveFields } from "./receptive-field.js";
export { optimise, type OptimiseResult } from "./optimise.js";
export { interpret } from "./reference/interpret.js";
// Training in a page: the same compiled steps (WebAssembly, and WebGPU on the browser's adapter).
export { compileTraining, type Trainer, type TrainingOptions, type TrainingResult } from "./train/compile-training.js";
export type { Batch, StepResult } from "./train/trainer.js";
export { formatDiagnostic, formatDiagnostics, headline, location };
export type { Diagnostic, Graph, Plan };
export type { Network, TensorData } from "../runtime/session.js";

/** Parse, check, lower and bind weights, with no code generation (what `cnnc check` does). */
export function analyse(input: string | Uint8Array, options: CompileOptions = {}): ReturnType<typeof analyseSource> {
  return analyseSource(input, options);
}

/** Where a diagnostic points, as offsets into its file (for an editor's markers); undefined when it has no place. */
export function diagnosticRange(d: Diagnostic): { readonly from: number; readonly to: number } | undefined {
  return d.span ? { from: d.span.start, to: Math.max(d.span.end, d.span.start) } : undefined;
}
