// Cross-channel pooling (maxout): the max over each group of k consecutive channels at every
// position, one invocation per output element:
//
//   y[c', p] = max over c in [c'*k, (c'+1)*k) of x[c, p]
//
// The max starts from the group's first channel, so no infinity literal (WGSL has none).

import * as D from "../../ir/dim.js";
import type { MaxoutOp } from "../../ir/ops.js";
import { finish } from "./activation.js";
import { hull, type KernelSpec, type StepContext } from "./program.js";

export function maxoutKernels(ctx: StepContext, op: MaxoutOp): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const P = D.product(step.inputs[0].shape.slice(1));
  const C = step.inputs[0].shape[0];
  return [
    {
      family: "maxout",
      workgroupSize: 256,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, y],
      body: (p) => {
        const per = p.dim(P);
        return [
          `let q = i / ${per};`,
          `let pos = i % ${per};`,
          `let first = q * ${op.k} * ${per} + pos;`,
          `var m = ${p.at("x", "first")};`,
          `for (var c = 1; c < ${op.k}; c = c + 1) {`,
          `  m = max(m, ${p.at("x", `first + c * ${per}`)});`,
          `}`,
          finish(p, step.epilogue, "m", "i"),
        ].join("\n");
      },
      ranges:
        typeof P === "number" && typeof C === "number"
          ? (i0, i1) => {
              const q0 = Math.floor(i0 / P);
              const q1 = Math.floor((i1 - 1) / P);
              const lo = q0 === q1 ? i0 % P : 0;
              const hi = q0 === q1 ? (i1 - 1) % P : P - 1;
              return [hull([C, P], [q0 * op.k, lo], [(q1 + 1) * op.k - 1, hi]), [i0, i1]];
            }
          : undefined,
    },
  ];
}
