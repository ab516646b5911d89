// Softmax over channels at every position: for an input [C, D1..Dd] (or [N], where the whole
// vector is the channel axis), with P = D1*..*Dd positions, one invocation per position:
//
//   y[c, p] = exp(x[c, p] - m) / sum over c' of exp(x[c', p] - m),   m = max over c of x[c, p]
//
// Subtracting the max keeps exp from overflowing (f32 exp is inf past ~88), and the max
// starts from channel 0's value, so no infinity literal (which WGSL lacks) is needed. The
// exponentials are recomputed in the last pass rather than stored, so y may be any buffer.
// log_softmax writes x[c, p] - (m + log(s)) in the last pass instead.

import * as D from "../../ir/dim.js";
import { finish } from "./activation.js";
import { hull, type KernelSpec, type StepContext } from "./program.js";

export function softmaxKernels(ctx: StepContext, log = false): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const shape = step.inputs[0].shape;
  const C = shape[0];
  const P = D.product(shape.slice(1));
  const spec: KernelSpec = {
    family: log ? "log_softmax" : "softmax",
    workgroupSize: 64,
    itemsPer: "invocation",
    items: P,
    tensors: [x, y],
    body: (p) => {
      const c = p.dim(C);
      const at = (ch: string) => (P === 1 ? ch : `${ch} * ${p.dim(P)} + i`);
      return [
        `var m = ${p.at("x", at("0"))};`,
        `for (var c = 1; c < ${c}; c = c + 1) {`,
        `  m = max(m, ${p.at("x", at("c"))});`,
        `}`,
        `var s = 0.0;`,
        `for (var c = 0; c < ${c}; c = c + 1) {`,
        `  s = s + exp(${p.at("x", at("c"))} - m);`,
        `}`,
        `for (var c = 0; c < ${c}; c = c + 1) {`,
        finish(p, step.epilogue, log ? `${p.at("x", at("c"))} - (m + log(s))` : `exp(${p.at("x", at("c"))} - m) / s`, at("c"))
          .split("\n")
          .map((l) => `  ${l}`)
          .join("\n"),
        `}`,
      ].join("\n");
    },
    ranges:
      typeof C === "number" && typeof P === "number"
        ? (i0, i1) => {
            // Items are positions; every channel at each of them.
            const r = hull([C, P], [0, i0], [C - 1, i1 - 1]);
            return [r, r];
          }
        : undefined,
  };
  return [spec];
}
