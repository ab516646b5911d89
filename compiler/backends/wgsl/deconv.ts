// Transposed convolution: the transpose of the forward conv (same kernel, stride, dilation,
// padding, groups) that maps an input of this op's output size back onto this op's input.
// The reference scatters every product of the forward conv; a GPU cannot scatter without
// atomics (and f32 atomics are not in WGSL), so this kernel gathers instead, one invocation
// per output element:
//
//   y[o, x] = bias[o] + sum over c in o's group, k with t = x + padBefore - k*r,
//             t = q*s for some 0 <= q < J  of  K[c, o mod O/g, k] * in[c, q]
//
// which is the same sum term by term. padBefore is the forward conv's, resolved on the size
// this op returns. On each axis t decreases with k, so the tap loop stops at t < 0; offsets
// that skip a stride (t mod s != 0) or land past the input contribute nothing. With a fused
// pool an invocation computes one pooled output from these sums at each window position
// (pool.ts), and nothing splits the sum.

import * as D from "../../ir/dim.js";
import { type DeconvOp, effectiveKernel, windowGeometry } from "../../ir/ops.js";
import { producerFrame, producerKernel } from "./producer.js";
import { boxOf, hull, type KernelSpec, type Program, type RangeFn, staticShape, type StepContext } from "./program.js";

export function deconvKernels(ctx: StepContext, op: DeconvOp): KernelSpec[] {
  const f = producerFrame(ctx, op.bias);
  const { b, inShape, outShape, M, J } = f;
  const d = M.length;
  const K = op.kernel;
  const geo = windowGeometry(J, K, op.stride, op.dilation, op.pad);
  const Cg = D.floordiv(inShape[0], op.groups);
  const Og = op.filters / op.groups;
  const Kprod = K.reduce((s, v) => s * v, 1);

  /** The sum at output position j0..j(d-1) of channel o into `acc`; `split`: over this dispatch's channel chunk. */
  const sum = (p: Program, split: boolean): string[] => {
    const lines: string[] = [];
    for (let a = 0; a < d; a++) lines.push(`let e${a} = j${a}${geo.padBefore[a] === 0 ? "" : ` + ${p.dim(geo.padBefore[a])}`};`);
    lines.push(`let cg = ${p.dim(Cg)};`, `let x0 = (o / ${Og}) * cg;`, `let oo = o % ${Og};`, `var acc = 0.0;`);
    const cHi = split && typeof Cg === "number" ? p.reduceHi() : "cg";
    lines.push(`for (var c = ${split ? p.reduceLo() : "0"}; c < ${cHi}; c = c + 1) {`);
    lines.push(`  let xc = (x0 + c) * ${p.dim(D.product(M))};`);
    lines.push(`  let wc = ((x0 + c) * ${Og} + oo) * ${Kprod};`);
    let xPrev = "xc";
    let wPrev = "wc";
    let pad = "  ";
    for (let a = 0; a < d; a++) {
      const s = op.stride[a];
      const r = op.dilation[a];
      const xStride = D.product(M.slice(a + 1));
      const wStride = K.slice(a + 1).reduce((n, v) => n * v, 1);
      lines.push(`${pad}for (var k${a} = 0; k${a} < ${K[a]}; k${a} = k${a} + 1) {`);
      pad += "  ";
      lines.push(`${pad}let t${a} = e${a} - k${a}${r === 1 ? "" : ` * ${r}`};`);
      lines.push(`${pad}if (t${a} < 0) {`, `${pad}  break;`, `${pad}}`);
      if (s !== 1) lines.push(`${pad}if (t${a} % ${s} != 0) {`, `${pad}  continue;`, `${pad}}`);
      lines.push(`${pad}let q${a} = t${a}${s === 1 ? "" : ` / ${s}`};`);
      lines.push(`${pad}if (q${a} >= ${p.dim(M[a])}) {`, `${pad}  continue;`, `${pad}}`);
      lines.push(`${pad}let xi${a} = ${xPrev} + q${a}${xStride === 1 ? "" : ` * ${p.dim(xStride)}`};`);
      lines.push(`${pad}let wi${a} = ${wPrev} + k${a}${wStride === 1 ? "" : ` * ${wStride}`};`);
      xPrev = `xi${a}`;
      wPrev = `wi${a}`;
    }
    lines.push(`${pad}acc = acc + ${p.at("x", xPrev)} * ${p.at("w", wPrev)};`);
    for (let a = d; a >= 0; a--) lines.push(`${"  ".repeat(a)}}`);
    return lines;
  };
  const bias = (p: Program) => (b ? ` + ${p.at("b", "o")}` : "");

  const ins = staticShape(inShape);
  const outs = staticShape(outShape);
  const pb = staticShape(geo.padBefore);
  let ranges: RangeFn | undefined;
  if (ins && outs && pb && typeof Cg === "number") {
    const keff = K.map((k, a) => effectiveKernel(k, op.dilation[a]));
    ranges = (i0, i1, r0, r1) => {
      const box = boxOf(outs, i0, i1);
      const [o0, o1] = [box.lo[0], box.hi[0]];
      const c0 = Math.floor(o0 / Og) * Cg + r0;
      const c1 = Math.floor(o1 / Og) * Cg + r1 - 1;
      const lo = [c0];
      const hi = [c1];
      for (let a = 1; a < ins.length; a++) {
        const s = op.stride[a - 1];
        lo.push(Math.max(0, Math.ceil((box.lo[a] + pb[a - 1] - keff[a - 1] + 1) / s)));
        hi.push(Math.min(ins[a] - 1, Math.floor((box.hi[a] + pb[a - 1]) / s)));
      }
      const r: (readonly [number, number])[] = [hull(ins, lo, hi), [c0 * Og * Kprod, (c1 * Og + Og) * Kprod]];
      if (b) r.push([o0, o1 + 1]);
      r.push([i0, i1]);
      return r;
    };
  }
  return [producerKernel(ctx, f, { family: "deconv", sum: (p, _index, split) => sum(p, split), bias, ranges, extent: typeof Cg === "number" ? Cg : undefined })];
}
