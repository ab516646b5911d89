// Gradients of the ops that move elements (slice, pad, resize): the adjoints of their forward
// references (reference/slice.ts, pad.ts, resize.ts), walking the output by the same reads
// (padReads, resizeReads) and adding each output's dy to the input elements it read, with
// the weights it read them by.
// Constant padding read no input element: its dy goes nowhere.

import type { PadOp, ResizeOp, SliceOp } from "../../ir/ops.js";
import { padReads } from "../pad.js";
import { resizeReads } from "../resize.js";
import { sliceCount } from "../slice.js";
import { size, type Tensor, tensor } from "../tensor.js";

export function sliceGrad(dy: Tensor, op: SliceOp, inShape: readonly number[]): Tensor {
  const dx = tensor(inShape);
  const m = inShape[op.axis];
  const n = sliceCount(op);
  const outer = size(inShape.slice(0, op.axis));
  const inner = size(inShape.slice(op.axis + 1));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const src = (o * m + op.start + j * op.step) * inner;
      const at = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) dx.data[src + i] += dy.data[at + i];
    }
  }
  return dx;
}

export function padGrad(dy: Tensor, op: PadOp, inShape: readonly number[]): Tensor {
  const dx = tensor(inShape);
  padReads(op, inShape, (at, src) => (dx.data[src] += dy.data[at]));
  return dx;
}

export function resizeGrad(dy: Tensor, op: ResizeOp, inShape: readonly number[]): Tensor {
  const dx = tensor(inShape);
  resizeReads(op, inShape, (at, src, weight) => (dx.data[src] += weight * dy.data[at]));
  return dx;
}

/**
 * The reads of a slice, pad or resize as lists (for the compiled steps' tables): for output
 * element j, the input elements `src` and weights `w` at [k * taps, (k + 1) * taps) for
 * k = j (src -1: none), and for constant padding the value an unread output takes.
 */
export function moveReads(op: SliceOp | PadOp | ResizeOp, inShape: readonly number[]): { taps: number; outSize: number; src: Int32Array; w: Float32Array; fill: number } {
  if (op.kind === "slice") {
    const m = inShape[op.axis];
    const n = sliceCount(op);
    const outer = size(inShape.slice(0, op.axis));
    const inner = size(inShape.slice(op.axis + 1));
    const src = new Int32Array(outer * n * inner);
    for (let o = 0; o < outer; o++) for (let j = 0; j < n; j++) for (let i = 0; i < inner; i++) src[(o * n + j) * inner + i] = (o * m + op.start + j * op.step) * inner + i;
    return { taps: 1, outSize: src.length, src, w: new Float32Array(src.length).fill(1), fill: 0 };
  }
  if (op.kind === "pad") {
    const outSize = inShape[0] * inShape.slice(1).reduce((p, m, a) => p * (m + op.before[a] + op.after[a]), 1);
    const src = new Int32Array(outSize).fill(-1);
    padReads(op, inShape, (at, s) => (src[at] = s));
    return { taps: 1, outSize, src, w: new Float32Array(outSize).fill(1), fill: op.mode === "constant" ? op.value : 0 };
  }
  const taps = op.mode === "linear" ? 1 << (inShape.length - 1) : 1;
  const outSize = inShape[0] * op.out.reduce((p, v) => p * v, 1);
  const src = new Int32Array(outSize * taps);
  const w = new Float32Array(outSize * taps);
  const seen = new Int32Array(outSize);
  resizeReads(op, inShape, (at, s, weight) => {
    const k = at * taps + seen[at]++;
    src[k] = s;
    w[k] = weight;
  });
  return { taps, outSize, src, w, fill: 0 };
}
