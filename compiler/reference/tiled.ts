// Tiled convolution by its definition (SPEC "Convolution", "Bias"):
//
//   Z[o, j] = sum over c, k of  V[c, j*s + k*r - padBefore] * W[o, c, k, j mod t]  (+ bias[o, j mod t])
//
// Convolution's connectivity (stride, dilation, zero padding from the shared geometry) with
// t_i kernels per axis that the output positions cycle through: the weight carries the
// tile axes last, [O, C, k1..kd, t1..td], and the tiled bias [O, t1..td]. t = 1 on every
// axis is ordinary convolution; t = the output size is the locally connected layer.

import { type TiledOp, windowGeometry } from "../ir/ops.js";
import { fmtShape, indices, offset, sameShape, staticDims, strides, type Tensor, tensor } from "./tensor.js";

/** x [C, D1..Dd], weight [O, C, k1..kd, t1..td], bias [O, t1..td] or none -> [O, j1..jd]. */
export function tiled(x: Tensor, op: TiledOp, weight: Tensor, bias: Tensor | undefined): Tensor {
  const [C, ...spatial] = x.shape;
  const d = spatial.length;
  if (d < 1 || d > 3) throw new Error(`tiled: input ${fmtShape(x.shape)} needs 1 to 3 spatial axes`);
  if (op.kernel.length !== d || op.tiles.length !== d) {
    throw new Error(`tiled: kernel ${op.kernel.join("x")}, tiles ${op.tiles.join("x")} on input ${fmtShape(x.shape)}`);
  }
  const O = op.filters;
  const geo = windowGeometry(spatial, op.kernel, op.stride, op.dilation, op.pad);
  const before = staticDims(geo.padBefore, "tiled padding");
  const out = staticDims(geo.out, "tiled output");
  if (out.some((n) => n < 1)) throw new Error(`tiled: kernel larger than the padded input ${fmtShape(x.shape)}`);
  const outShape = [O, ...out];
  const wShape = [O, C, ...op.kernel, ...op.tiles];
  const bShape = [O, ...op.tiles];
  if (!sameShape(weight.shape, wShape)) throw new Error(`tiled: weight ${fmtShape(weight.shape)}, expected ${fmtShape(wShape)}`);
  if (op.bias === "tiled") {
    if (bias === undefined) throw new Error(`tiled: bias: tiled but no bias tensor`);
    if (!sameShape(bias.shape, bShape)) throw new Error(`tiled: bias ${fmtShape(bias.shape)}, expected ${fmtShape(bShape)}`);
  } else if (bias !== undefined) throw new Error(`tiled: bias given to a layer with bias: none`);

  const xs = strides(x.shape);
  const ys = strides(outShape);
  const ws = strides(wShape);
  const bs = strides(bShape);
  const y = tensor(outShape);
  const kernels = [...indices(op.kernel)];
  for (let o = 0; o < O; o++) {
    for (const j of indices(out)) {
      const tile = j.map((ji, i) => ji % op.tiles[i]);
      let sum = 0;
      for (let c = 0; c < C; c++) {
        for (const k of kernels) {
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
          if (inside) sum += x.data[xAt] * weight.data[offset([o, c, ...k, ...tile], ws)];
        }
      }
      if (op.bias === "tiled") sum += (bias as Tensor).data[offset([o, ...tile], bs)];
      y.data[offset([o, ...j], ys)] = sum;
    }
  }
  return y;
}
