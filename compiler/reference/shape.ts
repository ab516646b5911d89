// Ops that move or combine elements without arithmetic of their own (flatten, reshape,
// concat) and the elementwise binary ops with broadcasting. Tensors are row-major and
// channels first, so flatten and reshape keep the data as it is and concat along channels
// appends the operands' data one after the other.
//
// Broadcasting is channel-first: a lower-rank operand is padded with TRAILING 1s (so [C]
// lines up with the channel axis of [C, H, W], unlike NumPy's leading alignment), then on
// every axis the sizes must be equal or one of them 1, which is repeated.

import { fmtShape, indices, offset, size, strides, type Tensor, tensor } from "./tensor.js";

/** [C, D1..Dd] -> [C*D1*..*Dd]. */
export function flatten(x: Tensor): Tensor {
  return tensor([size(x.shape)], x.data);
}

/** The same elements, row-major, under another shape with as many elements. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (size(shape) !== size(x.shape)) throw new Error(`reshape: cannot reshape ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  return tensor(shape, x.data);
}

export function binary(kind: "add" | "mul", a: Tensor, b: Tensor): Tensor {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pad = (s: readonly number[]): number[] => [...s, ...new Array<number>(rank - s.length).fill(1)];
  const as = pad(a.shape);
  const bs = pad(b.shape);
  const shape = as.map((da, i) => {
    const db = bs[i];
    if (da === db || db === 1) return da;
    if (da === 1) return db;
    throw new Error(`${kind}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not broadcast`);
  });
  // A broadcast axis has stride 0: every output index along it reads the one element.
  const astr = strides(as).map((s, i) => (as[i] === 1 ? 0 : s));
  const bstr = strides(bs).map((s, i) => (bs[i] === 1 ? 0 : s));
  const y = tensor(shape);
  const ys = strides(shape);
  for (const j of indices(shape)) {
    const u = a.data[offset(j, astr)];
    const v = b.data[offset(j, bstr)];
    y.data[offset(j, ys)] = kind === "add" ? u + v : u * v;
  }
  return y;
}

/** Concatenation along channels: [C1, D..] ++ [C2, D..] -> [C1 + C2, D..]. */
export function concat(xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) throw new Error(`concat: no operands`);
  const spatial = xs[0].shape.slice(1);
  let channels = 0;
  for (const x of xs) {
    const s = x.shape.slice(1);
    if (s.length !== spatial.length || s.some((d, i) => d !== spatial[i])) {
      throw new Error(`concat: spatial sizes differ: ${xs.map((t) => fmtShape(t.shape)).join(" and ")}`);
    }
    channels += x.shape[0];
  }
  const y = tensor([channels, ...spatial]);
  let at = 0;
  for (const x of xs) {
    y.data.set(x.data, at);
    at += x.data.length;
  }
  return y;
}
