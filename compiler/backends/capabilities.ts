// What each backend implements, so that the passes produce only what it can run: fused
// epilogue kinds and convolution algorithms. A plan for several targets uses what they all
// have. Each backend widens its entry as it gains kernels.

import type { AlgorithmName } from "../ir/graph.js";
import type { TargetCapabilities } from "../passes/pass.js";

type Fusion = "activation" | "add" | "pool";

export const WASM: TargetCapabilities = {
  name: "wasm",
  fusion: new Set<Fusion>(["activation", "add", "pool"]),
  algorithms: new Set<AlgorithmName>(["direct", "gemm", "winograd2", "winograd4", "fft", "separable", "direct_simd"]),
};

export const WEBGPU: TargetCapabilities = {
  name: "webgpu",
  fusion: new Set<Fusion>(["activation", "add", "pool"]),
  algorithms: new Set<AlgorithmName>(["direct", "gemm", "winograd2", "winograd4", "fft", "separable"]),
};

export function capabilitiesFor(target: "wasm" | "webgpu" | "all"): TargetCapabilities {
  if (target === "wasm") return WASM;
  if (target === "webgpu") return WEBGPU;
  return {
    name: "wasm",
    fusion: new Set([...WASM.fusion].filter((f) => WEBGPU.fusion.has(f))),
    algorithms: new Set([...WASM.algorithms].filter((a) => WEBGPU.algorithms.has(a))),
  };
}
