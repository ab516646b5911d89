// Batch normalisation at inference (SPEC "Other layers"), per channel c at every position:
//
//   y[c, p] = (x[c, p] - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]
//
// with the running statistics of training as constants. Written as the formula, not folded
// into a scale and shift, so that a folding pass or a backend has the literal to match.

import type { BatchNormOp } from "../ir/ops.js";
import { fmtShape, sameShape, size, type Tensor, tensor } from "./tensor.js";

export interface BatchNormParams {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  readonly mean: Tensor;
  readonly variance: Tensor;
}

/** x [C, D1..Dd] (or [C]), every parameter [C] -> [C, D1..Dd]. */
export function batchnorm(x: Tensor, op: BatchNormOp, p: BatchNormParams): Tensor {
  const C = x.shape[0];
  for (const [name, t] of Object.entries(p)) {
    if (!sameShape(t.shape, [C])) throw new Error(`batchnorm: ${name} ${fmtShape(t.shape)}, expected [${C}] for input ${fmtShape(x.shape)}`);
  }
  const per = size(x.shape.slice(1));
  const y = tensor(x.shape);
  for (let c = 0; c < C; c++) {
    const mean = p.mean.data[c];
    const sd = Math.sqrt(p.variance.data[c] + op.eps);
    for (let i = 0; i < per; i++) {
      const at = c * per + i;
      y.data[at] = ((x.data[at] - mean) / sd) * p.gamma.data[c] + p.beta.data[c];
    }
  }
  return y;
}
