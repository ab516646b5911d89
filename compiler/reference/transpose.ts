// transpose: output axis k of one sample is input axis perm[k]; each output element, in
// row-major order, reads the input at the sum over k of its index on axis k times the
// input's stride of axis perm[k].

import type { TransposeOp } from "../ir/ops.js";
import { strides, type Tensor, tensor } from "./tensor.js";

export function transpose(x: Tensor, op: TransposeOp): Tensor {
  const shape = op.perm.map((p) => x.shape[p]);
  const y = tensor(shape);
  const xs = strides(x.shape);
  const step = op.perm.map((p) => xs[p]);
  const j = new Array<number>(shape.length).fill(0);
  for (let at = 0; at < y.data.length; at++) {
    let src = 0;
    for (let k = 0; k < shape.length; k++) src += j[k] * step[k];
    y.data[at] = x.data[src];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++j[k] < shape[k]) break;
      j[k] = 0;
    }
  }
  return y;
}
