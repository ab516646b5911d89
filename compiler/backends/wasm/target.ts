// The WebAssembly target: what the passes ask of this backend, answered from its own files.
// Its kernels apply every epilogue after every convolution-like producer; it implements every
// algorithm (direct_simd and winograd1d only here); whether one computes a layer is the algorithm's own
// applicability (its kernels take any size); its costs are the fitted model of cost.ts; it
// times candidates synchronously inside the pass (autotune.ts); it emits module.ts's module.

import { applicable } from "../../algorithms/applicability.js";
import type { AlgorithmName } from "../../ir/graph.js";
import type { Op } from "../../ir/ops.js";
import type { Fusion, Target } from "../../target.js";
import { autotune } from "./autotune.js";
import { estimateMs, poolPassMs, whyWasm } from "./cost.js";
import { emitWasm, WasmLimitError } from "./module.js";

/** Producers whose kernels apply an epilogue (conv, local, tiled, deconv, dense, and every convolution algorithm's). */
const PRODUCERS: ReadonlySet<Op["kind"]> = new Set<Op["kind"]>(["conv", "local", "tiled", "deconv", "dense"]);
const FUSION: ReadonlySet<Fusion> = new Set<Fusion>(["activation", "add", "pool"]);

export const WASM: Target = {
  name: "wasm",
  backends: ["wasm"],
  fuses: (producer, item) => PRODUCERS.has(producer) && FUSION.has(item),
  algorithms: new Set<AlgorithmName>(["direct", "gemm", "winograd2", "winograd4", "winograd1d", "fft", "separable", "direct_simd"]),
  allows: (name, n, g) => applicable(name, n, g),
  estimateMs: (name, s) => estimateMs(name, s),
  why: whyWasm,
  poolMs: poolPassMs,
  autotune,
  emit(plan, options) {
    let w;
    try {
      w = emitWasm(plan, { optimize: options.wasmOptimize, timings: options.timings, onProgress: options.onProgress });
    } catch (e) {
      // Each tensor fits, but together (after memory planning) they pass the 2 GiB memory: no one layer to blame.
      if (e instanceof WasmLimitError) return { ok: false, message: e.message };
      throw e;
    }
    return { ok: true, emitted: { manifest: { wasm: w.manifest }, wasm: w.binary, wasmRelaxed: w.relaxed, tables: w.tables } };
  },
};
