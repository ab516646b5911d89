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
//
// The window loops (`pooledItem`) take their values from a callback, so that a pool fused
// into a convolution-like producer (fusion, issue 5) runs the same loops over values the
// producer computes on the fly (`pooledProducerBody`): one invocation per pooled output, the
// pre-pool tensor never stored, by the one set of rules above.

import * as D from "../../ir/dim.js";
import { type AdaptivePoolOp, effectiveKernel, type PoolOp, windowGeometry } from "../../ir/ops.js";
import type { Step, StepPool } from "../../plan/plan.js";
import { epilogue, finish } from "./activation.js";
import { unravel, windowBounds } from "./window.js";
import { f32Lit } from "./prelude.js";
import { boxOf, hull, indent, type KernelSpec, type Program, type RangeFn, staticShape, type StepContext } from "./program.js";

/**
 * The statements reducing the pool window of item `i` of the pooled tensor [C, J1..Jd] over
 * the pre-pool tensor [C, M1..Md]: `i` is unravelled into `channel` and the pooled position,
 * each window axis clamped to the real pre-pool positions, and `value(index, coords, v)`
 * gives the statements declaring `let <v> = ...`, the pre-pool value at flat index `index`
 * with spatial coordinates `coords` (i32 expressions): loaded from the input for a pool step,
 * computed on the fly for a producer with a fused pool. `result` is the pooled value. All
 * names take `prefix`, so a producer computed inside keeps its own.
 */
export function pooledItem(
  p: Program,
  op: PoolOp,
  M: readonly D.Dim[],
  J: readonly D.Dim[],
  channel: string,
  value: (index: string, coords: readonly string[], v: string) => string[],
  prefix = "",
): { lines: string[]; result: string } {
  const P = prefix;
  const d = M.length;
  const K = op.window;
  const geo = windowGeometry(M, K, op.stride, op.dilation, op.pad, op.ceil);
  const clamp = geo.padBefore.map((pb, a) => op.ceil || pb !== 0 || geo.padAfter[a] !== 0);
  const lines = [unravel(p, J, channel, P)];
  for (let a = 0; a < d; a++) lines.push(windowBounds(p, a, op.stride[a], op.dilation[a], K[a], geo.padBefore[a], M[a], clamp[a], P));
  const real = Array.from({ length: d }, (_, a) => `max(${P}hi${a} - ${P}lo${a}, 0)`).join(" * ");
  lines.push(`let ${P}n = ${real};`);
  if (op.mode === "avg" && op.countPad) {
    // Window positions inside the padded input: all K unless a ceil window overhangs it.
    const inPadded = Array.from({ length: d }, (_, a) =>
      op.ceil ? `min(${K[a]}, ceil_div(${p.dim(D.add(M[a], geo.padAfter[a]))} - ${P}s${a}, ${op.dilation[a]}))` : `${K[a]}`,
    ).join(" * ");
    lines.push(`let ${P}padded = ${inPadded};`);
  }
  lines.push(op.mode === "max" ? `var ${P}acc = LOWEST_F32;` : `var ${P}acc = 0.0;`);
  if (op.mode === "gauss") lines.push(`var ${P}weights = 0.0;`);
  lines.push(`let ${P}xc = ${channel} * ${p.dim(D.product(M))};`);
  let xPrev = `${P}xc`;
  let pad = "";
  const coords: string[] = [];
  for (let a = 0; a < d; a++) {
    const xStride = D.product(M.slice(a + 1));
    const pos = op.dilation[a] === 1 ? `${P}s${a} + ${P}k${a}` : `${P}s${a} + ${P}k${a} * ${op.dilation[a]}`;
    coords.push(pos);
    lines.push(`${pad}for (var ${P}k${a} = ${P}lo${a}; ${P}k${a} < ${P}hi${a}; ${P}k${a} = ${P}k${a} + 1) {`);
    pad += "  ";
    lines.push(`${pad}let ${P}xi${a} = ${xPrev} + (${pos})${xStride === 1 ? "" : ` * ${p.dim(xStride)}`};`);
    if (op.mode === "gauss") {
      const centre = (K[a] - 1) / 2;
      lines.push(`${pad}let ${P}d${a} = (f32(${P}k${a}) - ${f32Lit(centre)}) * ${f32Lit(op.dilation[a])};`);
      lines.push(`${pad}let ${P}q${a} = ${a === 0 ? "0.0" : `${P}q${a - 1}`} + ${P}d${a} * ${P}d${a};`);
    }
    xPrev = `${P}xi${a}`;
  }
  lines.push(indent(value(xPrev, coords, `${P}v`).join("\n"), pad));
  lines.push(indent(accumulate(op, d, P), pad));
  for (let a = d - 1; a >= 0; a--) lines.push(`${"  ".repeat(a)}}`);
  return { lines, result: result(op, P) };
}

