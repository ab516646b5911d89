// Go to definition: a value's name goes to the statement (or input) that binds it, a label
// applied again to the layer it labels, a block's use to the block, an output in `-> name` to
// its statement, `train net` to the network; a `weights "file"` path opens the file beside the
// model (it is binary, but the editor shows that it exists and where). Built-in ops and bare
// words (`relu`, `same`) have no definition in the file and give none.

import { existsSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { Span } from "../source.js";
import type { SymbolIndex } from "./symbols.js";
import { occurrenceAt } from "./symbols.js";

export type Target = { readonly kind: "here"; readonly span: Span } | { readonly kind: "file"; readonly uri: string };

/** `fileName` is the document's path, or undefined when it is not a file on disk. */
export function definitionAt(index: SymbolIndex, offset: number, fileName: string | undefined): Target | undefined {
  const w = index.weights.find((x) => x.span.start <= offset && offset <= x.span.end);
  if (w) {
    if (fileName === undefined) return undefined;
    const p = path.resolve(path.dirname(fileName), w.path);
    return existsSync(p) ? { kind: "file", uri: pathToFileURL(p).href } : undefined;
  }
  const d = occurrenceAt(index, offset)?.definition;
  return d ? { kind: "here", span: d.span } : undefined;
}
