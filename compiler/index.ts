// The programmatic API for Node: compile(source, options) -> { ok, diagnostics, graph, plan,
// artifacts, load() } (compile.ts), reading the weights files a model names from the file
// system (node-files.ts) unless the caller gives `readFile`. The browser entry
// (compiler/browser.ts) is the same compiler without the file system.

import { analyse as analyseSource } from "./analyse.js";
import { formatDiagnostics, type Diagnostic } from "./diagnostics.js";
import { loadOnnxImporter } from "./import/onnx/front.js";
import { loadTargets } from "./targets.js";
import { withFileSystem } from "./node-files.js";
import type { CompileOptions } from "./options.js";
import { compileTraining as compileTrainingSource, type TrainingOptions, type TrainingResult } from "./train/compile-training.js";

// compile() and analyse() are synchronous, take ONNX models and compile for every target: the
// importer and the targets are loaded here, once (node-compile.ts loads binaryen the same way).
await Promise.all([loadOnnxImporter(), loadTargets()]);

export { compile } from "./node-compile.js";

export type { CompileOptions, Target, TargetName } from "./options.js";
export type { CompileProgress, CompileStage } from "./progress.js";
export type { Artifacts, CompileFailure, CompileResult, CompileSuccess } from "./compile.js";

/** Parse, check, lower and bind weights (no code generation): analyse.ts with the file system. */
export function analyse(input: string | Uint8Array, options: CompileOptions = {}): ReturnType<typeof analyseSource> {
  return analyseSource(input, withFileSystem(options));
}

export function compileTraining(source: string, options: TrainingOptions = {}): TrainingResult {
  return compileTrainingSource(source, withFileSystem(options));
}

export { formatDiagnostics };
export type { Diagnostic };
export type { Network, TensorData } from "../runtime/session.js";
export type { Trainer, TrainingOptions, TrainingResult } from "./train/compile-training.js";

// Pictures and receptive fields (pure modules: the playground and the language server import
// them directly too). graphPicture(compile(...)) -> renderSvg / renderDot.
export { graphPicture, type GraphPicture, type PictureBox, type PictureEdge } from "./pictures/graph.js";
export { renderSvg } from "./pictures/svg.js";
export { renderDot } from "./pictures/dot.js";
export { type AxisField, type Fraction, printField, type ReceptiveField, receptiveFields } from "./receptive-field.js";
