// slice: every step-th element from start to end (excluded) of one axis of [C, D1..Dd].
// The value is outer x m x inner (m the axis' size); the result outer x n x inner.

import type { SliceOp } from "../ir/ops.js";
import { size, type Tensor, tensor } from "./tensor.js";

/** The number of elements a slice keeps. */
export function sliceCount(op: SliceOp): number {
  return Math.max(0, Math.ceil((op.end - op.start) / op.step));
}

export function slice(x: Tensor, op: SliceOp): Tensor {
  const m = x.shape[op.axis];
  const n = sliceCount(op);
  const outer = size(x.shape.slice(0, op.axis));
  const inner = size(x.shape.slice(op.axis + 1));
  const shape = [...x.shape];
  shape[op.axis] = n;
  const y = tensor(shape);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const src = (o * m + op.start + j * op.step) * inner;
      const dst = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) y.data[dst + i] = x.data[src + i];
    }
  }
  return y;
}
