// Dense (fully connected) layer over the flattened input:
//
//   y[u] = bias[u] + sum over i of  w[u, i] * x[i]      (w is [units, inputs], row-major)
//
// A long dot product (a classifier's first dense layer sums thousands of products) is one
// workgroup per unit: its invocations stride over the row, so neighbouring invocations read
// neighbouring weights, then a tree reduction in workgroup memory (WG floats, 1 KiB at 256)
// sums their partial sums; a tree also keeps the f32 rounding error growing with log(n)
// rather than n. A short one (fewer inputs than a workgroup) is one invocation per unit.

import { finish } from "./activation.js";
import { indent, type KernelSpec, type Program, type StepContext, type TensorUse } from "./program.js";
import type { DenseOp } from "../../ir/ops.js";

const COOPERATIVE_FROM = 256;

export function denseKernels(ctx: StepContext, op: DenseOp): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const w = ctx.weight("w");
  const b = op.bias === "none" ? undefined : ctx.bias("b");
  const y = ctx.output();
  if (!step.weight) throw new Error(`internal error: layer ${step.layer} has no weight in the plan`);
  const n = step.weight.shape[1];
  const tensors: TensorUse[] = b ? [x, w, b, y] : [x, w, y];
  const cooperative = n >= COOPERATIVE_FROM;
  const addBias = (p: Program) => (b ? ` + ${p.at("b", "i")}` : "");

  const body = (p: Program): string => {
    const lines = [`let row = i * ${n};`, `var acc = 0.0;`];
    const store = (v: string) => `${p.at("y", "i")} = ${v};`;
    const complete = (v: string) => finish(p, step.epilogue, `${v}${addBias(p)}`, "i");
    const lo = p.reduceLo();
    const hi = p.reduceHi();
    if (cooperative) {
      lines.push(
        `for (var t = ${lo} + i32(lid); t < ${hi}; t = t + i32(WG)) {`,
        `  acc = acc + ${p.at("w", "row + t")} * ${p.at("x", "t")};`,
        `}`,
        `partial[lid] = acc;`,
        `workgroupBarrier();`,
        `for (var s = WG / 2u; s > 0u; s = s / 2u) {`,
        `  if (lid < s) {`,
        `    partial[lid] = partial[lid] + partial[lid + s];`,
        `  }`,
        `  workgroupBarrier();`,
        `}`,
        `if (lid == 0u) {`,
        indent(p.accumulate("i", "partial[0]", complete, store)),
        `}`,
      );
    } else {
      lines.push(
        `for (var t = ${lo}; t < ${hi}; t = t + 1) {`,
        `  acc = acc + ${p.at("w", "row + t")} * ${p.at("x", "t")};`,
        `}`,
        p.accumulate("i", "acc", complete, store),
      );
    }
    return lines.join("\n");
  };

  const spec: KernelSpec = {
    family: "dense",
    workgroupSize: cooperative ? 256 : 64,
    itemsPer: cooperative ? "workgroup" : "invocation",
    items: op.units,
    tensors,
    workgroupDecl: cooperative ? `var<workgroup> partial: array<f32, WG>;` : undefined,
    workgroupBytes: cooperative ? 4 * 256 : 0,
    body,
    reduce: { extent: n },
    ranges: (u0, u1, r0, r1) => {
      const r: (readonly [number, number])[] = [
        [r0, r1],
        [u0 * n + r0, (u1 - 1) * n + r1],
      ];
      if (b) r.push([u0, u1]);
      r.push([u0, u1]);
      return r;
    },
  };
  return [spec];
}
