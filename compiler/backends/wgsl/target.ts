// The WebGPU target: what the passes ask of this backend, answered from its own files. Its
// kernels apply every epilogue after every convolution-like producer; it implements every
// algorithm but direct_simd; its kernels add limits of their own to an algorithm's
// applicability (cost.ts's webgpuApplicable: FFT tile sizes, 2-D/3-D separable, binding
// sizes); its costs are cost.ts's analytic model. It cannot time inside the synchronous pass
// (a GPU answers asynchronously): `--autotune` times it around compile()
// (compiler/autotune-webgpu.ts). It emits module.ts's programs; a limit that splitting cannot
// meet (GpuLimitError) is the user's error at that layer.

import { applicable, convShape } from "../../algorithms/applicability.js";
import type { AlgorithmName } from "../../ir/graph.js";
import type { Op } from "../../ir/ops.js";
import type { Fusion, Target } from "../../target.js";
import { estimateWebGpuMs, webgpuApplicable, whyWebGpu } from "./cost.js";
import { emitWgsl, GpuLimitError } from "./module.js";

/** Producers whose kernels apply an epilogue (conv, local, tiled, deconv, dense, and every convolution algorithm's). */
const PRODUCERS: ReadonlySet<Op["kind"]> = new Set<Op["kind"]>(["conv", "local", "tiled", "deconv", "dense"]);
const FUSION: ReadonlySet<Fusion> = new Set<Fusion>(["activation", "add", "pool"]);

export const WEBGPU: Target = {
  name: "webgpu",
  backends: ["webgpu"],
  fuses: (producer, item) => PRODUCERS.has(producer) && FUSION.has(item),
  algorithms: new Set<AlgorithmName>(["direct", "gemm", "winograd2", "winograd4", "fft", "separable"]),
  allows: (name, n, g) => applicable(name, n, g) ?? webgpuApplicable(name, convShape(n, g)),
  estimateMs: estimateWebGpuMs,
  why: whyWebGpu,
  emit(plan, options) {
    try {
      const w = emitWgsl(plan, { limits: options.webgpuLimits, onProgress: options.onProgress });
      return { ok: true, emitted: { manifest: { webgpu: w.manifest }, wgsl: w.programs.map((p) => p.code) } };
    } catch (e) {
      if (!(e instanceof GpuLimitError)) throw e;
      return { ok: false, layer: e.layer, message: e.message };
    }
  },
};
