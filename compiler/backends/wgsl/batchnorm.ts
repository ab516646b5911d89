// Batch normalisation at inference, the formula as the reference writes it (a folding pass
// may fold it into the preceding convolution; unfolded, the backend computes it literally):
//
//   y[c, p] = (x[c, p] - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]
//
// One invocation per element. The four parameter vectors are packed into one buffer
// [gamma | beta | mean | var] when the network is loaded, so the kernel binds three storage
// buffers instead of six (compatibility-mode devices allow four).

import * as D from "../../ir/dim.js";
import type { BatchNormOp } from "../../ir/ops.js";
import { finish } from "./activation.js";
import { f32Lit } from "./prelude.js";
import { elementwiseRanges, type KernelSpec, type StepContext } from "./program.js";

export function batchnormKernels(ctx: StepContext, op: BatchNormOp): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const params = ctx.packed("bn", [step.weight, step.bias, step.mean, step.variance]);
  const y = ctx.output();
  const C = step.inputs[0].shape[0];
  const P = D.product(step.inputs[0].shape.slice(1));
  if (typeof C !== "number") throw new Error(`internal error: batchnorm on a symbolic channel count`);
  const elementwise = elementwiseRanges(x.elements, y.elements, 0);
  return [
    {
      family: "batchnorm",
      workgroupSize: 256,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, params, y],
      body: (p) =>
        [
          `let c = i / ${p.dim(P)};`,
          `let gamma = ${p.at("bn", "c")};`,
          `let beta = ${p.at("bn", `${C} + c`)};`,
          `let mean = ${p.at("bn", `${2 * C} + c`)};`,
          `let variance = ${p.at("bn", `${3 * C} + c`)};`,
          finish(p, step.epilogue, `(${p.at("x", "i")} - mean) / sqrt(variance + ${f32Lit(op.eps)}) * gamma + beta`, "i"),
        ].join("\n"),
      // The parameters are small: bound whole in every part.
      ranges: elementwise
        ? (i0, i1, r0, r1) => {
            const [xr, yr] = elementwise(i0, i1, r0, r1);
            return [xr, [0, 4 * C], yr];
          }
        : undefined,
    },
  ];
}
