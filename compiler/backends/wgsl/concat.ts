// Concatenation along channels. Tensors are stored channels first, row-major, so the output
// is the inputs' element blocks one after another: one dispatch per input copies it to its
// running offset (through the epilogue). One dispatch per input rather than one program
// reading every input keeps each shader at two storage bindings, however many inputs a
// concat has (maxStorageBuffersPerShaderStage is 4 on compatibility-mode devices). A copy
// (flatten or reshape given a buffer of its own, which the plan normally avoids by aliasing)
// is the one-input case.

import * as D from "../../ir/dim.js";
import { finish } from "./activation.js";
import { elementwiseRanges, type KernelSpec, type StepContext } from "./program.js";

export function concatKernels(ctx: StepContext): KernelSpec[] {
  const y = ctx.output();
  let offset: D.Dim = 0;
  return ctx.step.inputs.map((_, k) => {
    const x = ctx.input(k, "x");
    const at = offset;
    offset = D.add(offset, x.elements);
    return {
      family: ctx.step.inputs.length === 1 ? "copy" : "concat",
      workgroupSize: 256,
      itemsPer: "invocation",
      items: x.elements,
      tensors: [x, y],
      body: (p) => {
        const dst = at === 0 ? "i" : `${p.dim(at)} + i`;
        return finish(p, ctx.step.epilogue, p.at("x", "i"), dst);
      },
      ranges: elementwiseRanges(x.elements, y.elements, at),
    };
  });
}
