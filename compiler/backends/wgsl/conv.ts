// Direct convolution (cross-correlation, or true convolution with `flip`), 1-D to 3-D, with
// stride, dilation, zero padding, groups and channel / location / no bias:
//
//   y[o, j] = bias + sum over c in o's group, k of  x[c, j*s + k*r - padBefore] * w[o, c, k]
//
// One invocation per output element (only the kept outputs of a strided layer are ever
// computed), so any shape maps onto the GPU without tiling decisions that would need
// per-shape tuning, and a split step's parts are plain ranges of outputs. The zero padding
// is never materialised: each axis's kernel-offset range is clamped once, before the channel
// loop, to the offsets that land on real input, so the inner loop is a bare multiply-add
// (and an axis that cannot leave the input keeps literal bounds the shader compiler can
// unroll). Accumulation is f32, the only float WGSL has everywhere; the tests hold it to 1e-4
// of the reference. With a fused pool (fusion, issue 5) an invocation computes one POOLED
// output: pool.ts's window loops around this sum, evaluated at each window position.

import * as D from "../../ir/dim.js";
import { type ConvOp, effectiveKernel, windowGeometry } from "../../ir/ops.js";
import { producerFrame, producerKernel } from "./producer.js";
import { boxOf, type KernelSpec, type Program, type RangeFn, staticShape, type StepContext } from "./program.js";
import { tapLoops, windowBounds, windowHull } from "./window.js";

export function convKernels(ctx: StepContext, op: ConvOp): KernelSpec[] {
  const f = producerFrame(ctx, op.bias);
  const { b, inShape, outShape, M } = f;
  const d = M.length;
  const K = op.kernel;
  const geo = windowGeometry(M, K, op.stride, op.dilation, op.pad);
  const clamp = geo.padBefore.map((pb, a) => pb !== 0 || geo.padAfter[a] !== 0);
  const Cg = D.floordiv(inShape[0], op.groups);
  const Og = op.filters / op.groups;
  const Kprod = K.reduce((s, v) => s * v, 1);

  /** The sum at output position j0..j(d-1) of channel o into `acc`; `split`: over this dispatch's channel chunk. */
  const sum = (p: Program, split: boolean): string[] => {
    const lines: string[] = [];
    for (let a = 0; a < d; a++) lines.push(windowBounds(p, a, op.stride[a], op.dilation[a], K[a], geo.padBefore[a], M[a], clamp[a]));
    lines.push(`let cg = ${p.dim(Cg)};`);
    lines.push(`let x0 = (o / ${Og}) * cg;`);
    lines.push(`var acc = 0.0;`);
    const cLo = split ? p.reduceLo() : "0";
    const cHi = split && typeof Cg === "number" ? p.reduceHi() : "cg";
    lines.push(
      ...tapLoops(p, {
        channels: [cLo, cHi],
        xChannel: `(x0 + c) * ${p.dim(D.product(M))}`,
        wChannel: `(o * cg + c) * ${Kprod}`,
        M,
        kernel: K,
        dilation: op.dilation,
        flip: op.flip,
        weightScale: 1,
      }),
    );
    return lines;
  };
  const biasAt = (p: Program, index: string) => (!b ? "" : op.bias === "location" ? ` + ${p.at("b", index)}` : ` + ${p.at("b", "o")}`);
  const ranges = convRanges(op, staticShape(inShape), staticShape(outShape), staticShape(geo.padBefore), !!b);
  return [producerKernel(ctx, f, { family: "conv", sum: (p, _index, split) => sum(p, split), bias: biasAt, ranges, extent: typeof Cg === "number" ? Cg : undefined })];
}

function convRanges(op: ConvOp, inShape: number[] | undefined, outShape: number[] | undefined, padBefore: number[] | undefined, hasBias: boolean): RangeFn | undefined {
  if (!inShape || !outShape || !padBefore) return undefined;
  const Cg = inShape[0] / op.groups;
  const Og = op.filters / op.groups;
  const Kprod = op.kernel.reduce((s, v) => s * v, 1);
  return (i0, i1, r0, r1) => {
    const box = boxOf(outShape, i0, i1);
    const [o0, o1] = [box.lo[0], box.hi[0]];
    // Input channels r0..r1-1 of each group the outputs are in.
    const keff = op.kernel.map((k, a) => effectiveKernel(k, op.dilation[a]));
    const input = windowHull(inShape, box, [Math.floor(o0 / Og) * Cg + r0, Math.floor(o1 / Og) * Cg + r1 - 1], op.stride, keff, padBefore);
    const ranges: (readonly [number, number])[] = [input, [(o0 * Cg + r0) * Kprod, (o1 * Cg + r1) * Kprod]];
    if (hasBias) ranges.push(op.bias === "location" ? [i0, i1] : [o0, o1 + 1]);
    ranges.push([i0, i1]);
    return ranges;
  };
}
