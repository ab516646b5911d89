// Cross-channel pooling (maxout, SPEC "Pooling"): the max over each group of k consecutive
// channels at every position, so that k separately parametrised detectors become one unit:
//
//   y[c', p] = max over c in [c'*k, (c'+1)*k) of x[c, p]

import type { MaxoutOp } from "../ir/ops.js";
import { fmtShape, size, type Tensor, tensor } from "./tensor.js";

/** x [C, D1..Dd] with k | C -> [C/k, D1..Dd]. */
export function maxout(x: Tensor, op: MaxoutOp): Tensor {
  const [C, ...spatial] = x.shape;
  if (!Number.isInteger(op.k) || op.k < 1 || C % op.k !== 0) throw new Error(`maxout(${op.k}): input ${fmtShape(x.shape)} has channels not divisible by ${op.k}`);
  const per = size(spatial);
  const y = tensor([C / op.k, ...spatial]);
  for (let co = 0; co < C / op.k; co++) {
    for (let i = 0; i < per; i++) {
      let max = -Infinity;
      for (let c = co * op.k; c < (co + 1) * op.k; c++) max = Math.max(max, x.data[c * per + i]);
      y.data[co * per + i] = max;
    }
  }
  return y;
}
