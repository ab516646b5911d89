// transpose: one invocation per output element; its index is unravelled over the output's
// axes and the source is the sum of each coordinate times the input's stride of the axis it
// came from (perm[k]).

import * as D from "../../ir/dim.js";
import type { TransposeOp } from "../../ir/ops.js";
import { finish } from "./activation.js";
import type { KernelSpec, StepContext } from "./program.js";
import { unravel } from "./window.js";

export function transposeKernels(ctx: StepContext, op: TransposeOp): KernelSpec[] {
  const shape = ctx.step.inputs[0].shape;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const out = op.perm.map((p) => shape[p]);
  return [
    {
      family: "transpose",
      workgroupSize: 256,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, y],
      body: (p) => {
        const coords = ["c0", ...out.slice(1).map((_, a) => `j${a}`)];
        const terms = op.perm.map((axis, k) => `${coords[k]} * ${p.dim(D.product(shape.slice(axis + 1)))}`);
        return [unravel(p, out.slice(1), "c0"), `let src = ${terms.join(" + ")};`, finish(p, ctx.step.epilogue, p.at("x", "src"), "i")].join("\n");
      },
      ranges: undefined,
    },
  ];
}
