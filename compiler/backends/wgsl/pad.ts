// pad: one invocation per output element. Its coordinates are unravelled, and per axis the
// source coordinate q = j - before is clamped (edge, and constant for the address) or folded
// as min(|q|, 2(m - 1) - |q|) (reflect), the rule of ir/ops.ts padSource; constant mode
// selects the fill value where any axis' q left [0, m).

import type { PadOp } from "../../ir/ops.js";
import { finish } from "./activation.js";
import { f32Lit } from "./prelude.js";
import type { KernelSpec, StepContext } from "./program.js";
import { unravel } from "./window.js";

export function padKernels(ctx: StepContext, op: PadOp): KernelSpec[] {
  const shape = ctx.step.inputs[0].shape;
  const outShape = ctx.step.output.shape;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const M = shape.slice(1);
  return [
    {
      family: "pad",
      workgroupSize: 256,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, y],
      body: (p) => {
        const lines = [unravel(p, outShape.slice(1), "c")];
        let src = "c";
        const inside: string[] = [];
        M.forEach((m, a) => {
          const last = `(${p.dim(m)} - 1)`;
          lines.push(`let q${a} = j${a} - ${op.before[a]};`);
          if (op.mode === "reflect") lines.push(`let r${a} = abs(q${a});`, `let s${a} = max(min(r${a}, 2 * ${last} - r${a}), 0);`);
          else lines.push(`let s${a} = clamp(q${a}, 0, ${last});`);
          if (op.mode === "constant") inside.push(`q${a} == s${a}`);
          src = `(${src}) * ${p.dim(m)} + s${a}`;
        });
        lines.push(`let src = ${src};`);
        const read = p.at("x", "src");
        const value = inside.length ? `select(${f32Lit(op.value)}, ${read}, ${inside.join(" && ")})` : read;
        lines.push(finish(p, ctx.step.epilogue, value, "i"));
        return lines.join("\n");
      },
      ranges: undefined,
    },
  ];
}
