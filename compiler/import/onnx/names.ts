// ONNX names -> legal, unique `.cnn` identifiers. Generated source never splices an ONNX
// name raw: every name goes through `Namer.take`, and a name that had to change is said in a
// comment (quoted with JSON escaping, so no name can end the comment or the line).

import { BUILTINS } from "../../lower/builtins.js";

const KEYWORDS = new Set(["network", "block", "return", "repeat", "from", "as", "weights", "const", "true", "false", "none", "same", "valid", "full"]);

/** A PyTorch node path `/layer1/layer1.0/conv1/Conv` -> `layer1.0/conv1` (a component repeated by the next is dropped). */
export function layerPath(nodeName: string): string {
  const parts = nodeName.split("/").filter((p) => p.length > 0);
  // The last component of a PyTorch node name is the op type (`Conv`, `Relu_1`): not part of the module path.
  if (parts.length > 1) parts.pop();
  // A node at the top level is named after its op (`/Slice_1`): say it in lower case.
  else if (parts.length === 1 && /^[A-Z][A-Za-z]*(_[0-9]+)?$/.test(parts[0])) return parts[0].toLowerCase();
  return parts.filter((p, i) => !(i + 1 < parts.length && parts[i + 1].startsWith(`${p}.`))).join("/");
}

export function sanitize(raw: string): string {
  let s = raw.replace(/[^A-Za-z0-9_]+/g, "_").replace(/_+/g, "_").replace(/^_+|_+$/g, "");
  if (s === "") s = "v";
  if (/^[0-9]/.test(s)) s = `v${s}`;
  if (KEYWORDS.has(s) || s in BUILTINS) s = `${s}_`;
  return s;
}

/** One namespace for values and labels (the language has one). */
export class Namer {
  private readonly used = new Set<string>();

  /** A fresh identifier for `raw`; `renamed` is true when it is not `raw` itself. */
  take(raw: string): { name: string; renamed: boolean } {
    const base = sanitize(raw);
    let name = base;
    for (let k = 2; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return { name, renamed: name !== raw };
  }
}

/** `raw` quoted for a `//` comment: JSON escaping keeps it on one line. */
export function quoted(raw: string): string {
  return JSON.stringify(raw);
}
