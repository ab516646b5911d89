// Fully connected layer over the flattened input (row-major, channels first, which is how
// PyTorch's nn.Flatten orders a [C, H, W] sample): y[u] = sum_i W[u, i] * x[i] + b[u].

import type { DenseOp } from "../ir/ops.js";
import { fmtShape, sameShape, size, type Tensor, tensor } from "./tensor.js";

/** x of any shape (flattened), weight [units, inputs], bias [units] or none -> [units]. */
export function dense(x: Tensor, op: DenseOp, weight: Tensor, bias: Tensor | undefined): Tensor {
  const n = size(x.shape);
  const U = op.units;
  if (!sameShape(weight.shape, [U, n])) throw new Error(`dense: weight ${fmtShape(weight.shape)}, expected ${fmtShape([U, n])}`);
  if (op.bias === "channel") {
    if (bias === undefined) throw new Error(`dense: bias: channel but no bias tensor`);
    if (!sameShape(bias.shape, [U])) throw new Error(`dense: bias ${fmtShape(bias.shape)}, expected [${U}]`);
  } else if (bias !== undefined) throw new Error(`dense: bias given to a layer with bias: none`);
  const y = tensor([U]);
  for (let u = 0; u < U; u++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += weight.data[u * n + i] * x.data[i];
    y.data[u] = op.bias === "channel" ? sum + (bias as Tensor).data[u] : sum;
  }
  return y;
}
