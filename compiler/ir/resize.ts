// Resize's taps: for each output coordinate of one axis, the two input coordinates it reads
// and the weight of the second (nearest: one coordinate, weight 0). Computed once at compile
// time and shared by the reference and both backends, so a rounding tie can never go one way
// on one backend and the other way on another. The arithmetic is onnxruntime's, in float32
// (Math.fround after every operation), so that nearest-neighbour ties land as they do there.

import type { ResizeOp } from "./ops.js";

export interface ResizeTaps {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  /** The weight of `hi`; `lo` gets 1 - w. */
  readonly w: Float32Array;
}

const f = Math.fround;

/** C's std::round: halves away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** The input coordinate (float32) that output coordinate x of an axis samples. */
export function resizeSource(op: ResizeOp, axis: number, x: number, inSize: number): number {
  const n = op.out[axis];
  const s = f(op.scale[axis]);
  switch (op.coord) {
    case "half_pixel":
      return f(f(f(x + 0.5) / s) - 0.5);
    case "pytorch_half_pixel":
      return n > 1 ? f(f(f(x + 0.5) / s) - 0.5) : 0;
    case "align_corners":
      return n === 1 ? 0 : f(f(x * (inSize - 1)) / (n - 1));
    case "asymmetric":
      return f(x / s);
  }
}

export function resizeTaps(op: ResizeOp, axis: number, inSize: number): ResizeTaps {
  const n = op.out[axis];
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const w = new Float32Array(n);
  const last = inSize - 1;
  for (let x = 0; x < n; x++) {
    const o = resizeSource(op, axis, x, inSize);
    if (op.mode === "nearest") {
      let k: number;
      switch (op.round) {
        case "round_prefer_floor":
          k = o === f(Math.trunc(o) + 0.5) ? Math.floor(o) : roundAway(o);
          break;
        case "round_prefer_ceil":
          k = roundAway(o);
          break;
        case "floor":
          k = Math.floor(o);
          break;
        case "ceil":
          k = Math.ceil(o);
          break;
        case "simple":
          k = op.scale[axis] < 1 ? Math.ceil(o) : Math.trunc(o);
          break;
      }
      lo[x] = hi[x] = Math.min(Math.max(k, 0), last);
    } else {
      const c = Math.min(Math.max(o, 0), last);
      const k = Math.min(Math.trunc(c), last);
      lo[x] = k;
      hi[x] = Math.min(k + 1, last);
      w[x] = f(c - k);
    }
  }
  return { lo, hi, w };
}
