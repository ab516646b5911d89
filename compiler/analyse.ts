// The front of the pipeline: parse, check, lower and bind weights, with no code generation.
// `cnnc check` needs only this; it imports neither the passes nor the emitters, so checking a
// model never loads binaryen (compiler/backends/wasm/binaryen.ts).
// It touches no file system: weights files named by the source or by `weights` are read
// through `options.readFile`, which the Node entry (node-files.ts) fills with node:fs and a
// browser caller fills with whatever it has (or leaves out: then naming a file is an error).
// Paths are handled as POSIX paths (paths.ts), so this module runs in a browser as well.

import { parse } from "../dsl/parse.js";
import { DiagnosticLog } from "./diagnostics.js";
import type { Graph } from "./ir/graph.js";
import { lower } from "./lower/lower.js";
import { bindWeights, type WeightsFile } from "./lower/weights.js";
import type { Plan } from "./plan/plan.js";
import type { CompileOptions } from "./options.js";
import { dirname, isAbsolute, join, normalize } from "./paths.js";
import { SourceFile } from "./source.js";
import { readSafetensors } from "./tensors/safetensors.js";
import { isOnnx, onnxImporter } from "./import/onnx/front.js";

/** Parse, check and lower to a graph with bound weights (no code generation). */
export function analyse(
  input: string | Uint8Array,
  options: CompileOptions = {},
): { log: DiagnosticLog; file: SourceFile; graph?: Graph; checks: Plan["checks"]; initialised: string[] } {
  const fileName = options.fileName ?? "<input>";
  // An ONNX model is imported to `.cnn` source and its weights, then goes the same way.
  let source: string;
  if (isOnnx(input, options.fileName, options.format)) {
    const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
    const fromOnnx = onnxImporter();
    if (!fromOnnx) throw new Error("internal error: an ONNX model reached analyse() before the importer was loaded (await loadOnnxImporter(), import/onnx/front.ts)");
    const imported = fromOnnx(bytes);
    if (!imported.ok) {
      const log = new DiagnosticLog();
      for (const e of imported.errors) log.error(e, new SourceFile(fileName, ""));
      return { log, file: new SourceFile(fileName, ""), checks: [], initialised: [] };
    }
    if (options.weights !== undefined) {
      const log = new DiagnosticLog();
      log.error("an ONNX model carries its weights; --weights applies to .cnn source", new SourceFile(fileName, ""));
      return { log, file: new SourceFile(fileName, ""), checks: [], initialised: [] };
    }
    source = imported.source;
    options = { ...options, weights: imported.weights, format: "cnn" };
  } else source = typeof input === "string" ? input : new TextDecoder().decode(input);
  const file = new SourceFile(fileName, source);
  const log = new DiagnosticLog();
  const program = parse(file, log);
  if (log.hasErrors) return { log, file, checks: [], initialised: [] };
  const lowered = lower(program, file, log, options.network);
  if (!lowered || log.hasErrors) return { log, file, checks: [], initialised: [] };
  const read = options.readFile ?? noFileAccess;
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
    const rel = normalize(wf.path);
    if (isAbsolute(wf.path) || rel === ".." || rel.startsWith("../")) {
      log.error(`weights file ${wf.path} is outside the model's folder; a model reads weights only from its own folder (give others with --weights)`, file, wf.span);
      continue;
    }
    const p = join(dirname(fileName), rel);
    load(wf.path, () => read(p), wf.span);
  }
  if (log.hasErrors) return { log, file, checks: [], initialised: [] };
  const initialised = bindWeights(lowered.pending, files, log, file);
  if (log.hasErrors) return { log, file, checks: [], initialised };
  return { log, file, graph: lowered.graph, checks: lowered.checks, initialised };
}

/** The reader when the caller gives none: a compiler without a file system (a browser). */
function noFileAccess(): Uint8Array {
  throw new Error("this compiler has no file access (pass the weights' bytes, or a readFile option)");
}
