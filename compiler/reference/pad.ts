// pad: the spatial axes of [C, D1..Dd] grown by before/after elements, filled by mode
// (constant, reflect, edge). Each output element finds its source coordinate per axis with
// padSource (ir/ops.ts), the one rule every backend follows.

import { type PadOp, padSource } from "../ir/ops.js";
import { strides, type Tensor, tensor } from "./tensor.js";

export function pad(x: Tensor, op: PadOp): Tensor {
  const [C, ...M] = x.shape;
  const out = M.map((m, a) => m + op.before[a] + op.after[a]);
  const y = tensor([C, ...out]);
  const xs = strides(x.shape);
  const j = new Array<number>(out.length).fill(0);
  const total = out.reduce((p, v) => p * v, 1);
  let at = 0;
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < total; k++) {
      let src = c * xs[0];
      let inside = true;
      for (let a = 0; a < out.length; a++) {
        const t = j[a] - op.before[a];
        if (t < 0 || t >= M[a]) inside = false;
        src += padSource(op.mode, t, M[a]) * xs[a + 1];
      }
      y.data[at++] = op.mode === "constant" && !inside ? op.value : x.data[src];
      // Next position, row-major.
      for (let a = out.length - 1; a >= 0; a--) {
        if (++j[a] < out[a]) break;
        j[a] = 0;
      }
    }
  }
  return y;
}
