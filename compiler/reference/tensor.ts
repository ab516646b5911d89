// The reference's tensor: a row-major float64 array with its logical shape, one sample
// (no batch axis): [C, D1..Dd] for activations, [N] after flatten or dense. float64 so that
// the oracle's own rounding stays far below the tolerance every backend is held to.

import type { Dim } from "../ir/dim.js";

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** Number of elements of a shape (1 for the empty shape). */
export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides: the last axis varies fastest. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = step;
    step *= shape[i];
  }
  return s;
}

/** A tensor of the given shape: zeros, or the given numbers (which must fill it exactly). */
export function tensor(shape: readonly number[], data?: ArrayLike<number>): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(", ")}]`);
  }
  const n = size(shape);
  if (data !== undefined && data.length !== n) {
    throw new Error(`shape [${shape.join(", ")}] needs ${n} numbers, got ${data.length}`);
  }
  return { shape: [...shape], data: data === undefined ? new Float64Array(n) : Float64Array.from(data) };
}

/** Flat offset of a multi-index. */
export function offset(index: readonly number[], stride: readonly number[]): number {
  let at = 0;
  for (let i = 0; i < index.length; i++) at += index[i] * stride[i];
  return at;
}

/**
 * Every multi-index of `shape` in row-major order (a fresh array each time, so callers may
 * keep it). Loops of depth 1..4 written once instead of once per rank.
 */
export function* indices(shape: readonly number[]): Generator<number[]> {
  if (shape.some((d) => d === 0)) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (;;) {
    yield [...idx];
    let axis = shape.length - 1;
    while (axis >= 0) {
      idx[axis]++;
      if (idx[axis] < shape[axis]) break;
      idx[axis] = 0;
      axis--;
    }
    if (axis < 0) return;
  }
}

/** In the reference every size is known: a symbolic one here is a caller's bug. */
export function staticDims(ds: readonly Dim[], what: string): number[] {
  return ds.map((d) => {
    if (typeof d !== "number") throw new Error(`${what}: size is symbolic in the reference`);
    return d;
  });
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
