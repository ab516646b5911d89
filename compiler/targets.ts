// The targets by name (`--target`, compile()'s `target`): each backend folder's Target, and
// `all`, which plans for both at once. The only file besides the public API's edges that
// knows every backend: adding one is a line here (docs/backends.md).

import { WASM } from "./backends/wasm/target.js";
import { WEBGPU } from "./backends/wgsl/target.js";
import { allOf, type Target, type TargetName } from "./target.js";

// WebAssembly first: `all` ranks with its fitted cost model and times with its autotuner.
const ALL = allOf("all", WASM, WEBGPU);

export const TARGETS: Readonly<Record<TargetName, Target>> = { wasm: WASM, webgpu: WEBGPU, all: ALL };
