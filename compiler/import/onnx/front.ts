// How analyse() reaches the ONNX importer without loading it for `.cnn` source: decoding ONNX
// needs protobufjs and the importer's modules (about 50 ms to load in Node), which checking or
// compiling a `.cnn` model never uses. So analyse.ts imports only this file: the sniffing below
// and the importer once something has loaded it. The API entries (compiler/index.ts,
// compiler/browser.ts) load it at start-up; the CLI loads it when the file it reads is ONNX.

import type { FromOnnx } from "./index.js";

let importer: ((bytes: Uint8Array) => FromOnnx) | undefined;

/** Loads the importer once; later calls return at once. */
export async function loadOnnxImporter(): Promise<void> {
  importer ??= (await import("./index.js")).fromOnnx;
}

/** The importer, once loadOnnxImporter() has resolved; undefined before (importing then is a bug). */
export function onnxImporter(): ((bytes: Uint8Array) => FromOnnx) | undefined {
  return importer;
}

/** True when the bytes look like an ONNX model rather than `.cnn` text: protobuf field 1 or 2 or 7 or 8 first. */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  return bytes.length > 0 && [0x08, 0x12, 0x1a, 0x3a].includes(bytes[0]);
}

/** Whether `input` (a file's bytes or text, and its name) is an ONNX model rather than `.cnn` source. */
export function isOnnx(input: string | Uint8Array, fileName?: string, format?: "cnn" | "onnx"): boolean {
  if (format) return format === "onnx";
  if (typeof input === "string") return false;
  return looksLikeOnnx(input) || /\.onnx$/i.test(fileName ?? "");
}
