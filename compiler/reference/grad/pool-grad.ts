// Gradients of the pooling family (SPEC "Pooling", "Gradients"), recomputing each window from
// the forward input x rather than storing anything extra:
//
// - max: dy goes to the window's arg-max (the first of equal maxima, as the forward's
//   Math.max keeps the first); padding never wins;
// - avg: dy / divisor to every real element (divisor as in the forward: real elements, or the
//   window clipped to the padded input with count_pad);
// - lp: y = (sum |x|^p)^(1/p), dy/dx = |x|^(p-1) sign(x) / y^(p-1) (0 where y = 0);
// - gauss: dy * w_k / (sum of the real elements' w);
// - a window with no real element gives 0 forward and spreads nothing.
// Adaptive pools do the same over their regions; maxout routes to the arg-max channel.

import type { AdaptivePoolOp, PoolOp } from "../../ir/ops.js";
import { indices, offset, size, strides, type Tensor, tensor } from "../tensor.js";
import { taps } from "./taps.js";

export function poolGrad(x: Tensor, dy: Tensor, op: PoolOp): Tensor {
  const [C, ...spatial] = x.shape;
  const t = taps(spatial, op.window, op.stride, op.dilation, op.pad, op.ceil);
  const inVol = size(spatial);
  const K = t.kVolume;
  const gauss = t.kernels.map((k) => {
    let d2 = 0;
    k.forEach((ki, i) => {
      const delta = (ki - (op.window[i] - 1) / 2) * op.dilation[i];
      d2 += delta * delta;
    });
    return Math.exp(-d2 / (2 * op.sigma * op.sigma));
  });
  const dx = tensor(x.shape);
  for (let c = 0; c < C; c++) {
    const xb = c * inVol;
    for (let j = 0; j < t.outVolume; j++) {
      const gy = dy.data[c * t.outVolume + j];
      const row = j * K;
      let real = 0;
      let padded = 0;
      let best = -1;
      let max = -Infinity;
      let powSum = 0;
      let wSum = 0;
      for (let n = 0; n < K; n++) {
        padded += t.inPadded[row + n];
        const p = t.pos[row + n];
        if (p < 0) continue;
        const v = x.data[xb + p];
        real++;
        if (v > max) {
          max = v;
          best = p;
        }
        powSum += Math.pow(Math.abs(v), op.p);
        wSum += gauss[n];
      }
      if (real === 0) continue;
      switch (op.mode) {
        case "max":
          dx.data[xb + best] += gy;
          break;
        case "avg": {
          const share = gy / (op.countPad ? padded : real);
          for (let n = 0; n < K; n++) if (t.pos[row + n] >= 0) dx.data[xb + t.pos[row + n]] += share;
          break;
        }
        case "lp": {
          const y = Math.pow(powSum, 1 / op.p);
          if (y === 0) break;
          const scale = gy / Math.pow(y, op.p - 1);
          for (let n = 0; n < K; n++) {
            const p = t.pos[row + n];
            if (p < 0) continue;
            const v = x.data[xb + p];
            dx.data[xb + p] += scale * Math.sign(v) * Math.pow(Math.abs(v), op.p - 1);
          }
          break;
        }
        case "gauss":
          for (let n = 0; n < K; n++) if (t.pos[row + n] >= 0) dx.data[xb + t.pos[row + n]] += (gy * gauss[n]) / wSum;
          break;
      }
    }
  }
  return dx;
}

export function adaptivePoolGrad(x: Tensor, dy: Tensor, op: AdaptivePoolOp): Tensor {
  const [C, ...spatial] = x.shape;
  const xs = strides(x.shape);
  const ys = strides(dy.shape);
  const dx = tensor(x.shape);
  for (let c = 0; c < C; c++) {
    for (const j of indices(op.out)) {
      const start = j.map((i, a) => Math.floor((i * spatial[a]) / op.out[a]));
      const end = j.map((i, a) => Math.ceil(((i + 1) * spatial[a]) / op.out[a]));
      const at = [...indices(end.map((e, a) => e - start[a]))].map((r) => offset([c, ...r.map((ri, a) => start[a] + ri)], xs));
      if (at.length === 0) continue;
      const gy = dy.data[offset([c, ...j], ys)];
      if (op.mode === "avg") for (const p of at) dx.data[p] += gy / at.length;
      else {
        let best = at[0];
        for (const p of at) if (x.data[p] > x.data[best]) best = p;
        dx.data[best] += gy;
      }
    }
  }
  return dx;
}

export function maxoutGrad(x: Tensor, dy: Tensor, k: number): Tensor {
  const per = size(x.shape.slice(1));
  const dx = tensor(x.shape);
  for (let co = 0; co < x.shape[0] / k; co++) {
    for (let i = 0; i < per; i++) {
      let best = co * k;
      for (let c = co * k; c < (co + 1) * k; c++) if (x.data[c * per + i] > x.data[best * per + i]) best = c;
      dx.data[best * per + i] += dy.data[co * per + i];
    }
  }
  return dx;
}
