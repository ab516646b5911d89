// Vitest setup: load binaryen before any test runs, as importing "cnnc" (compiler/index.ts)
// does, so that tests calling the WebAssembly emitters directly (emitWasm on a hand-built
// plan) find it loaded. See compiler/backends/wasm/binaryen.ts for why it is lazy.

import { loadBinaryen } from "../compiler/backends/wasm/binaryen.js";
import { loadTargets } from "../compiler/targets.js";

// The WebGPU target too, which the API entries load at start-up and tests of optimise() or
// compile.ts need without going through them.
await Promise.all([loadBinaryen(), loadTargets()]);