export function poolKernels(ctx: StepContext, op: PoolOp): KernelSpec[] {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const inShape = step.inputs[0].shape;
  const outShape = step.output.shape;
  const geo = windowGeometry(inShape.slice(1), op.window, op.stride, op.dilation, op.pad, op.ceil);

  const body = (p: Program): string => {
    const { lines, result: value } = pooledItem(p, op, inShape.slice(1), outShape.slice(1), "c", (index, _, v) => [`let ${v} = ${p.at("x", index)};`]);
    lines.push(finish(p, step.epilogue, value, "i"));
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
        const keff = effectiveKernel(op.window[a], op.dilation[a]);
        return [lo * op.stride[a] - pb, hi * op.stride[a] - pb + keff - 1];
      }),
    },
  ];
}

/**
 * The body of a convolution-like step with a fused pool: one invocation per POOLED output,
 * which computes the producer's value at each real position of its window (`value(index)`:
 * statements and the value's expression, bias included, at pre-pool flat index `index`, with
 * the position in `j0..j(d-1)` and the channel in `o`), takes it through the step's epilogue
 * (residuals read at that pre-pool index), reduces it, and stores the pooled value through
 * the pool's own epilogue. The pre-pool tensor is never stored; an overlapping pool computes
 * a shared position once per window that holds it.
 */
export function pooledProducerBody(p: Program, step: Step, value: (index: string) => { lines: string[]; value: string }): string {
  const pool = step.pool;
  if (!pool) throw new Error(`internal error: layer ${step.layer} has no fused pool`);
  const { lines, result: pooled } = pooledItem(
    p,
    pool.op,
    pool.inShape.slice(1),
    step.output.shape.slice(1),
    "o",
    (index, coords, v) => {
      const inner = value(index);
      return [
        ...coords.map((c, a) => `let j${a} = ${c};`),
        ...inner.lines,
        epilogue(step.epilogue, inner.value, (e) => `let ${v} = ${e};`, (k) => p.at(`r${k}`, index), "pe"),
      ];
    },
    "p",
  );
  lines.push(finish(p, pool.epilogue, pooled, "i"));
  return lines.join("\n");
}

/** Static shapes: the pre-pool flat range the windows of pooled items [i0, i1) read. */
export function prePoolRange(pool: StepPool, outShape: readonly D.Dim[]): ((i0: number, i1: number) => [number, number]) | undefined {
  const op = pool.op;
  const geo = windowGeometry(pool.inShape.slice(1), op.window, op.stride, op.dilation, op.pad, op.ceil);
  const pb = staticShape(geo.padBefore);
  if (!pb) return undefined;
  const ranges = windowRanges(staticShape(pool.inShape), staticShape(outShape), (a, lo, hi) => [
    lo * op.stride[a] - pb[a],
    hi * op.stride[a] - pb[a] + effectiveKernel(op.window[a], op.dilation[a]) - 1,
  ]);
  if (!ranges) return undefined;
  return (i0, i1) => {
    const [lo, hi] = ranges(i0, i1, 0, 0)[0];
    return [lo, hi];
  };
}

/**
 * A producer's range function (over its own, pre-pool outputs and the whole reduction
 * `extent`) as its pooled step's: pooled items [i0, i1) need what the pre-pool range their
 * windows read needs, and write [i0, i1).
 */
export function pooledRanges(pool: StepPool, outShape: readonly D.Dim[], producer: RangeFn | undefined, extent: number): RangeFn | undefined {
  const pre = prePoolRange(pool, outShape);
  if (!pre || !producer) return undefined;
  return (i0, i1) => {
    const [h0, h1] = pre(i0, i1);
    const r = producer(h0, h1, 0, extent);
    return [...r.slice(0, -1), [i0, i1]];
  };
}

function accumulate(op: PoolOp, d: number, P: string): string {
  const [acc, v] = [`${P}acc`, `${P}v`];
  switch (op.mode) {
    case "max":
      return `${acc} = max(${acc}, ${v});`;
    case "avg":
      return `${acc} = ${acc} + ${v};`;
    case "lp":
      if (op.p === 1) return `${acc} = ${acc} + abs(${v});`;
      if (op.p === 2) return `${acc} = ${acc} + ${v} * ${v};`;
      // pow(0, p) is undefined in WGSL (it is exp2(p * log2(0))): zeros add nothing anyway.
      return `${acc} = ${acc} + select(0.0, pow(abs(${v}), ${f32Lit(op.p)}), ${v} != 0.0);`;
    case "gauss": {
      const inv = 1 / (2 * op.sigma * op.sigma);
      return [`let ${P}g = exp(-${P}q${d - 1} * ${f32Lit(inv)});`, `${acc} = ${acc} + ${P}g * ${v};`, `${P}weights = ${P}weights + ${P}g;`].join("\n");
    }
  }
}

function result(op: PoolOp, P: string): string {
  const acc = `${P}acc`;
  switch (op.mode) {
    case "max":
      return `select(0.0, ${acc}, ${P}n > 0)`;
    case "avg":
      // An empty window has acc = 0, and 0 / 1 is the reference's 0.
      return `${acc} / f32(max(${op.countPad ? `${P}padded` : `${P}n`}, 1))`;
    case "lp":
      if (op.p === 1) return acc;
      if (op.p === 2) return `sqrt(${acc})`;
      return `select(0.0, pow(${acc}, ${f32Lit(1 / op.p)}), ${acc} > 0.0)`;
    case "gauss":
      return `select(0.0, ${acc} / ${P}weights, ${P}weights > 0.0)`;
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
