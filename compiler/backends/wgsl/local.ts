// Locally connected ("unshared") and tiled convolution: convolution's connectivity (stride,
// dilation, zero padding, conv.ts's clamped tap loops from window.ts) with a kernel per
// output position, or per position modulo the tiles:
//
//   local:  y[o, j] = sum over c, k of x[c, j*s + k*r - padBefore] * W[o, j, c, k]        (+ b[o, j])
//   tiled:  y[o, j] = sum over c, k of x[c, j*s + k*r - padBefore] * W[o, c, k, j mod t]  (+ b[o, j mod t])
//
// One invocation per output element. A local layer's weight has the output's size times the
// kernel volume, so it is the tensor most likely to exceed one binding: its range function
// lets module.ts bind only the kernels of the outputs a dispatch computes, and the channel
// sum splits (split-K) like conv's. With a fused pool an invocation computes one pooled
// output from these sums at each window position (pool.ts), and nothing splits the sum.

import * as D from "../../ir/dim.js";
import { effectiveKernel, type LocalOp, type TiledOp, windowGeometry } from "../../ir/ops.js";
import { producerFrame, producerKernel } from "./producer.js";
import { boxOf, type KernelSpec, type Program, type RangeFn, staticShape, type StepContext } from "./program.js";
import { tapLoops, windowBounds, windowHull } from "./window.js";

export function localKernels(ctx: StepContext, op: LocalOp | TiledOp): KernelSpec[] {
  const f = producerFrame(ctx, op.bias);
  const { b, inShape, outShape, M } = f;
  const d = M.length;
  const K = op.kernel;
  const geo = windowGeometry(M, K, op.stride, op.dilation, op.pad);
  const clamp = geo.padBefore.map((pb, a) => pb !== 0 || geo.padAfter[a] !== 0);
  const C = inShape[0];
  const Kprod = K.reduce((s, v) => s * v, 1);
  const tiles = op.kind === "tiled" ? op.tiles : undefined;
  const Tprod = tiles ? tiles.reduce((s, v) => s * v, 1) : 1;

  /** The sum at output position j0..j(d-1) (flat index `index`) of channel o into `acc`; `split`: over this dispatch's channel chunk. */
  const sum = (p: Program, index: string, split: boolean): string[] => {
    const lines: string[] = [];
    for (let a = 0; a < d; a++) lines.push(windowBounds(p, a, op.stride[a], op.dilation[a], K[a], geo.padBefore[a], M[a], clamp[a]));
    lines.push(`let cn = ${p.dim(C)};`);
    if (tiles) {
      // The tile of this output position, row-major over the tile axes.
      const terms = tiles.map((t, a) => `(j${a} % ${t}) * ${tiles.slice(a + 1).reduce((s, v) => s * v, 1)}`);
      lines.push(`let tile = ${terms.join(" + ")};`);
    }
    lines.push(`var acc = 0.0;`);
    const cHi = split && typeof C === "number" ? p.reduceHi() : "cn";
    // local: W[o, j, c, k] = ((o * J + j) * C + c) * K + k and o * J + j is the flat index.
    // tiled: W[o, c, k, t] = ((o * C + c) * K + k) * T + t.
    const wChannel = tiles ? `(o * cn + c) * ${Kprod * Tprod} + tile` : `(${index} * cn + c) * ${Kprod}`;
    lines.push(
      ...tapLoops(p, {
        channels: [split ? p.reduceLo() : "0", cHi],
        xChannel: `c * ${p.dim(D.product(M))}`,
        wChannel,
        M,
        kernel: K,
        dilation: op.dilation,
        flip: false,
        weightScale: Tprod,
      }),
    );
    return lines;
  };
  const biasAt = (p: Program, index: string) => (!b ? "" : tiles ? ` + ${p.at("b", `o * ${Tprod} + tile`)}` : ` + ${p.at("b", index)}`);

  const ins = staticShape(inShape);
  const outs = staticShape(outShape);
  const pb = staticShape(geo.padBefore);
  let ranges: RangeFn | undefined;
  if (ins && outs && pb) {
    const keff = K.map((k, a) => effectiveKernel(k, op.dilation[a]));
    const Cn = ins[0];
    ranges = (i0, i1, r0, r1) => {
      const box = boxOf(outs, i0, i1);
      const [o0, o1] = [box.lo[0], box.hi[0]];
      const r: (readonly [number, number])[] = [windowHull(ins, box, [r0, r1 - 1], op.stride, keff, pb)];
      const wr: [number, number] = tiles ? [(o0 * Cn + r0) * Kprod * Tprod, (o1 * Cn + r1) * Kprod * Tprod] : [(i0 * Cn + r0) * Kprod, ((i1 - 1) * Cn + r1) * Kprod];
      r.push(wr);
      if (b) r.push(tiles ? [o0 * Tprod, (o1 + 1) * Tprod] : [i0, i1]);
      r.push([i0, i1]);
      return r;
    };
  }
  return [producerKernel(ctx, f, { family: op.kind, sum, bias: biasAt, ranges, extent: typeof C === "number" ? C : undefined })];
}
