// esbuild does not rewrite new URL(..., import.meta.url); its file loader
// (--loader:.wasm=file --loader:.bin=file) emits the files that are imported, and load({ files })
// takes their URLs (only the module that runs is fetched).
import { load } from "./lenet/index.js";
import model from "./lenet/model.wasm";
import relaxed from "./lenet/model.relaxed.wasm";
import tables from "./lenet/tables.bin";
import weights from "./lenet/weights.bin";
import { runLenet } from "./run.js";

const files = { "model.wasm": model, "model.relaxed.wasm": relaxed, "tables.bin": tables, "weights.bin": weights };
runLenet([{ name: "wasm", load, options: { backend: "wasm", files } }]);
