// pad: the spatial axes of [C, D1..Dd] grown by before/after elements, filled by mode
// (constant, reflect, edge). Each output element finds its source coordinate per axis with
// padSource (ir/ops.ts), the one rule every backend follows.

import { type PadOp, padSource } from "../ir/ops.js";
import { strides, type Tensor, tensor } from "./tensor.js";

/** Calls `visit(output index, input index)` for every output element of pad that reads an input element. */
export function padReads(op: PadOp, inShape: readonly number[], visit: (at: number, src: number) => void): void {
  const [C, ...M] = inShape;
  const out = M.map((m, a) => m + op.before[a] + op.after[a]);
  const xs = strides(inShape);
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
      if (op.mode !== "constant" || inside) visit(at, src);
      at++;
      for (let a = out.length - 1; a >= 0; a--) {
        if (++j[a] < out[a]) break;
        j[a] = 0;
      }
    }
  }
}

export function pad(x: Tensor, op: PadOp): Tensor {
  const [C, ...M] = x.shape;
  const y = tensor([C, ...M.map((m, a) => m + op.before[a] + op.after[a])]);
  // Constant padding reads nothing where it fills.
  if (op.mode === "constant") y.data.fill(op.value);
  padReads(op, x.shape, (at, src) => (y.data[at] = x.data[src]));
  return y;
}
