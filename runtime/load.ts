// Loading with every backend: what the compiler (compile().load, the CLI) and the `cnnc/runtime`
// entry use. A generated bundle does not import this file: its index.js hands
// runtime/open-network.ts only the backends it was compiled for, so that a web app's bundler
// ships nothing else.

import type { Manifest } from "./manifest.js";
import { type Backends, type LoadOptions, type NetworkFiles, networkFromFiles, openBundle } from "./open-network.js";
import type { Network } from "./session.js";
import { threadSupport } from "./threads.js";
import { wasmBackend } from "./wasm.js";
import { webgpuBackend } from "./webgpu.js";

export { BackendError, type GpuProvider, type LoadOptions, weightsFromBytes } from "./open-network.js";

/** WebAssembly (with threads) and WebGPU. */
export const allBackends: Backends = { wasm: wasmBackend(threadSupport), webgpu: webgpuBackend };

/** Builds a network from a manifest and its files, already in memory, on every backend. */
export function networkFromArtifacts(manifest: Manifest, files: NetworkFiles, options: LoadOptions = {}): Promise<Network> {
  return networkFromFiles(manifest, files, options, allBackends);
}

/** Loads the bundle whose files sit in folder `base` (a URL ending in "/"), on every backend. */
export function loadBundle(manifest: Manifest, base: URL, options: LoadOptions = {}): Promise<Network> {
  return openBundle(manifest, base, options, allBackends);
}
