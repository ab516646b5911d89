// resize: one invocation per output element. The taps (two input coordinates and a weight
// per output coordinate and axis, ir/resize.ts) are computed at compile time and written
// into the program as module-scope constant arrays, so no float rounding on the GPU can move
// a nearest-neighbour tie; the body sums the 2^d corners (1 for nearest).

import type { ResizeOp } from "../../ir/ops.js";
import { resizeTaps } from "../../ir/resize.js";
import { finish } from "./activation.js";
import { f32Lit } from "./prelude.js";
import type { KernelSpec, StepContext } from "./program.js";
import { unravel } from "./window.js";

export function resizeKernels(ctx: StepContext, op: ResizeOp): KernelSpec[] {
  const shape = ctx.step.inputs[0].shape as number[];
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const M = shape.slice(1);
  const d = M.length;
  const linear = op.mode === "linear";
  const decls: string[] = [];
  M.forEach((m, a) => {
    const t = resizeTaps(op, a, m);
    const n = op.out[a];
    decls.push(`const rlo${a} = array<i32, ${n}>(${Array.from(t.lo).join(", ")});`);
    if (linear) {
      decls.push(`const rhi${a} = array<i32, ${n}>(${Array.from(t.hi).join(", ")});`);
      decls.push(`const rw${a} = array<f32, ${n}>(${Array.from(t.w, f32Lit).join(", ")});`);
    }
  });
  return [
    {
      family: "resize",
      workgroupSize: 256,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, y],
      workgroupDecl: decls.join("\n"),
      workgroupBytes: 0,
      body: (p) => {
        const lines = [unravel(p, op.out, "c")];
        for (let a = 0; a < d; a++) {
          lines.push(`let lo${a} = rlo${a}[j${a}];`);
          if (linear) lines.push(`let hi${a} = rhi${a}[j${a}];`, `let w${a} = rw${a}[j${a}];`);
        }
        const terms: string[] = [];
        for (let corner = 0; corner < (linear ? 1 << d : 1); corner++) {
          let src = "c";
          const ws: string[] = [];
          for (let a = 0; a < d; a++) {
            const high = (corner >> a) & 1;
            src = `(${src}) * ${M[a]} + ${high ? `hi${a}` : `lo${a}`}`;
            if (linear) ws.push(high ? `w${a}` : `(1.0 - w${a})`);
          }
          terms.push([...ws, p.at("x", src)].join(" * "));
        }
        lines.push(finish(p, ctx.step.epilogue, terms.join(" + "), "i"));
        return lines.join("\n");
      },
      ranges: undefined,
    },
  ];
}
