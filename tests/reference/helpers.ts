// Helpers for checking the reference against onnxruntime-node: a seeded PRNG (so every
// random case is reproducible from its seed), random f32-representable tensors, one ORT
// session per case, and the relative error the SPEC's tolerance is stated in.

import * as ort from "onnxruntime-node";
import { expect } from "vitest";
import { type ConvOp, type PadSpec, type PoolOp, windowGeometry } from "../../compiler/ir/ops.js";
import { indices, offset, strides, type Tensor } from "../../compiler/reference/tensor.js";
import { buildModel, type GraphSpec } from "../onnx/model.js";
import { rng, type Rng } from "../rng.js";

export { rng, type Rng };


/** Uniform values in [lo, hi) rounded to f32, so that ORT (f32) and the reference (f64) see the same numbers. */
export function randomTensor(r: Rng, shape: readonly number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = lo + (hi - lo) * r.next();
  return { shape: [...shape], data: Float64Array.from(f) };
}

export interface OrtResult {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** Runs a one-output model on float32 inputs; the first output is returned. */
export async function runOnnx(graph: GraphSpec, feeds: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>): Promise<OrtResult> {
  const session = await ort.InferenceSession.create(buildModel(graph), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "disabled",
  });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor("float32", Float32Array.from(t.data), [...t.shape]);
    const out = await session.run(inputs);
    const y = out[graph.outputs[0].name];
    return { dims: [...y.dims], data: y.data as Float32Array };
  } finally {
    await session.release();
  }
}

/** max |got - want| / max(1e-6, max |want|). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / Math.max(1e-6, scale);
}

/** The reference's sample [C, D..] equals ORT's batch-of-one [1, C, D..] to 1e-5 relative. */
export function expectClose(got: OrtResult, want: Tensor, what: string, batched = true): void {
  expect(got.dims, what).toEqual(batched ? [1, ...want.shape] : [...want.shape]);
  const err = relativeError(got.data, want.data);
  expect(err, `${what}: relative error ${err}`).toBeLessThan(1e-5);
}

// Ops with every attribute defaulted, for tests that set only what they exercise.

export function convOp(o: Partial<ConvOp> & { filters: number; kernel: readonly number[] }): ConvOp {
  const d = o.kernel.length;
  return {
    kind: "conv",
    stride: ones(d),
    dilation: ones(d),
    pad: { kind: "valid" },
    groups: 1,
    flip: false,
    bias: "none",
    ...o,
  };
}

export function poolOp(o: Partial<PoolOp> & { mode: PoolOp["mode"]; window: readonly number[] }): PoolOp {
  const d = o.window.length;
  return {
    kind: "pool",
    stride: o.window,
    dilation: ones(d),
    pad: { kind: "valid" },
    ceil: false,
    countPad: false,
    p: 2,
    sigma: 1,
    ...o,
  };
}

const ones = (d: number): number[] => new Array<number>(d).fill(1);

/** The kernel reversed on every spatial axis: [O, C, k1..kd] -> K[o, c, K1-1-k1, ...]. */
export function flipKernel(w: Tensor): Tensor {
  const [, , ...k] = w.shape;
  const st = strides(w.shape);
  const out = new Float64Array(w.data.length);
  for (const idx of indices(w.shape)) {
    const flipped = idx.map((v, a) => (a < 2 ? v : k[a - 2] - 1 - v));
    out[offset(flipped, st)] = w.data[offset(idx, st)];
  }
  return { shape: w.shape, data: out };
}

/** Explicit ONNX pads [b1..bd, a1..ad] for a window op, from our PadSpec via the shared geometry. */
export function onnxPads(spatial: readonly number[], window: readonly number[], stride: readonly number[], dilation: readonly number[], pad: PadSpec, ceil = false): { pads: number[]; before: number[]; after: number[]; out: number[] } {
  const g = windowGeometry(spatial, window, stride, dilation, pad, ceil);
  const before = g.padBefore as number[];
  const after = g.padAfter as number[];
  return { pads: [...before, ...after], before, after, out: g.out as number[] };
}
