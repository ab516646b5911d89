// Elementwise add and multiply with broadcasting (residual connections, gating, scaling by a
// per-channel vector): one invocation per output element. The lower-rank operand is padded
// with TRAILING 1s (channels first: [C] lines up with the channel axis of [C, H, W]); then on
// every axis the sizes are equal or the operand's is 1, read with stride 0. An operand of
// the output's shape is read at the output's own index; only a broadcast one pays for
// unravelling the index into per-axis coordinates.

import * as D from "../../ir/dim.js";
import type { BinaryOp } from "../../ir/ops.js";
import { finish } from "./activation.js";
import { boxOf, hull, type KernelSpec, type Program, type RangeFn, staticShape, type StepContext } from "./program.js";

export function binaryKernels(ctx: StepContext, op: BinaryOp): KernelSpec[] {
  const step = ctx.step;
  const a = ctx.input(0, "a");
  const b = ctx.input(1, "b");
  const y = ctx.output();
  const outShape = step.output.shape;
  const rank = outShape.length;
  const padded = (k: number): D.Dim[] => {
    const s = step.inputs[k].shape;
    return Array.from({ length: rank }, (_, axis) => (axis < s.length ? s[axis] : 1));
  };
  const same = (k: number) => {
    const s = step.inputs[k].shape;
    return s.length === rank && s.every((d, axis) => D.dimEquals(d, outShape[axis]));
  };
  /** Row-major strides of the padded operand, 0 on its broadcast (size-1) axes. */
  const operandStrides = (k: number): D.Dim[] => {
    const s = padded(k);
    const out: D.Dim[] = new Array<D.Dim>(rank);
    let stride: D.Dim = 1;
    for (let axis = rank - 1; axis >= 0; axis--) {
      out[axis] = s[axis] === 1 ? 0 : stride;
      stride = D.mul(stride, s[axis]);
    }
    return out;
  };
  const index = (p: Program, k: number): string => {
    if (same(k)) return "i";
    const st = operandStrides(k);
    const terms: string[] = [];
    let outStride: D.Dim = 1;
    for (let axis = rank - 1; axis >= 0; axis--) {
      if (st[axis] !== 0) {
        const coord = axis === 0 ? `(i / ${p.dim(outStride)})` : `((i / ${p.dim(outStride)}) % ${p.dim(outShape[axis])})`;
        terms.push(st[axis] === 1 ? coord : `${coord} * ${p.dim(st[axis])}`);
      }
      outStride = D.mul(outStride, outShape[axis]);
    }
    return terms.length ? terms.join(" + ") : "0";
  };
  const combine = op.kind === "add" ? "+" : "*";
  const spec: KernelSpec = {
    family: op.kind,
    workgroupSize: 256,
    itemsPer: "invocation",
    items: y.elements,
    tensors: [a, b, y],
    body: (p) =>
      [
        `let l = ${p.at("a", index(p, 0))};`,
        `let r = ${p.at("b", index(p, 1))};`,
        finish(p, step.epilogue, `l ${combine} r`, "i"),
      ].join("\n"),
    ranges: binaryRanges(staticShape(outShape), [0, 1].map((k) => staticShape(padded(k)))),
  };
  return [spec];
}

function binaryRanges(out: number[] | undefined, operands: (number[] | undefined)[]): RangeFn | undefined {
  if (!out || operands.some((s) => !s)) return undefined;
  const shapes = operands as number[][];
  return (i0, i1) => {
    const box = boxOf(out, i0, i1);
    const ranges = shapes.map((s) => {
      const lo = box.lo.map((v, axis) => (s[axis] === 1 ? 0 : v));
      const hi = box.hi.map((v, axis) => (s[axis] === 1 ? 0 : v));
      return hull(s, lo, hi);
    });
    return [...ranges, [i0, i1]];
  };
}
