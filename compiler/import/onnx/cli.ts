// The ONNX parts of the command line, kept here so cli.ts only calls in: reading a model
// file as `.cnn` text or ONNX bytes (recognised by content, or the .onnx extension), and
// `cnnc import model.onnx -o model.cnn`, which writes the source and `model.safetensors`
// beside it, both or neither, after checking that the source compiles with those weights.

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { analyse } from "../../analyse.js";
import { withFileSystem } from "../../node-files.js";
import { formatDiagnostic } from "../../diagnostics.js";
import { fromOnnx, isOnnx } from "./index.js";

/** A model file's content: bytes when it is an ONNX model, else text. Throws the fs error. */
export function readModelFile(file: string): string | Uint8Array {
  const bytes = new Uint8Array(readFileSync(file));
  return isOnnx(bytes, file) ? bytes : new TextDecoder().decode(bytes);
}

export interface ImportOutcome {
  /** 0 written, 1 the model cannot be imported (messages in `stderr`). */
  readonly code: 0 | 1;
  readonly stdout: string;
  readonly stderr: string;
}

/** `cnnc import MODEL.onnx -o OUT.cnn`: OUT.cnn and OUT.safetensors, written whole or not at all. */
export function importCommand(model: string, out: string): ImportOutcome {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(model));
  } catch (e) {
    return { code: 1, stdout: "", stderr: `${model}: error: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n` };
  }
  const r = fromOnnx(bytes);
  if (!r.ok) return { code: 1, stdout: "", stderr: r.errors.map((e) => `${model}: error: ${e}\n`).join("") };
  const weightsPath = out.replace(/\.cnn$/i, "") + ".safetensors";
  // The source must compile with its weights before anything is written.
  const check = analyse(r.source, withFileSystem({ fileName: out, weights: r.weights }));
  if (check.log.hasErrors) {
    return { code: 1, stdout: "", stderr: check.log.items.map((d) => `${formatDiagnostic(d)}\n`).join("") + `${model}: error: the imported source does not compile (a cnnc bug: please report it)\n` };
  }
  const tmp = [`${out}.tmp-${process.pid}`, `${weightsPath}.tmp-${process.pid}`];
  try {
    writeFileSync(tmp[0], r.source);
    writeFileSync(tmp[1], r.weights);
    renameSync(tmp[1], weightsPath);
    renameSync(tmp[0], out);
  } catch (e) {
    for (const t of tmp) rmSync(t, { force: true });
    return { code: 1, stdout: "", stderr: `${out}: error: cannot write (${(e as Error).message})\n` };
  }
  return {
    code: 0,
    stdout: `wrote ${out} and ${path.basename(weightsPath)} (${r.tensorCount} tensors); run it with: cnnc run ${out} --weights ${weightsPath} --input ...\n`,
    stderr: "",
  };
}
