// Vite: the bundles' literal new URL("./file", import.meta.url) references are all it needs;
// Vite emits the .wasm, .bin and .wgsl files and rewrites the URLs.
import { load } from "./lenet/index.js";
import { load as loadGpu } from "./lenet-gpu/index.js";
import { runLenet } from "./run.js";

runLenet([
  { name: "wasm", load, options: { backend: "wasm" } },
  { name: "webgpu", load: loadGpu, options: { backend: "webgpu" } },
]);
