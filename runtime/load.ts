// Loading a generated bundle: fetch its files relative to the bundle's URL (a file: URL in
// Node, http(s) in a browser), pick a backend and build the Network. Imports nothing from
// the compiler; only runtime/ files are copied into a bundle.

import type { Manifest } from "./manifest.js";
import { Network } from "./session.js";
import { WasmExecutor } from "./wasm.js";

export interface LoadOptions {
  /** "auto" (the default) picks WebGPU when an adapter exists, else WebAssembly. */
  readonly backend?: "wasm" | "webgpu" | "auto";
}

export async function readBundleFile(base: URL, name: string): Promise<Uint8Array> {
  const url = new URL(name, base);
  if (url.protocol === "file:") {
    const fs = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    return new Uint8Array(await fs.readFile(fileURLToPath(url)));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url.href}: ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

export function weightsFromBytes(bytes: Uint8Array, expected: number): Float32Array {
  if (bytes.byteLength !== expected) throw new Error(`the weights file has ${bytes.byteLength} bytes, expected ${expected}`);
  // Copy into a fresh, aligned buffer: the file's bytes may sit at any offset.
  const out = new Float32Array(expected / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Builds a network from a manifest and its files, already in memory. */
export async function networkFromArtifacts(
  manifest: Manifest,
  files: { wasm?: Uint8Array; weights: Uint8Array },
  options: LoadOptions = {},
): Promise<Network> {
  const backend = options.backend ?? "auto";
  if (backend === "webgpu") throw new Error("this bundle was compiled without a WebGPU target; compile with --target webgpu or all");
  if (!manifest.wasm || !files.wasm) throw new Error("this bundle has no WebAssembly module");
  const weights = weightsFromBytes(files.weights, manifest.weights.bytes);
  const exec = await WasmExecutor.create(files.wasm, manifest.wasm, weights);
  const executor = {
    backend: "wasm" as const,
    runSample: (env: Record<string, number>, inputs: readonly Float32Array[]) => exec.runSample(env, manifest.symbols, inputs),
  };
  return new Network(manifest, executor, "WebAssembly (one thread)");
}

/** Loads the bundle whose files sit next to `base` (the bundle's index.js URL). */
export async function loadBundle(manifest: Manifest, base: URL, options: LoadOptions = {}): Promise<Network> {
  const weights = await readBundleFile(base, manifest.weights.file);
  const wasm = manifest.wasm ? await readBundleFile(base, manifest.wasm.file) : undefined;
  return networkFromArtifacts(manifest, { wasm, weights }, options);
}
