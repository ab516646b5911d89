// Pooling by its definition (SPEC "Pooling"). Window position k (a multi-index over the
// window) of output j reads input position p = j*s + k*r - padBefore on every axis.
//
// - A position is *real* when 0 <= p < m on every axis; otherwise it is padding.
// - Padded positions never win a max and add nothing to a sum.
// - max:   the largest real element.
// - avg:   the sum of the real elements divided by their number; with `countPad`, divided by
//          the number of window positions lying inside the padded input
//          (-padBefore <= p < m + padAfter). Positions in the ceil-mode overhang past the
//          padding are never counted: PyTorch's rule (its divisor is the window clipped to
//          the padded input).
// - lp:    (sum over real elements of |x|^p)^(1/p).
// - gauss: sum over real elements of w_k * x / sum over real elements of w_k, with
//          w_k = exp(-|delta_k|^2 / (2 sigma^2)), delta_k = (k - (K-1)/2) * r per axis: the
//          distance in input pixels from the window position to the window's centre.
// - A window with no real element (possible only with large padding, dilation or the ceil
//   overhang) gives 0 in every mode, rather than -Infinity or 0/0.
// Output sizes (floor or ceil, and ceil never starting a window in the trailing padding)
// come from the shared `windowGeometry`.
//
// Adaptive pooling: region i of n over an axis of length m spans [floor(i*m/n), ceil((i+1)*m/n)).

import { type AdaptivePoolOp, type PoolOp, windowGeometry } from "../ir/ops.js";
import { fmtShape, indices, offset, staticDims, strides, type Tensor, tensor } from "./tensor.js";

export function pool(x: Tensor, op: PoolOp): Tensor {
  const [C, ...spatial] = x.shape;
  const d = spatial.length;
  if (d < 1 || d > 3) throw new Error(`pool: input ${fmtShape(x.shape)} needs 1 to 3 spatial axes`);
  if (op.window.length !== d) throw new Error(`pool: window ${op.window.join("x")} on input ${fmtShape(x.shape)}`);
  const geo = windowGeometry(spatial, op.window, op.stride, op.dilation, op.pad, op.ceil);
  const before = staticDims(geo.padBefore, "pool padding");
  const after = staticDims(geo.padAfter, "pool padding");
  const out = staticDims(geo.out, "pool output");
  if (out.some((n) => n < 1)) throw new Error(`pool: window larger than the padded input ${fmtShape(x.shape)}`);

  const outShape = [C, ...out];
  const y = tensor(outShape);
  const xs = strides(x.shape);
  const ys = strides(outShape);
  const window = [...indices(op.window)];
  const gaussWeight = (k: readonly number[]): number => {
    let d2 = 0;
    k.forEach((ki, i) => {
      const delta = (ki - (op.window[i] - 1) / 2) * op.dilation[i];
      d2 += delta * delta;
    });
    return Math.exp(-d2 / (2 * op.sigma * op.sigma));
  };

  for (let c = 0; c < C; c++) {
    for (const j of indices(out)) {
      let real = 0; // number of real elements
      let inPadded = 0; // number of positions inside input + padding
      let max = -Infinity;
      let sum = 0;
      let powSum = 0;
      let weighted = 0;
      let weights = 0;
      for (const k of window) {
        const pos = j.map((ji, i) => ji * op.stride[i] + k[i] * op.dilation[i] - before[i]);
        if (pos.every((p, i) => p >= -before[i] && p < spatial[i] + after[i])) inPadded++;
        if (pos.some((p, i) => p < 0 || p >= spatial[i])) continue; // padding
        const v = x.data[offset([c, ...pos], xs)];
        real++;
        max = Math.max(max, v);
        sum += v;
        powSum += Math.pow(Math.abs(v), op.p);
        const w = gaussWeight(k);
        weighted += w * v;
        weights += w;
      }
      let v: number;
      if (real === 0) v = 0;
      else {
        switch (op.mode) {
          case "max":
            v = max;
            break;
          case "avg":
            v = sum / (op.countPad ? inPadded : real);
            break;
          case "lp":
            v = Math.pow(powSum, 1 / op.p);
            break;
          case "gauss":
            v = weighted / weights;
            break;
        }
      }
      y.data[offset([c, ...j], ys)] = v;
    }
  }
  return y;
}

export function adaptivePool(x: Tensor, op: AdaptivePoolOp): Tensor {
  const [C, ...spatial] = x.shape;
  if (op.out.length !== spatial.length) throw new Error(`adaptive pool: out ${op.out.join("x")} on input ${fmtShape(x.shape)}`);
  const outShape = [C, ...op.out];
  const y = tensor(outShape);
  const xs = strides(x.shape);
  const ys = strides(outShape);
  for (let c = 0; c < C; c++) {
    for (const j of indices(op.out)) {
      const start = j.map((i, a) => Math.floor((i * spatial[a]) / op.out[a]));
      const end = j.map((i, a) => Math.ceil(((i + 1) * spatial[a]) / op.out[a]));
      const region = end.map((e, a) => e - start[a]);
      let max = -Infinity;
      let sum = 0;
      let count = 0;
      for (const r of indices(region)) {
        const v = x.data[offset([c, ...r.map((ri, a) => start[a] + ri)], xs)];
        max = Math.max(max, v);
        sum += v;
        count++;
      }
      // An empty region (more regions than input positions) gives 0, like an empty window.
      y.data[offset([c, ...j], ys)] = count === 0 ? 0 : op.mode === "max" ? max : sum / count;
    }
  }
  return y;
}
