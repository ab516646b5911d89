// Pooling: a summary of each window (max, average, Lp norm, Gaussian-weighted average) with
// stride, dilation, padding and ceil mode, and adaptive pooling (region i of n over m spans
// [floor(i*m/n), ceil((i+1)*m/n))). One invocation per output element.
//
// As in conv.ts the padding is never materialised: each axis's window offsets are clamped to
// those on real input, so padded positions never win a max and add nothing to a sum, and the
// ceil mode's partial window needs no special case. The divisor of an average is the number
// of real elements, or with countPad the window positions inside the padded input (not the
// ceil-mode overhang past it). WGSL has no infinity literal: the max starts from the lowest
// finite f32 and a count of real elements says whether anything was seen, so an empty window
// gives 0 as in the reference. Gaussian weights exp(-d^2 / (2 sigma^2)) are computed from the
// offsets in the loop (d in input pixels from the window's centre), normalised by the sum of
// the weights of the real elements.

import * as D from "../../ir/dim.js";
import { type AdaptivePoolOp, effectiveKernel, type PoolOp, windowGeometry } from "../../ir/ops.js";
import { finish } from "./activation.js";
import { unravel, windowBounds } from "./conv.js";
import { f32Lit } from "./prelude.js";
import { boxOf, hull, type KernelSpec, type Program, type RangeFn, staticShape, type StepContext } from "./program.js";

export function poolKernels(ctx: StepContext, op: PoolOp): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const inShape = step.inputs[0].shape;
  const outShape = step.output.shape;
  const M = inShape.slice(1);
  const J = outShape.slice(1);
  const d = M.length;
  const K = op.window;
  const geo = windowGeometry(M, K, op.stride, op.dilation, op.pad, op.ceil);
  const clamp = geo.padBefore.map((pb, a) => op.ceil || pb !== 0 || geo.padAfter[a] !== 0);

  const body = (p: Program): string => {
    const lines = [unravel(p, J, "c")];
    for (let a = 0; a < d; a++) lines.push(windowBounds(p, a, op.stride[a], op.dilation[a], K[a], geo.padBefore[a], M[a], clamp[a]));
    const real = Array.from({ length: d }, (_, a) => `max(hi${a} - lo${a}, 0)`).join(" * ");
    lines.push(`let n = ${real};`);
    if (op.mode === "avg" && op.countPad) {
      // Window positions inside the padded input: all K unless a ceil window overhangs it.
      const inPadded = Array.from({ length: d }, (_, a) =>
        op.ceil ? `min(${K[a]}, ceil_div(${p.dim(D.add(M[a], geo.padAfter[a]))} - s${a}, ${op.dilation[a]}))` : `${K[a]}`,
      ).join(" * ");
      lines.push(`let padded = ${inPadded};`);
    }
    lines.push(op.mode === "max" ? `var acc = LOWEST_F32;` : `var acc = 0.0;`);
    if (op.mode === "gauss") lines.push(`var weights = 0.0;`, `var q = 0.0;`);
    lines.push(`let xc = c * ${p.dim(D.product(M))};`);
    let xPrev = "xc";
    let pad = "";
    for (let a = 0; a < d; a++) {
      const xStride = D.product(M.slice(a + 1));
      const pos = op.dilation[a] === 1 ? `s${a} + k${a}` : `s${a} + k${a} * ${op.dilation[a]}`;
      lines.push(`${pad}for (var k${a} = lo${a}; k${a} < hi${a}; k${a} = k${a} + 1) {`);
      pad += "  ";
      lines.push(`${pad}let xi${a} = ${xPrev} + (${pos})${xStride === 1 ? "" : ` * ${p.dim(xStride)}`};`);
      if (op.mode === "gauss") {
        const centre = (K[a] - 1) / 2;
        lines.push(`${pad}let d${a} = (f32(k${a}) - ${f32Lit(centre)}) * ${f32Lit(op.dilation[a])};`);
        lines.push(`${pad}let q${a} = ${a === 0 ? "0.0" : `q${a - 1}`} + d${a} * d${a};`);
      }
      xPrev = `xi${a}`;
    }
    lines.push(`${pad}let v = ${p.at("x", xPrev)};`);
    lines.push(`${pad}${accumulate(op, d)}`);
    for (let a = d - 1; a >= 0; a--) lines.push(`${"  ".repeat(a)}}`);
    lines.push(finish(p, step.epilogue, result(op), "i"));
    return lines.join("\n");
  };

  return [
    {
      family: "pool",
      workgroupSize: 128,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, y],
      body,
      ranges: windowRanges(staticShape(inShape), staticShape(outShape), (a, lo, hi) => {
        const pb = geo.padBefore[a];
        if (typeof pb !== "number") return undefined;
        const keff = effectiveKernel(K[a], op.dilation[a]);
        return [lo * op.stride[a] - pb, hi * op.stride[a] - pb + keff - 1];
      }),
    },
  ];
}

