// Convolution by its definition (SPEC "Convolution", "Bias"):
//
//   Z[o, j] = sum over c in o's group, k of  V[c, j*s + k*r] * K[o, c - group start, k]  (+ bias)
//
// with V the input after implicit zero padding (padBefore on the low side of every axis), so
// an input position outside [0, m) contributes nothing. `flip` reads the kernel at K-1-k on
// every spatial axis (true convolution). Strides are applied by computing only the kept
// outputs, as the SPEC requires of every implementation. 1-D, 2-D and 3-D share one loop.

import { type ConvOp, windowGeometry } from "../ir/ops.js";
import { fmtShape, indices, offset, sameShape, staticDims, strides, type Tensor, tensor } from "./tensor.js";

/** x [C, D1..Dd], weight [O, C/groups, k1..kd], bias [O] or [O, j1..jd] or none -> [O, j1..jd]. */
export function conv(x: Tensor, op: ConvOp, weight: Tensor, bias: Tensor | undefined): Tensor {
  const [C, ...spatial] = x.shape;
  const d = spatial.length;
  if (d < 1 || d > 3) throw new Error(`conv: input ${fmtShape(x.shape)} needs 1 to 3 spatial axes`);
  if (op.kernel.length !== d) throw new Error(`conv: kernel ${op.kernel.join("x")} on input ${fmtShape(x.shape)}`);
  const O = op.filters;
  const G = op.groups;
  if (C % G !== 0 || O % G !== 0) throw new Error(`conv: ${C} inputs and ${O} filters do not split into ${G} groups`);
  const Cg = C / G;
  const Og = O / G;
  if (!sameShape(weight.shape, [O, Cg, ...op.kernel])) {
    throw new Error(`conv: weight ${fmtShape(weight.shape)}, expected ${fmtShape([O, Cg, ...op.kernel])}`);
  }

  const geo = windowGeometry(spatial, op.kernel, op.stride, op.dilation, op.pad);
  const before = staticDims(geo.padBefore, "conv padding");
  const out = staticDims(geo.out, "conv output");
  if (out.some((n) => n < 1)) throw new Error(`conv: kernel larger than the padded input ${fmtShape(x.shape)}`);
  const outShape = [O, ...out];
  checkBias(op, bias, outShape);

  const xs = strides(x.shape);
  const ys = strides(outShape);
  const y = tensor(outShape);
  // Kernel offsets in row-major order, and where each one's weight sits within a
  // [k1..kd] block: at k itself, or at K-1-k on every axis for true convolution.
  const kernels = [...indices(op.kernel)];
  const kStrides = strides(op.kernel);
  const kVolume = kernels.length;
  const wAt = kernels.map((k) => offset(op.flip ? k.map((ki, i) => op.kernel[i] - 1 - ki) : k, kStrides));
  for (let o = 0; o < O; o++) {
    const group = Math.floor(o / Og);
    for (const j of indices(out)) {
      let sum = 0;
      for (let cc = 0; cc < Cg; cc++) {
        const c = group * Cg + cc;
        const wBase = (o * Cg + cc) * kVolume;
        for (let n = 0; n < kVolume; n++) {
          const k = kernels[n];
          // Input position j*s + k*r - padBefore per axis; outside the input it is padding (zero).
          let xAt = c * xs[0];
          let inside = true;
          for (let i = 0; i < d; i++) {
            const p = j[i] * op.stride[i] + k[i] * op.dilation[i] - before[i];
            if (p < 0 || p >= spatial[i]) {
              inside = false;
              break;
            }
            xAt += p * xs[i + 1];
          }
          if (inside) sum += x.data[xAt] * weight.data[wBase + wAt[n]];
        }
      }
      if (op.bias === "channel") sum += (bias as Tensor).data[o];
      else if (op.bias === "location") sum += (bias as Tensor).data[offset([o, ...j], ys)];
      y.data[offset([o, ...j], ys)] = sum;
    }
  }
  return y;
}

function checkBias(op: ConvOp, bias: Tensor | undefined, outShape: readonly number[]): void {
  const want = op.bias === "channel" ? [outShape[0]] : op.bias === "location" ? outShape : undefined;
  if (want === undefined) {
    if (bias !== undefined) throw new Error(`conv: bias given to a layer with bias: none`);
    return;
  }
  if (bias === undefined) throw new Error(`conv: bias: ${op.bias} but no bias tensor`);
  if (!sameShape(bias.shape, want)) throw new Error(`conv: bias ${fmtShape(bias.shape)}, expected ${fmtShape(want)}`);
}
