// `cnnc export MODEL.cnn -o MODEL.onnx [--weights W] [--network NAME]`: the model as an
// ONNX file (opset 17), written whole or not at all; kept out of cli.ts so it only calls in.

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { formatDiagnostic } from "../diagnostics.js";
import { analyse } from "../analyse.js";
import { loadOnnxImporter } from "../import/onnx/front.js";
import { withFileSystem } from "../node-files.js";
import { EXPORT_OPSET, exportOnnx } from "./onnx.js";

export interface ExportOutcome {
  readonly code: 0 | 1;
  readonly stdout: string;
  readonly stderr: string;
}

export async function exportCommand(model: string, out: string, weights?: string, network?: string): Promise<ExportOutcome> {
  let source: string | Uint8Array;
  try {
    source = new Uint8Array(readFileSync(model));
  } catch (e) {
    return { code: 1, stdout: "", stderr: `${model}: error: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n` };
  }
  // An ONNX model exports too (imported, then written back in cnnc's own operator set).
  await loadOnnxImporter();
  const a = analyse(source, withFileSystem({ fileName: model, weights, network }));
  const diags = a.log.items.map((d) => `${formatDiagnostic(d)}\n`).join("");
  if (!a.graph || a.log.hasErrors) return { code: 1, stdout: "", stderr: diags };
  const r = exportOnnx(a.graph);
  if (!r.ok) return { code: 1, stdout: "", stderr: diags + r.errors.map((e) => `${model}: error: ${e}\n`).join("") };
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, r.bytes);
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    return { code: 1, stdout: "", stderr: `${out}: error: cannot write (${(e as Error).message})\n` };
  }
  const note = a.initialised.length ? `note: no weights given for ${a.initialised.join(", ")}: exported with seeded initial weights\n` : "";
  return { code: 0, stdout: `wrote ${out} (ONNX opset ${EXPORT_OPSET}, ${r.bytes.byteLength} bytes)\n`, stderr: diags + note };
}
