// The convolution algorithms of the WebGPU backend, by name: a conv step whose algorithm is
// not direct (and that has no fused pool, which only direct computes) gets its algorithm's
// kernels from here. Each returns undefined for a layer it cannot compute (module.ts then
// runs the direct kernel, which computes the same).

import type { ConvOp } from "../../ir/ops.js";
import { assertNever } from "../../ir/ops.js";
import { fftKernels } from "./fft.js";
import { gemmKernels } from "./gemm.js";
import type { KernelSpec, StepContext } from "./program.js";
import { separableKernels } from "./separable.js";
import { winogradKernels } from "./winograd.js";

export function algorithmKernels(ctx: StepContext): KernelSpec[] | undefined {
  const step = ctx.step;
  const op = step.op;
  if (op.kind !== "conv" || !step.algorithm || step.algorithm.name === "direct" || step.pool) return undefined;
  if (typeof step.inputs[0].shape[0] !== "number") return undefined;
  const conv: ConvOp = op;
  switch (step.algorithm.name) {
    case "gemm":
      return gemmKernels(ctx, conv);
    case "winograd2":
      return winogradKernels(ctx, conv, 2);
    case "winograd4":
      return winogradKernels(ctx, conv, 4);
    case "fft":
      return fftKernels(ctx, conv);
    case "separable":
      return separableKernels(ctx, conv);
    case "direct_simd":
    case "winograd1d":
      // WebAssembly's own algorithms (not in the WebGPU target's set, never chosen for it): the direct kernel.
      return undefined;
    default:
      return assertNever(step.algorithm.name);
  }
}
