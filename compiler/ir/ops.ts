// One entry per op of the IR, as a discriminated union: a pass or backend that forgets a new
// op fails to type-check at its `switch` (see `assertNever`). Attributes are fully resolved
// here (sizes per spatial axis, defaults applied); what still depends on the input's size
// (the amount of `same` padding, the output size) is computed from the input's Dim shape by
// the helpers below, which the shape rules, the reference and the backends all share.

import * as D from "./dim.js";
import type { Dim } from "./dim.js";

/** How a spatial axis is padded: resolved per axis into (before, after) by `padAmounts`. */
export type PadSpec =
  | { readonly kind: "valid" }
  | { readonly kind: "same" }
  | { readonly kind: "full" }
  | { readonly kind: "explicit"; readonly before: readonly number[]; readonly after: readonly number[] };

export type BiasKind = "channel" | "location" | "none";

/** conv, and depthwise (groups = channels). Weight [O, C/groups, k1..kd], bias [O] or [O, j1..jd]. */
export interface ConvOp {
  readonly kind: "conv";
  readonly filters: number;
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  readonly pad: PadSpec;
  readonly groups: number;
  /** True convolution: the kernel is flipped on every spatial axis. */
  readonly flip: boolean;
  readonly bias: BiasKind;
}

export type PoolMode = "max" | "avg" | "lp" | "gauss";

export interface PoolOp {
  readonly kind: "pool";
  readonly mode: PoolMode;
  readonly window: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  readonly pad: PadSpec;
  /** Keep the last, partial window (PyTorch's ceil_mode). */
  readonly ceil: boolean;
  /** avg: divide by the full window size, padding included. */
  readonly countPad: boolean;
  /** lp: the norm's exponent (2 for l2pool). */
  readonly p: number;
  /** gauss: the standard deviation of the weights, in pixels. */
  readonly sigma: number;
}

/** Adaptive pooling: `out[i]` regions per axis, region i of n over m spans [floor(i*m/n), ceil((i+1)*m/n)). */
export interface AdaptivePoolOp {
  readonly kind: "adaptive_pool";
  readonly mode: "max" | "avg";
  readonly out: readonly number[];
}

/** Fully connected over the flattened input. Weight [units, inputs], bias [units] (or none). */
export interface DenseOp {
  readonly kind: "dense";
  readonly units: number;
  readonly bias: "channel" | "none";
}

export type ActivationFn = "relu" | "leaky_relu" | "sigmoid" | "tanh" | "identity" | "clip" | "hardsigmoid" | "hardswish" | "elu"
  | "selu" | "exp" | "log" | "abs" | "neg" | "sqrt" | "reciprocal" | "pow";

export interface ActivationOp {
  readonly kind: "activation";
  readonly fn: ActivationFn;
  /** leaky_relu's negative slope; clip's lower bound; hardsigmoid's slope; elu's and selu's alpha; pow's exponent. */
  readonly alpha: number;
  /** clip's upper bound; hardsigmoid's offset; selu's gamma (absent: 0). */
  readonly beta?: number;
}

/** Softmax over channels at every position; log_softmax is its logarithm, x - max - log(sum exp(x - max)). */
export interface SoftmaxOp {
  readonly kind: "softmax" | "log_softmax";
}

/** [C, D1..Dd] -> [C*D1*..*Dd]: a 0-D spatial tensor is represented as [N] (rank 0 spatial). */
export interface FlattenOp {
  readonly kind: "flatten";
}

/** Reinterpret the same elements (row-major) as another shape [C, D1..Dd]. */
export interface ReshapeOp {
  readonly kind: "reshape";
  readonly shape: readonly number[];
}

/** Elementwise a + b / a * b; an operand of shape [C] or [1] or [C, 1, ..] broadcasts. */
export interface BinaryOp {
  readonly kind: "add" | "mul";
}

/** Concatenation along channels; spatial sizes must match. */
export interface ConcatOp {
  readonly kind: "concat";
}

/**
 * Locally connected (unshared) layer: conv's connectivity, a kernel per output position.
 * Weight [O, j1..jd, C, k1..kd]; bias per location [O, j1..jd] or none.
 */
export interface LocalOp {
  readonly kind: "local";
  readonly filters: number;
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  readonly pad: PadSpec;
  readonly bias: "location" | "none";
}

/**
 * Tiled convolution: output position j uses kernel (j1 mod t1, ..., jd mod td).
 * Weight [O, C, k1..kd, t1..td]; bias tiled the same way [O, t1..td], or none.
 */
export interface TiledOp {
  readonly kind: "tiled";
  readonly filters: number;
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  readonly pad: PadSpec;
  readonly tiles: readonly number[];
  readonly bias: "tiled" | "none";
}

