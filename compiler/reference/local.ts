// The locally connected ("unshared") layer by its definition (SPEC "Convolution"):
//
//   Z[o, j] = sum over c, k of  V[c, j*s + k*r - padBefore] * W[o, j, c, k]  (+ bias[o, j])
//
// Convolution's connectivity (stride, dilation, zero padding from the shared geometry) with
// a kernel of its own at every output position j, so the weight carries the output's
// spatial axes: [O, j1..jd, C, k1..kd]. The bias, when there is one, is per location
// [O, j1..jd]. There are no groups: every output sees every input channel.

import { type LocalOp, windowGeometry } from "../ir/ops.js";
import { fmtShape, indices, offset, sameShape, size, staticDims, strides, type Tensor, tensor } from "./tensor.js";

/** x [C, D1..Dd], weight [O, j1..jd, C, k1..kd], bias [O, j1..jd] or none -> [O, j1..jd]. */
export function local(x: Tensor, op: LocalOp, weight: Tensor, bias: Tensor | undefined): Tensor {
  const [C, ...spatial] = x.shape;
  const d = spatial.length;
  if (d < 1 || d > 3) throw new Error(`local: input ${fmtShape(x.shape)} needs 1 to 3 spatial axes`);
  if (op.kernel.length !== d) throw new Error(`local: kernel ${op.kernel.join("x")} on input ${fmtShape(x.shape)}`);
  const O = op.filters;
  const geo = windowGeometry(spatial, op.kernel, op.stride, op.dilation, op.pad);
  const before = staticDims(geo.padBefore, "local padding");
  const out = staticDims(geo.out, "local output");
  if (out.some((n) => n < 1)) throw new Error(`local: kernel larger than the padded input ${fmtShape(x.shape)}`);
  const outShape = [O, ...out];
  const wShape = [O, ...out, C, ...op.kernel];
  if (!sameShape(weight.shape, wShape)) throw new Error(`local: weight ${fmtShape(weight.shape)}, expected ${fmtShape(wShape)}`);
  if (op.bias === "location") {
    if (bias === undefined) throw new Error(`local: bias: location but no bias tensor`);
    if (!sameShape(bias.shape, outShape)) throw new Error(`local: bias ${fmtShape(bias.shape)}, expected ${fmtShape(outShape)}`);
  } else if (bias !== undefined) throw new Error(`local: bias given to a layer with bias: none`);

  const xs = strides(x.shape);
  const ys = strides(outShape);
  const ws = strides(wShape);
  const y = tensor(outShape);
  const kernels = [...indices(op.kernel)];
  const kVolume = size(op.kernel);
  for (let o = 0; o < O; o++) {
    for (const j of indices(out)) {
      let sum = 0;
      for (let c = 0; c < C; c++) {
        // W[o, j, c, :] is one contiguous kernel block.
        const wBase = offset([o, ...j, c], ws.slice(0, d + 2));
        for (let n = 0; n < kVolume; n++) {
          const k = kernels[n];
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
          if (inside) sum += x.data[xAt] * weight.data[wBase + n];
        }
      }
      if (op.bias === "location") sum += (bias as Tensor).data[offset([o, ...j], ys)];
      y.data[offset([o, ...j], ys)] = sum;
    }
  }
  return y;
}
