// The targets by name (`--target`, compile()'s `target`): each backend folder's Target, and
// `all`, which plans for both at once. The only file besides the public API's edges that
// knows every backend: adding one is a line here (docs/backends.md).
//
// WebAssembly's target is always here. WebGPU's (the WGSL emitters and cost model, 30 modules)
// is loaded by loadTargets(): the API entries await it at start-up, the CLI for the target it
// was given, so that `cnnc compile` (WebAssembly by default) never loads it.

import { WASM } from "./backends/wasm/target.js";
import { allOf, type Target, type TargetName } from "./target.js";

let webgpu: Target | undefined;
let all: Target | undefined;

/** Loads what the named targets need (all of them by default); later calls return at once. */
export async function loadTargets(names: readonly TargetName[] = ["wasm", "webgpu", "all"]): Promise<void> {
  if (names.some((n) => n !== "wasm")) webgpu ??= (await import("./backends/wgsl/target.js")).WEBGPU;
}

/** The target of that name, once loadTargets() has loaded it (asking before is a bug). */
export function targetNamed(name: TargetName): Target {
  if (name === "wasm") return WASM;
  if (!webgpu) throw new Error(`internal error: target ${name} asked for before loadTargets() loaded it (compiler/targets.ts)`);
  // WebAssembly first: `all` ranks with its fitted cost model and times with its autotuner.
  return name === "webgpu" ? webgpu : (all ??= allOf("all", WASM, webgpu));
}
