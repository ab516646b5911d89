// matmul: per sample, a [B?, M, K] times b [B?, K, N]; one invocation per output element,
// a loop over K. A straightforward kernel (the tuned GEMMs serve dense and conv).

import * as D from "../../ir/dim.js";
import { finish } from "./activation.js";
import type { KernelSpec, StepContext } from "./program.js";

export function matmulKernels(ctx: StepContext): KernelSpec[] {
  const sa = ctx.step.inputs[0].shape;
  const sb = ctx.step.inputs[1].shape;
  const a = ctx.input(0, "a");
  const b = ctx.input(1, "b");
  const y = ctx.output();
  const r = sa.length;
  const M: D.Dim = sa[r - 2];
  const K: D.Dim = sa[r - 1];
  const N: D.Dim = sb[r - 1];
  return [
    {
      family: "matmul",
      workgroupSize: 64,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [a, b, y],
      body: (p) =>
        [
          `let j = i % ${p.dim(N)};`,
          `let row = i / ${p.dim(N)};`,
          `let q = row / ${p.dim(M)};`,
          `var acc = 0.0;`,
          `for (var k = 0; k < ${p.dim(K)}; k = k + 1) {`,
          `  acc = acc + ${p.at("a", `row * ${p.dim(K)} + k`)} * ${p.at("b", `(q * ${p.dim(K)} + k) * ${p.dim(N)} + j`)};`,
          `}`,
          finish(p, ctx.step.epilogue, "acc", "i"),
        ].join("\n"),
      ranges: undefined,
    },
  ];
}
