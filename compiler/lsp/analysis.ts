// One document's analysis: what `cnnc check` does (parse, check names and shapes, lower, bind
// weights; never the passes or the code generators, so binaryen is never loaded), plus the
// symbol index that hover and go to definition read. A file with several networks is checked
// network by network (the CLI asks for --network there; an editor shows every network's
// problems instead), and each diagnostic is kept once.
//
// Weights files named by `weights "..."` are read through a cache keyed by path, size and
// modification time, so typing in a model with a 100 MB weights file beside it does not read
// 100 MB on every keystroke.

import { statSync, readFileSync } from "node:fs";
import type { Program } from "../../dsl/ast.js";
import { parse } from "../../dsl/parse.js";
import { analyse } from "../analyse.js";
import { DiagnosticLog, type Diagnostic } from "../diagnostics.js";
import type { Graph } from "../ir/graph.js";
import { MAX_WEIGHTS_FILE_BYTES } from "../limits.js";
import { lower } from "../lower/lower.js";
import { SourceFile } from "../source.js";
import { indexSymbols, type SymbolIndex } from "./symbols.js";

export interface Analysis {
  readonly file: SourceFile;
  /** The compiler's diagnostics, as `cnnc check` reports them. */
  readonly diagnostics: readonly Diagnostic[];
  /** Absent when the file does not parse. */
  readonly program?: Program;
  readonly symbols?: SymbolIndex;
  /** One graph per network that lowers (its shapes are known even if its weights failed). */
  readonly graphs: readonly Graph[];
}

interface CachedFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly bytes: Uint8Array;
}

const weightsCache = new Map<string, CachedFile>();

/** Reads a weights file as analyse() does (a regular file of bounded size), from the cache when unchanged. */
export function readWeightsCached(p: string): Uint8Array {
  const st = statSync(p);
  if (!st.isFile()) throw new Error("not a regular file");
  if (st.size > MAX_WEIGHTS_FILE_BYTES) throw new Error(`${st.size} bytes, more than the ${MAX_WEIGHTS_FILE_BYTES} a weights file may have`);
  const hit = weightsCache.get(p);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.bytes;
  const bytes = new Uint8Array(readFileSync(p));
  weightsCache.set(p, { size: st.size, mtimeMs: st.mtimeMs, bytes });
  return bytes;
}

const key = (d: Diagnostic) => `${d.severity}\u0000${d.span?.start}\u0000${d.span?.end}\u0000${d.message}`;

/** An unsaved buffer has no folder: a `weights "..."` in it names no file. */
function noFolder(): Uint8Array {
  throw new Error("the document is not saved, so there is no folder to find it in");
}

/** Checks a document's text; `fileName` is its path (weights files are found beside it) unless `onDisk` is false. */
export function analyseText(text: string, fileName: string, onDisk = true): Analysis {
  const file = new SourceFile(fileName, text);
  const parseLog = new DiagnosticLog();
  const program = parse(file, parseLog);
  if (parseLog.hasErrors) return { file, diagnostics: parseLog.items, graphs: [] };
  const symbols = indexSymbols(program);
  const networks = program.items.filter((i) => i.kind === "network").map((n) => n.name.name);
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  const graphs: Graph[] = [];
  // No network, or one: exactly what `cnnc check` says. Several: each on its own.
  const names: (string | undefined)[] = networks.length > 1 ? [...new Set(networks)] : [undefined];
  for (const network of names) {
    const a = analyse(text, { fileName, network, readFile: onDisk ? readWeightsCached : noFolder });
    for (const d of a.log.items) {
      if (seen.has(key(d))) continue;
      seen.add(key(d));
      diagnostics.push(d);
    }
    if (a.graph) graphs.push(a.graph);
    else if (network !== undefined || networks.length === 1) {
      // Shapes for hover even when the weights did not bind (the lowering alone, errors unused).
      const lowered = lower(program, file, new DiagnosticLog(), network);
      if (lowered) graphs.push(lowered.graph);
    }
  }
  return { file, diagnostics, program, symbols, graphs };
}
