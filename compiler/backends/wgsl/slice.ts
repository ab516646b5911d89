// slice along one axis: one invocation per output element, which reads its source at
// (o * m + start + j * step) * inner + r for the output index (o * n + j) * inner + r.

import * as D from "../../ir/dim.js";
import type { SliceOp } from "../../ir/ops.js";
import { finish } from "./activation.js";
import type { KernelSpec, StepContext } from "./program.js";

export function sliceKernels(ctx: StepContext, op: SliceOp): KernelSpec[] {
  const shape = ctx.step.inputs[0].shape;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const n = Math.max(0, Math.ceil((op.end - op.start) / op.step));
  const inner = D.product(shape.slice(op.axis + 1));
  const m = shape[op.axis];
  return [
    {
      family: "slice",
      workgroupSize: 256,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, y],
      body: (p) =>
        [
          `let r = i % ${p.dim(inner)};`,
          `let j = (i / ${p.dim(inner)}) % ${n};`,
          `let o = i / (${p.dim(inner)} * ${n});`,
          `let src = (o * ${p.dim(m)} + ${op.start} + j * ${op.step}) * ${p.dim(inner)} + r;`,
          finish(p, ctx.step.epilogue, p.at("x", "src"), "i"),
        ].join("\n"),
      ranges: undefined,
    },
  ];
}