function accumulate(op: PoolOp, d: number): string {
  switch (op.mode) {
    case "max":
      return `acc = max(acc, v);`;
    case "avg":
      return `acc = acc + v;`;
    case "lp":
      if (op.p === 1) return `acc = acc + abs(v);`;
      if (op.p === 2) return `acc = acc + v * v;`;
      // pow(0, p) is undefined in WGSL (it is exp2(p * log2(0))): zeros add nothing anyway.
      return `acc = acc + select(0.0, pow(abs(v), ${f32Lit(op.p)}), v != 0.0);`;
    case "gauss": {
      const inv = 1 / (2 * op.sigma * op.sigma);
      return `let g = exp(-q${d - 1} * ${f32Lit(inv)});\nacc = acc + g * v;\nweights = weights + g;`.replace(/\n/g, "\n" + "  ".repeat(d));
    }
  }
}

function result(op: PoolOp): string {
  switch (op.mode) {
    case "max":
      return `select(0.0, acc, n > 0)`;
    case "avg":
      // An empty window has acc = 0, and 0 / 1 is the reference's 0.
      return `acc / f32(max(${op.countPad ? "padded" : "n"}, 1))`;
    case "lp":
      if (op.p === 1) return `acc`;
      if (op.p === 2) return `sqrt(acc)`;
      return `select(0.0, pow(acc, ${f32Lit(1 / op.p)}), acc > 0.0)`;
    case "gauss":
      return `select(0.0, acc / weights, weights > 0.0)`;
  }
}

export function adaptivePoolKernels(ctx: StepContext, op: AdaptivePoolOp): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const inShape = step.inputs[0].shape;
  const M = inShape.slice(1);
  const d = M.length;
  const n = op.out;

  const body = (p: Program): string => {
    const lines = [unravel(p, n, "c")];
    for (let a = 0; a < d; a++) {
      lines.push(`let lo${a} = (j${a} * ${p.dim(M[a])}) / ${n[a]};`);
      lines.push(`let hi${a} = ceil_div((j${a} + 1) * ${p.dim(M[a])}, ${n[a]});`);
    }
    lines.push(`let n = ${Array.from({ length: d }, (_, a) => `max(hi${a} - lo${a}, 0)`).join(" * ")};`);
    lines.push(op.mode === "max" ? `var acc = LOWEST_F32;` : `var acc = 0.0;`);
    lines.push(`let xc = c * ${p.dim(D.product(M))};`);
    let xPrev = "xc";
    let pad = "";
    for (let a = 0; a < d; a++) {
      const xStride = D.product(M.slice(a + 1));
      lines.push(`${pad}for (var k${a} = lo${a}; k${a} < hi${a}; k${a} = k${a} + 1) {`);
      pad += "  ";
      lines.push(`${pad}let xi${a} = ${xPrev} + k${a}${xStride === 1 ? "" : ` * ${p.dim(xStride)}`};`);
      xPrev = `xi${a}`;
    }
    lines.push(`${pad}let v = ${p.at("x", xPrev)};`);
    lines.push(`${pad}${op.mode === "max" ? "acc = max(acc, v);" : "acc = acc + v;"}`);
    for (let a = d - 1; a >= 0; a--) lines.push(`${"  ".repeat(a)}}`);
    const value = op.mode === "max" ? `select(0.0, acc, n > 0)` : `acc / f32(max(n, 1))`;
    lines.push(finish(p, step.epilogue, value, "i"));
    return lines.join("\n");
  };

  return [
    {
      family: "adaptive_pool",
      workgroupSize: 128,
      itemsPer: "invocation",
      items: y.elements,
      tensors: [x, y],
      body,
      ranges: windowRanges(staticShape(inShape), staticShape(step.output.shape), (a, lo, hi) => {
        const m = inShape[a + 1];
        if (typeof m !== "number") return undefined;
        return [Math.floor((lo * m) / n[a]), Math.ceil(((hi + 1) * m) / n[a]) - 1];
      }),
    },
  ];
}

/** Channel c reads channel c; spatial axis a's output interval [lo, hi] reads `span(a, lo, hi)`. */
function windowRanges(
  inShape: number[] | undefined,
  outShape: number[] | undefined,
  span: (axis: number, lo: number, hi: number) => [number, number] | undefined,
): RangeFn | undefined {
  if (!inShape || !outShape) return undefined;
  if (inShape.slice(1).some((_, a) => span(a, 0, 0) === undefined)) return undefined;
  return (i0, i1) => {
    const box = boxOf(outShape, i0, i1);
    const lo = [box.lo[0]];
    const hi = [box.hi[0]];
    for (let a = 1; a < inShape.length; a++) {
      const [l, h] = span(a - 1, box.lo[a], box.hi[a]) as [number, number];
      lo.push(Math.max(0, l));
      hi.push(Math.min(inShape[a] - 1, h));
    }
    return [hull(inShape, lo, hi), [i0, i1]];
  };
}
