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
import { finish } from "./activation.js";
import { pooledProducerBody, pooledRanges } from "./pool.js";
import { boxOf, hull, type KernelSpec, type Program, type RangeFn, staticShape, type StepContext, type TensorUse } from "./program.js";

/**
 * Unravels flat output index `i` of [C, J1..Jd] into `channel` and `j0..j(d-1)` (named
 * `<prefix>j<a>`: a fused pool's loops take prefixed names, leaving the plain ones to the
 * producer computed inside them).
 */
export function unravel(p: Program, J: readonly D.Dim[], channel: string, prefix = ""): string {
  const lines: string[] = [];
  let rest = "i";
  for (let a = J.length - 1; a >= 0; a--) {
    lines.push(`let ${prefix}j${a} = ${rest} % ${p.dim(J[a])};`);
    lines.push(`let ${prefix}t${a} = ${rest} / ${p.dim(J[a])};`);
    rest = `${prefix}t${a}`;
  }
  lines.push(`let ${channel} = ${rest};`);
  return lines.join("\n");
}

/**
 * Per axis: `s{a}` the input coordinate of kernel offset 0, and `lo{a}`..`hi{a}` the offsets
 * that land on real input (0 <= s + k*r < m); literal 0..K when the axis has no padding and
 * no partial window, so it can never leave the input.
 */
export function windowBounds(p: Program, a: number, stride: number, dilation: number, k: number, padBefore: D.Dim, m: D.Dim, clamp: boolean, prefix = ""): string {
  const [j, s, lo, hi] = ["j", "s", "lo", "hi"].map((n) => `${prefix}${n}${a}`);
  const start = padBefore === 0 ? `${j} * ${stride}` : `${j} * ${stride} - ${p.dim(padBefore)}`;
  const lines = [`let ${s} = ${start};`];
  if (clamp) {
    lines.push(`let ${lo} = max(0, ceil_div(-${s}, ${dilation}));`);
    lines.push(`let ${hi} = min(${k}, ceil_div(${p.dim(m)} - ${s}, ${dilation}));`);
  } else {
    lines.push(`let ${lo} = 0;`, `let ${hi} = ${k};`);
  }
  return lines.join("\n");
}

/**
 * The channel and kernel-offset loops of a windowed sum (conv, local, tiled): for c in
 * `channels`, k per axis in lo..hi (from windowBounds), acc += x[xChannel + position] *
 * w[wChannel + offset(k) * weightScale], the kernel offset row-major (reversed with `flip`).
 */
export function tapLoops(
  p: Program,
  o: {
    channels: [string, string];
    xChannel: string;
    wChannel: string;
    M: readonly D.Dim[];
    kernel: readonly number[];
    dilation: readonly number[];
    flip: boolean;
    weightScale: number;
  },
): string[] {
  const d = o.M.length;
  const lines = [`for (var c = ${o.channels[0]}; c < ${o.channels[1]}; c = c + 1) {`, `  let xc = ${o.xChannel};`, `  let wc = ${o.wChannel};`];
  let xPrev = "xc";
  let wPrev = "wc";
  let pad = "  ";
  for (let a = 0; a < d; a++) {
    const xStride = D.product(o.M.slice(a + 1));
    const wStride = o.kernel.slice(a + 1).reduce((s, v) => s * v, 1) * o.weightScale;
    const kk = o.flip ? `${o.kernel[a] - 1} - k${a}` : `k${a}`;
    const pos = o.dilation[a] === 1 ? `s${a} + k${a}` : `s${a} + k${a} * ${o.dilation[a]}`;
    lines.push(`${pad}for (var k${a} = lo${a}; k${a} < hi${a}; k${a} = k${a} + 1) {`);
    pad += "  ";
    lines.push(`${pad}let xi${a} = ${xPrev} + (${pos})${xStride === 1 ? "" : ` * ${p.dim(xStride)}`};`);
    lines.push(`${pad}let wi${a} = ${wPrev} + (${kk})${wStride === 1 ? "" : ` * ${wStride}`};`);
    xPrev = `xi${a}`;
    wPrev = `wi${a}`;
  }
  lines.push(`${pad}acc = acc + ${p.at("x", xPrev)} * ${p.at("w", wPrev)};`);
  for (let a = d; a >= 0; a--) lines.push(`${"  ".repeat(a)}}`);
  return lines;
}

/** Input element range of a windowed op for output box [lo, hi] (channels given separately), static shapes. */
export function windowHull(
  inShape: readonly number[],
  box: { lo: readonly number[]; hi: readonly number[] },
  channels: [number, number],
  stride: readonly number[],
  keff: readonly number[],
  padBefore: readonly number[],
): [number, number] {
  const lo = [channels[0]];
  const hi = [channels[1]];
  for (let a = 1; a < inShape.length; a++) {
    lo.push(Math.max(0, box.lo[a] * stride[a - 1] - padBefore[a - 1]));
    hi.push(Math.min(inShape[a] - 1, box.hi[a] * stride[a - 1] - padBefore[a - 1] + keff[a - 1] - 1));
  }
  return hull(inShape, lo, hi);
}

export function convKernels(ctx: StepContext, op: ConvOp): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const w = ctx.weight("w");
  const b = op.bias === "none" ? undefined : ctx.bias("b");
  const y = ctx.output();
  const inShape = step.inputs[0].shape;
  // The convolution's own output: before a fused pool, if the step has one.
  const outShape = step.pool?.inShape ?? step.output.shape;
  const M = inShape.slice(1);
  const J = outShape.slice(1);
  const d = M.length;
  const K = op.kernel;
  const geo = windowGeometry(M, K, op.stride, op.dilation, op.pad);
  const clamp = geo.padBefore.map((pb, a) => pb !== 0 || geo.padAfter[a] !== 0);
  const Cg = D.floordiv(inShape[0], op.groups);
  const Og = op.filters / op.groups;
  const Kprod = K.reduce((s, v) => s * v, 1);
  const tensors: TensorUse[] = b ? [x, w, b, y] : [x, w, y];

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

  const body = (p: Program): string => {
    if (step.pool) return pooledProducerBody(p, step, (index) => ({ lines: sum(p, false), value: `acc${biasAt(p, index)}` }));
    const lines = [unravel(p, J, "o"), ...sum(p, true)];
    const store = (v: string) => `${p.at("y", "i")} = ${v};`;
    lines.push(p.accumulate("i", "acc", (v) => finish(p, step.epilogue, `${v}${biasAt(p, "i")}`, "i"), store));
    return lines.join("\n");
  };

  const ranges = convRanges(op, staticShape(inShape), staticShape(outShape), staticShape(geo.padBefore), !!b);
  const extent = typeof Cg === "number" ? Cg : undefined;
  return [
    {
      family: "conv",
      workgroupSize: 64,
      itemsPer: "invocation",
      items: y.elements,
      tensors,
      body,
      // A pooled step's reduction cannot be split: the pool is not linear in the partial sums.
      ranges: step.pool ? extent !== undefined ? pooledRanges(step.pool, step.output.shape, ranges, extent) : undefined : ranges,
      reduce: extent !== undefined && !step.pool ? { extent } : undefined,
    },
  ];
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
