// compile() for Node: compile.ts with the file system (node-files.ts) and binaryen loaded
// through the Node cache (binaryen-node.ts). The API (compiler/index.ts) re-exports it; the
// CLI's code-generating commands import this file alone, so that `cnnc compile` loads neither
// training nor pictures nor, for `.cnn` source, the ONNX importer.

import { loadBinaryen } from "./backends/wasm/binaryen.js";
import { loadBinaryenForNode } from "./binaryen-node.js";
import { type CompileResult, compile as compileSource } from "./compile.js";
import { withFileSystem } from "./node-files.js";
import type { CompileOptions } from "./options.js";

// compile() is synchronous and emits WebAssembly with binaryen, which loads asynchronously
// and slowly; it is loaded here, once, so that importing this module gives a ready compile().
// In Node through the split package and V8's code cache, which save most of the load after
// the first run.
await loadBinaryen(loadBinaryenForNode);

export function compile(source: string | Uint8Array, options: CompileOptions = {}): CompileResult {
  return compileSource(source, withFileSystem(options));
}
