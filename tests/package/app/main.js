// Vite, webpack 5 and Rollup: the bundles' literal new URL("./file", import.meta.url) references
// are all they need (Rollup with @web/rollup-plugin-import-meta-assets); they emit the .wasm, .bin
// and .wgsl files and rewrite the URLs.
import { load } from "./lenet/index.js";
import { load as loadGpu } from "./lenet-gpu/index.js";
import { runLenet } from "./run.js";

runLenet([
  { name: "wasm", load, options: { backend: "wasm" } },
  { name: "webgpu", load: loadGpu, options: { backend: "webgpu" } },
]);
