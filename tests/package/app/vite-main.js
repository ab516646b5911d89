// Vite: the bundle's literal new URL("./file", import.meta.url) references are all it needs;
// Vite emits the .wasm and .bin files and rewrites the URLs.
import { load } from "./lenet/index.js";
import { runLenet } from "./run.js";

runLenet(load, {});
