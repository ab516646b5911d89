// Constant folding at import: the ops PyTorch and Paddle wrap around Reshape and Flatten to
// compute shapes (Shape, Gather, Unsqueeze, Concat, Cast, arithmetic), evaluated on constant
// tensors so the shape subgraph disappears from the imported network. Numpy broadcasting,
// ONNX's integer division (truncating) and negative axes, on f64 values.

import type { OnnxTensor } from "./decode.js";

export class FoldError extends Error {}

export const tensorOf = (dims: readonly number[], data: ArrayLike<number>, type: OnnxTensor["type"]): OnnxTensor => ({
  dims: [...dims],
  type,
  data: Float64Array.from(data),
});

export const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new FoldError(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcast of elementwise `f`. */
export function broadcast(a: OnnxTensor, b: OnnxTensor, f: (x: number, y: number) => number, type: OnnxTensor["type"]): OnnxTensor {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pa = [...new Array<number>(rank - a.dims.length).fill(1), ...a.dims];
  const pb = [...new Array<number>(rank - b.dims.length).fill(1), ...b.dims];
  const out = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1) throw new FoldError(`shapes [${a.dims.join(", ")}] and [${b.dims.join(", ")}] do not broadcast`);
    return d === 1 ? pb[i] : d;
  });
  const sa = stridesOf(pa).map((s, i) => (pa[i] === 1 ? 0 : s));
  const sb = stridesOf(pb).map((s, i) => (pb[i] === 1 ? 0 : s));
  const so = stridesOf(out);
  const n = size(out);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) {
      const c = Math.floor(i / so[k]) % out[k];
      ia += c * sa[k];
      ib += c * sb[k];
    }
    data[i] = f(a.data[ia], b.data[ib]);
  }
  return { dims: out, type, data };
}

export function gather(data: OnnxTensor, indices: OnnxTensor, axis: number): OnnxTensor {
  const ax = normAxis(axis, data.dims.length);
  const outer = size(data.dims.slice(0, ax));
  const inner = size(data.dims.slice(ax + 1));
  const m = data.dims[ax];
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const raw of indices.data) {
      const idx = raw < 0 ? raw + m : raw;
      if (idx < 0 || idx >= m) throw new FoldError(`Gather index ${raw} is out of range for an axis of size ${m}`);
      for (let i = 0; i < inner; i++) out.push(data.data[(o * m + idx) * inner + i]);
    }
  }
  return tensorOf([...data.dims.slice(0, ax), ...indices.dims, ...data.dims.slice(ax + 1)], out, data.type);
}

export function concat(ts: readonly OnnxTensor[], axis: number): OnnxTensor {
  const rank = ts[0].dims.length;
  const ax = normAxis(axis, rank);
  const outer = size(ts[0].dims.slice(0, ax));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const block = size(t.dims.slice(ax));
      for (let i = 0; i < block; i++) out.push(t.data[o * block + i]);
    }
  }
  const dims = [...ts[0].dims];
  dims[ax] = ts.reduce((s, t) => s + t.dims[ax], 0);
  return tensorOf(dims, out, ts.every((t) => t.type === "int") ? "int" : "float");
}

export function transpose(t: OnnxTensor, perm: readonly number[]): OnnxTensor {
  const dims = perm.map((p) => t.dims[p]);
  const si = stridesOf(t.dims);
  const so = stridesOf(dims);
  const n = size(dims);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let src = 0;
    for (let k = 0; k < dims.length; k++) src += (Math.floor(i / so[k]) % dims[k]) * si[perm[k]];
    data[i] = t.data[src];
  }
  return { dims, type: t.type, data };
}

/** ONNX Slice on a constant: starts/ends clamped, negative from the end, steps of any sign. */
export function slice(t: OnnxTensor, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps: readonly number[]): OnnxTensor {
  const rank = t.dims.length;
  const ranges = t.dims.map((d) => ({ start: 0, step: 1, count: d }));
  axes.forEach((a0, i) => {
    const a = normAxis(a0, rank);
    const d = t.dims[a];
    const step = steps[i] ?? 1;
    if (step === 0) throw new FoldError("Slice step 0");
    let s = starts[i] < 0 ? starts[i] + d : starts[i];
    let e = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, -1), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    const count = Math.max(0, Math.ceil((e - s) / step));
    ranges[a] = { start: s, step, count };
  });
  const dims = ranges.map((r) => r.count);
  const si = stridesOf(t.dims);
  const so = stridesOf(dims);
  const n = size(dims);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += (ranges[k].start + (Math.floor(i / so[k]) % dims[k]) * ranges[k].step) * si[k];
    data[i] = t.data[src];
  }
  return { dims, type: t.type, data };
}

/** Reshape's target: 0 copies the input's axis (unless allowzero), one -1 takes the rest. */
export function reshapeDims(from: readonly number[], target: readonly number[], allowZero = false): number[] {
  const dims = target.map((d, i) => (d === 0 && !allowZero ? from[i] : d));
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = size(from);
  const free = dims.filter((d) => d === -1).length;
  if (free > 1) throw new FoldError("Reshape with more than one -1");
  if (free === 1) {
    if (known === 0 || total % known !== 0) throw new FoldError(`cannot reshape [${from.join(", ")}] to [${target.join(", ")}]`);
    return dims.map((d) => (d === -1 ? total / known : d));
  }
  if (known !== total) throw new FoldError(`cannot reshape [${from.join(", ")}] to [${target.join(", ")}]`);
  return dims;
}

/** Elementwise functions for folding (both the binary and the unary ONNX ops). */
export const BINARY: Readonly<Record<string, (x: number, y: number, int: boolean) => number>> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y, int) => (int ? Math.trunc(x / y) : x / y),
  Pow: (x, y) => x ** y,
  Max: (x, y) => Math.max(x, y),
  Min: (x, y) => Math.min(x, y),
  Equal: (x, y) => (x === y ? 1 : 0),
};

export const UNARY: Readonly<Record<string, (x: number) => number>> = {
  Neg: (x) => -x,
  Abs: (x) => Math.abs(x),
  Sqrt: (x) => Math.sqrt(x),
  Exp: (x) => Math.exp(x),
  Log: (x) => Math.log(x),
  Reciprocal: (x) => 1 / x,
  Floor: (x) => Math.floor(x),
  Ceil: (x) => Math.ceil(x),
  Relu: (x) => Math.max(x, 0),
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Tanh: (x) => Math.tanh(x),
};

/** Float results are rounded to f32, as onnxruntime would compute them. */
export function roundIfFloat(t: OnnxTensor): OnnxTensor {
  if (t.type === "float") return { ...t, data: Float64Array.from(Float32Array.from(t.data)) };
  return t;
}
