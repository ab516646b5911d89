// The ONNX front end: bytes -> `.cnn` source plus a safetensors file of its weights, or
// messages saying why not. compile()/analyse() call `fromOnnx` when given an ONNX model, so
// every command accepts one; `cnnc import` writes the two files out.

import { writeSafetensors } from "../../tensors/safetensors.js";
import { convert } from "./convert.js";
import { decodeModel } from "./decode.js";

export { isOnnx, looksLikeOnnx } from "./front.js";

export type FromOnnx =
  | { readonly ok: true; readonly source: string; readonly weights: Uint8Array; readonly tensorCount: number }
  | { readonly ok: false; readonly errors: readonly string[] };

export function fromOnnx(bytes: Uint8Array): FromOnnx {
  const d = decodeModel(bytes);
  if (!d.ok) return { ok: false, errors: [d.error] };
  const c = convert(d.model);
  if (!c.ok) return c;
  return { ok: true, source: c.value.source, weights: writeSafetensors(c.value.tensors), tensorCount: c.value.tensors.size };
}