/**
 * Transposed convolution: the transpose of the conv with the same kernel, stride, padding,
 * dilation and groups that maps an input of size `out` to this op's input. Weight
 * [C_in, O/groups, k1..kd] (that conv's kernel), bias [O] or none.
 */
export interface DeconvOp {
  readonly kind: "deconv";
  readonly filters: number;
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  readonly pad: PadSpec;
  readonly groups: number;
  /** The spatial size it returns (from `size:` or `like:`). */
  readonly out: readonly Dim[];
  readonly bias: "channel" | "none";
}

/** Batch normalisation at inference: (x - mean) / sqrt(var + eps) * gamma + beta, per channel. */
export interface BatchNormOp {
  readonly kind: "batchnorm";
  readonly eps: number;
}

/**
 * Every `step`-th element from `start` (included) to `end` (excluded) of one axis of the
 * value [C, D1..Dd] (axis 0: channels; 1..d: spatial). Bounds are resolved when lowered:
 * 0 <= start < end <= the axis' size (a fixed number), step >= 1.
 */
export interface SliceOp {
  readonly kind: "slice";
  readonly axis: number;
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/** How `pad` fills: a constant, the mirror image without the edge (reflect), or the edge value repeated. */
export type PadMode = "constant" | "reflect" | "edge";

/**
 * Pads the spatial axes of [C, D1..Dd]: `before[a]` and `after[a]` elements on spatial axis a.
 * Output element j of an axis of size m reads t = j - before: constant gives `value` outside
 * 0 <= t < m; reflect reads |t| folded back from the far end, min(|t|, 2(m - 1) - |t|) (so
 * pads must be below m); edge reads t clamped to [0, m - 1].
 */
export interface PadOp {
  readonly kind: "pad";
  readonly mode: PadMode;
  readonly before: readonly number[];
  readonly after: readonly number[];
  readonly value: number;
}

export type ResizeMode = "nearest" | "linear";
/** ONNX's coordinate_transformation_mode: where output coordinate x samples the input. */
export type ResizeCoord = "half_pixel" | "pytorch_half_pixel" | "align_corners" | "asymmetric";
/** ONNX's nearest_mode; `simple` is opset-10 Resize and Upsample's (truncate, or ceil when shrinking). */
export type ResizeRound = "round_prefer_floor" | "round_prefer_ceil" | "floor" | "ceil" | "simple";

/**
 * Resizes the spatial axes of [C, D1..Dd] (fixed sizes) to `out`, each output coordinate
 * mapped to the input by `coord` with `scale` (ONNX's scale: given, or out / in), then read
 * by nearest neighbour (rounded by `round`) or n-linear interpolation of the two neighbours
 * on every axis (edges clamped). ir/resize.ts computes the taps every backend uses.
 */
export interface ResizeOp {
  readonly kind: "resize";
  readonly mode: ResizeMode;
  readonly coord: ResizeCoord;
  readonly round: ResizeRound;
  readonly out: readonly number[];
  readonly scale: readonly number[];
}

/**
 * Permutes the axes of one sample [C, D1..Dd] (the batch is untouched): output axis k is
 * input axis perm[k], so y[j0, .., jd] = x at index j_k on axis perm[k].
 */
export interface TransposeOp {
  readonly kind: "transpose";
  readonly perm: readonly number[];
}

/**
 * Matrix product of two values, per sample: a [M, K] times b [K, N] is [M, N]; with a
 * leading axis, a [B, M, K] times b [B, K, N] is B products, [B, M, N].
 */
export interface MatMulOp {
  readonly kind: "matmul";
}

/** Cross-channel pooling: the max over each group of k consecutive channels. */
export interface MaxoutOp {
  readonly kind: "maxout";
  readonly k: number;
}

export type Op =
  | ConvOp
  | LocalOp
  | TiledOp
  | DeconvOp
  | BatchNormOp
  | MaxoutOp
  | PoolOp
  | AdaptivePoolOp
  | DenseOp
  | ActivationOp
  | SoftmaxOp
  | FlattenOp
  | ReshapeOp
  | BinaryOp
  | ConcatOp
  | SliceOp
  | PadOp
  | ResizeOp
  | TransposeOp
  | MatMulOp;

export type OpKind = Op["kind"];

export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`);
}

/** The input coordinate that output coordinate t + before of a padded axis of size m reads (in range for constant mode only when 0 <= t < m). */
export function padSource(mode: PadMode, t: number, m: number): number {
  if (mode === "edge" || mode === "constant") return Math.min(Math.max(t, 0), m - 1);
  const r = Math.abs(t);
  return Math.min(r, 2 * (m - 1) - r);
}

/** Effective extent of a dilated window: (k - 1) * r + 1. */
export function effectiveKernel(k: number, dilation: number): number {
  return (k - 1) * dilation + 1;
}

/**
 * Padding (before, after) on one axis of size `m` for a window of effective size `keff`
 * moved by `stride`. `same` gives ceil(m / s) outputs with the odd pixel after (SAME_UPPER).
 */
export function padAmounts(pad: PadSpec, axis: number, m: Dim, keff: number, stride: number): [Dim, Dim] {
  switch (pad.kind) {
    case "valid":
      return [0, 0];
    case "full":
      return [keff - 1, keff - 1];
    case "explicit":
      return [pad.before[axis], pad.after[axis]];
    case "same": {
      // total = max((ceil(m/s) - 1) * s + keff - m, 0)
      const total =
        stride === 1
          ? keff - 1
          : D.max(D.sub(D.add(D.mul(D.sub(D.ceildiv(m, stride), 1), stride), keff), m), 0);
      const before = D.floordiv(total, 2);
      return [before, D.sub(total, before)];
    }
  }
}

/** Output size of a sliding window (convolution or pooling) on one axis. */
export function windowOutSize(m: Dim, keff: number, stride: number, before: Dim, after: Dim, ceil = false): Dim {
  // floor((m + pads - keff) / s) + 1, written as one division so that symbolic sizes stay
  // short (a 2x2 pool with stride 2 on H is H // 2).
  const padded = D.add(D.add(m, before), after);
  if (!ceil) return D.floordiv(D.sub(padded, keff - stride), stride);
  // ceil mode keeps a partial last window, but never one that starts in the trailing padding
  // (PyTorch and ONNX drop it).
  const out = D.ceildiv(D.sub(padded, keff - stride), stride);
  if (typeof out === "number" && typeof m === "number" && typeof before === "number") {
    return (out - 1) * stride >= m + before ? out - 1 : out;
  }
  // Symbolic: out - 1 when (out - 1) * s >= m + before, i.e. subtract min(1, max(0, ...)).
  const overshoot = D.sub(D.mul(D.sub(out, 1), stride), D.add(m, before));
  return D.sub(out, D.min(1, D.max(0, D.add(overshoot, 1))));
}

/** Resolved geometry of a sliding-window op on an input of the given spatial sizes. */
export interface WindowGeometry {
  readonly padBefore: Dim[];
  readonly padAfter: Dim[];
  readonly out: Dim[];
}

export function windowGeometry(
  spatial: readonly Dim[],
  kernel: readonly number[],
  stride: readonly number[],
  dilation: readonly number[],
  pad: PadSpec,
  ceil = false,
): WindowGeometry {
  const padBefore: Dim[] = [];
  const padAfter: Dim[] = [];
  const out: Dim[] = [];
  spatial.forEach((m, i) => {
    const keff = effectiveKernel(kernel[i], dilation[i]);
    const [b, a] = padAmounts(pad, i, m, keff, stride[i]);
    padBefore.push(b);
    padAfter.push(a);
    // `same` is defined by its output size, ceil(m / s); saying so keeps symbolic sizes short.
    out.push(pad.kind === "same" && !ceil ? D.ceildiv(m, stride[i]) : windowOutSize(m, keff, stride[i], b, a, ceil));
  });
  return { padBefore, padAfter, out };
}

/** A Gaussian pool's weight at every window position, row-major over the window's axes (the order of a window's taps): exp(-|delta|^2 / (2 sigma^2)), delta = (k - (K-1)/2) * dilation per axis. */
export function gaussWeights(op: PoolOp): Float64Array {
  const n = op.window.reduce((a, b) => a * b, 1);
  const table = new Float64Array(n);
  for (let flat = 0; flat < n; flat++) {
    let rest = flat;
    let d2 = 0;
    for (let axis = op.window.length - 1; axis >= 0; axis--) {
      const k = rest % op.window[axis];
      rest = Math.floor(rest / op.window[axis]);
      const d = (k - (op.window[axis] - 1) / 2) * op.dilation[axis];
      d2 += d * d;
    }
    table[flat] = Math.exp(-d2 / (2 * op.sigma * op.sigma));
  }
  return table;
}

/** The conv whose transpose a deconv is: it maps [O, out..] to the deconv's input [C_in, ..]. */
export function deconvAsConv(op: DeconvOp, inChannels: number): ConvOp {
  return {
    kind: "conv",
    filters: inChannels,
    kernel: op.kernel,
    stride: op.stride,
    dilation: op.dilation,
    pad: op.pad,
    groups: op.groups,
    flip: false,
    bias: "none",
  };
}
