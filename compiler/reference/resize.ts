// resize: each output element of [C, O1..Od] is the sum over the 2^d corners (1 for
// nearest) of the taps' weights times the input there; the taps come from ir/resize.ts.

import type { ResizeOp } from "../ir/ops.js";
import { resizeTaps } from "../ir/resize.js";
import { strides, type Tensor, tensor } from "./tensor.js";

/** Calls `visit(output index, input index, weight)` for every corner every output element of resize reads. */
export function resizeReads(op: ResizeOp, inShape: readonly number[], visit: (at: number, src: number, weight: number) => void): void {
  const [C, ...M] = inShape;
  const d = M.length;
  const taps = M.map((m, a) => resizeTaps(op, a, m));
  const xs = strides(inShape);
  const corners = op.mode === "linear" ? 1 << d : 1;
  const total = op.out.reduce((p, v) => p * v, 1);
  const j = new Array<number>(d).fill(0);
  let at = 0;
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < total; k++) {
      for (let corner = 0; corner < corners; corner++) {
        let src = c * xs[0];
        let weight = 1;
        for (let a = 0; a < d; a++) {
          const t = taps[a];
          const high = (corner >> a) & 1;
          src += (high ? t.hi[j[a]] : t.lo[j[a]]) * xs[a + 1];
          if (op.mode === "linear") weight *= high ? t.w[j[a]] : 1 - t.w[j[a]];
        }
        visit(at, src, weight);
      }
      at++;
      for (let a = d - 1; a >= 0; a--) {
        if (++j[a] < op.out[a]) break;
        j[a] = 0;
      }
    }
  }
}

export function resize(x: Tensor, op: ResizeOp): Tensor {
  const y = tensor([x.shape[0], ...op.out]);
  resizeReads(op, x.shape, (at, src, weight) => (y.data[at] += weight * x.data[src]));
  return y;
}
