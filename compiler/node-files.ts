// The compiler's file access in Node: the edge that supplies node:fs to the pure front
// (analyse.ts reads weights files only through `options.readFile`). The Node API
// (compiler/index.ts) and the CLI pass their options through `withFileSystem`; the browser
// entry (compiler/browser.ts) never imports this file.

import { readFileSync, statSync } from "node:fs";
import { MAX_WEIGHTS_FILE_BYTES } from "./limits.js";
import type { CompileOptions } from "./options.js";

/** Reads a weights file: a regular file only (not a FIFO or a device) and of bounded size. */
export function readWeightsFile(p: string): Uint8Array {
  const st = statSync(p);
  if (!st.isFile()) throw new Error("not a regular file");
  if (st.size > MAX_WEIGHTS_FILE_BYTES) throw new Error(`${st.size} bytes, more than the ${MAX_WEIGHTS_FILE_BYTES} a weights file may have`);
  return new Uint8Array(readFileSync(p));
}

/** The options with the file system as their reader, unless the caller gave one. */
export function withFileSystem<O extends CompileOptions>(options: O): O {
  return options.readFile ? options : { ...options, readFile: readWeightsFile };
}
