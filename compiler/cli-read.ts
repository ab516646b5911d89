// Reading the files the CLI is given, refusing what is not what it should be: a model must be
// UTF-8 text or an ONNX model (read as bytes and imported: compiler/import/onnx/); a .pt or an
// image is said so in one line, instead of a parser's thousands of errors.

import { readFileSync } from "node:fs";
import { whyFailed } from "./output-path.js";

/** An ONNX ModelProto: protobuf whose first field is ir_version (field 1, varint: 0x08) and that has a graph (field 7, bytes: 0x3a). */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  if (bytes.length < 16 || bytes[0] !== 0x08) return false;
  // ir_version is a small varint (3..12 so far); then more fields, one of them the graph.
  if (bytes[1] === 0 || bytes[1] > 0x7f) return false;
  return bytes.subarray(0, Math.min(bytes.length, 1 << 16)).includes(0x3a);
}

/** What a binary file seems to be, for the one-line refusal. */
export function describeBinary(bytes: Uint8Array): string {
  const starts = (...b: number[]) => b.every((v, i) => bytes[i] === v);
  if (starts(0x50, 0x4b, 0x03, 0x04)) return "this is a zip archive (a PyTorch .pt/.pth checkpoint is one): export the model to .cnn text";
  if (starts(0x80) && (bytes[1] ?? 0) <= 5) return "this looks like a Python pickle (a PyTorch checkpoint): export the model to .cnn text";
  if (starts(0x89, 0x50, 0x4e, 0x47) || starts(0xff, 0xd8, 0xff)) return "this is an image: give it to `cnnc run --input NAME=FILE`";
  if (starts(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return "this is a .npy array: give it to `cnnc run --input NAME=FILE`";
  if (starts(0x00, 0x61, 0x73, 0x6d)) return "this is a WebAssembly module";
  return "this is not a .cnn model (a binary file)";
}

/** A model file: ONNX bytes (recognised by content, or the .onnx extension), or `.cnn` text; or why not. */
export function readModel(file: string): { ok: true; model: string | Uint8Array } | { ok: false; error: string } {
  const r = readModelText(file, true);
  return r.ok ? { ok: true, model: r.onnx ?? r.text } : r;
}

/** The text of a model file, or why not (one line, without the file name). */
export function readModelText(file: string, acceptOnnx = false): { ok: true; text: string; onnx?: Uint8Array } | { ok: false; error: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EISDIR") return { ok: false, error: "is a folder, not a .cnn file" };
    return { ok: false, error: `cannot read the file (${code ?? whyFailed(e)})` };
  }
  if (acceptOnnx && (looksLikeOnnx(bytes) || /\.onnx$/i.test(file))) return { ok: true, text: "", onnx: new Uint8Array(bytes) };
  // Text never has NUL bytes; a model is UTF-8; an ONNX file may have neither in its header.
  if (bytes.includes(0) || looksLikeOnnx(bytes)) return { ok: false, error: `not .cnn text (UTF-8): ${describeBinary(bytes)}` };
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return { ok: true, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
  } catch {
    return { ok: false, error: `not .cnn text (UTF-8): ${describeBinary(bytes)}` };
  }
}
