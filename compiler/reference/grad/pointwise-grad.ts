// Gradients of the ops without windows: activations (from the forward input x), softmax (from
// its output y), dense, batch norm with fixed statistics, and the ops that only move elements
// (reshape, concat, broadcasting add/mul), whose gradients move dy back or sum it over the
// axes a broadcast operand was repeated along.

import type { ActivationFn } from "../../ir/ops.js";
import { assertNever } from "../../ir/ops.js";
import { fmtShape, indices, offset, size, strides, type Tensor, tensor } from "../tensor.js";

/** f'(x) of each activation (ir/ops.ts's ActivationOp: alpha and beta as there); at a kink, the right-hand side's. */
function derivative(fn: ActivationFn, alpha: number, beta: number): (v: number) => number {
  switch (fn) {
    case "relu":
      return (v) => (v > 0 ? 1 : 0);
    case "leaky_relu":
      return (v) => (v >= 0 ? 1 : alpha);
    case "sigmoid":
      return (v) => {
        const s = 1 / (1 + Math.exp(-v));
        return s * (1 - s);
      };
    case "tanh":
      return (v) => 1 - Math.tanh(v) ** 2;
    case "identity":
      return () => 1;
    case "clip":
      return (v) => (v >= alpha && v < beta ? 1 : 0);
    case "hardsigmoid":
      return (v) => {
        const u = alpha * v + beta;
        return u > 0 && u < 1 ? alpha : 0;
      };
    case "hardswish":
      return (v) => (v < -3 ? 0 : v > 3 ? 1 : v / 3 + 0.5);
    case "elu":
      return (v) => (v < 0 ? alpha * Math.exp(v) : 1);
    case "selu":
      return (v) => beta * (v <= 0 ? alpha * Math.exp(v) : 1);
    case "exp":
      return Math.exp;
    case "log":
      return (v) => 1 / v;
    case "abs":
      return (v) => (v >= 0 ? 1 : -1);
    case "neg":
      return () => -1;
    case "sqrt":
      return (v) => 0.5 / Math.sqrt(v);
    case "reciprocal":
      return (v) => -1 / (v * v);
    case "pow":
      return (v) => alpha * v ** (alpha - 1);
    default:
      return assertNever(fn);
  }
}

export function activationGrad(x: Tensor, dy: Tensor, fn: ActivationFn, alpha: number, beta = 0): Tensor {
  const f = derivative(fn, alpha, beta);
  return tensor(x.shape, x.data.map((v, i) => f(v) * dy.data[i]));
}

/** Softmax over channels: dx = y * (dy - sum_c y * dy) at every position. */
export function softmaxGrad(y: Tensor, dy: Tensor): Tensor {
  const C = y.shape[0];
  const per = size(y.shape.slice(1));
  const dx = tensor(y.shape);
  for (let p = 0; p < per; p++) {
    let dot = 0;
    for (let c = 0; c < C; c++) dot += y.data[c * per + p] * dy.data[c * per + p];
    for (let c = 0; c < C; c++) dx.data[c * per + p] = y.data[c * per + p] * (dy.data[c * per + p] - dot);
  }
  return dx;
}

/** log_softmax over channels: dx = dy - exp(y) * sum_c dy at every position (exp(y) is the softmax). */
export function logSoftmaxGrad(y: Tensor, dy: Tensor): Tensor {
  const C = y.shape[0];
  const per = size(y.shape.slice(1));
  const dx = tensor(y.shape);
  for (let p = 0; p < per; p++) {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += dy.data[c * per + p];
    for (let c = 0; c < C; c++) dx.data[c * per + p] = dy.data[c * per + p] - Math.exp(y.data[c * per + p]) * sum;
  }
  return dx;
}

/** W^T dy: weight [U, n], dy [U] -> [n] under the forward input's shape. */
export function denseGradInput(dy: Tensor, weight: Tensor, inShape: readonly number[]): Tensor {
  const [U, n] = weight.shape;
  const dx = tensor(inShape);
  for (let u = 0; u < U; u++) {
    const g = dy.data[u];
    if (g === 0) continue;
    for (let i = 0; i < n; i++) dx.data[i] += weight.data[u * n + i] * g;
  }
  return dx;
}

/** dy x^T: [U, n]. */
export function denseGradKernel(x: Tensor, dy: Tensor): Tensor {
  const U = dy.data.length;
  const n = x.data.length;
  const dw = tensor([U, n]);
  for (let u = 0; u < U; u++) for (let i = 0; i < n; i++) dw.data[u * n + i] = dy.data[u] * x.data[i];
  return dw;
}

/** Fixed-statistics batch norm: dx = dy * gamma / sqrt(var + eps). */
export function batchnormGradInput(dy: Tensor, gamma: Tensor, variance: Tensor, eps: number): Tensor {
  const per = size(dy.shape.slice(1));
  const dx = tensor(dy.shape);
  for (let c = 0; c < dy.shape[0]; c++) {
    const scale = gamma.data[c] / Math.sqrt(variance.data[c] + eps);
    for (let i = 0; i < per; i++) dx.data[c * per + i] = dy.data[c * per + i] * scale;
  }
  return dx;
}

/** dgamma[c] = sum over positions of dy * (x - mean) / sqrt(var + eps). */
export function batchnormGradGamma(x: Tensor, dy: Tensor, mean: Tensor, variance: Tensor, eps: number): Tensor {
  const per = size(x.shape.slice(1));
  const dg = tensor([x.shape[0]]);
  for (let c = 0; c < x.shape[0]; c++) {
    const sd = Math.sqrt(variance.data[c] + eps);
    for (let i = 0; i < per; i++) dg.data[c] += (dy.data[c * per + i] * (x.data[c * per + i] - mean.data[c])) / sd;
  }
  return dg;
}

/** Training-mode batch norm's input gradient over a batch (every sample's x and dy; mean and biased variance of the batch). */
export function batchnormBatchGradInput(xs: readonly Tensor[], dys: readonly Tensor[], gamma: Tensor, mean: Tensor, variance: Tensor, eps: number): Tensor[] {
  const C = xs[0].shape[0];
  const per = size(xs[0].shape.slice(1));
  const N = per * xs.length;
  const dx = xs.map((x) => tensor(x.shape));
  for (let c = 0; c < C; c++) {
    const sd = Math.sqrt(variance.data[c] + eps);
    let sg = 0;
    let sgx = 0;
    xs.forEach((x, b) => {
      for (let i = 0; i < per; i++) {
        const g = dys[b].data[c * per + i] * gamma.data[c];
        sg += g;
        sgx += (g * (x.data[c * per + i] - mean.data[c])) / sd;
      }
    });
    xs.forEach((x, b) => {
      for (let i = 0; i < per; i++) {
        const at = c * per + i;
        const xhat = (x.data[at] - mean.data[c]) / sd;
        dx[b].data[at] = (dys[b].data[at] * gamma.data[c] - sg / N - (xhat * sgx) / N) / sd;
      }
    });
  }
  return dx;
}

/** Per-channel mean and biased variance over a batch and every position: batch norm's training statistics. */
export function batchStatistics(xs: readonly Tensor[]): { mean: Tensor; variance: Tensor; count: number } {
  const C = xs[0].shape[0];
  const per = size(xs[0].shape.slice(1));
  const mean = tensor([C]);
  const variance = tensor([C]);
  const N = per * xs.length;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (const x of xs) for (let i = 0; i < per; i++) s += x.data[c * per + i];
    const m = s / N;
    let v = 0;
    for (const x of xs) for (let i = 0; i < per; i++) v += (x.data[c * per + i] - m) ** 2;
    mean.data[c] = m;
    variance.data[c] = v / N;
  }
  return { mean, variance, count: N };
}

/**
 * dy summed down to `shape`, the operand's shape before channel-first broadcasting (trailing
 * 1s appended, then every axis where it had 1 and dy more is summed).
 */
export function unbroadcast(dy: Tensor, shape: readonly number[]): Tensor {
  if (size(shape) === dy.data.length) return tensor(shape, dy.data);
  const padded = [...shape, ...new Array<number>(Math.max(0, dy.shape.length - shape.length)).fill(1)];
  if (padded.length !== dy.shape.length || padded.some((d, i) => d !== 1 && d !== dy.shape[i])) {
    throw new Error(`unbroadcast: ${fmtShape(dy.shape)} does not reduce to ${fmtShape(shape)}`);
  }
  const ps = strides(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
  const r = tensor(shape);
  let at = 0;
  for (const j of indices(dy.shape)) r.data[offset(j, ps)] += dy.data[at++];
  return r;
}

/** One operand's gradient of a * b: dy times the other operand (broadcast), summed down to `shape`. */
export function mulGrad(dy: Tensor, other: Tensor, shape: readonly number[]): Tensor {
  const rank = dy.shape.length;
  const padded = [...other.shape, ...new Array<number>(Math.max(0, rank - other.shape.length)).fill(1)];
  const os = strides(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
  const prod = tensor(dy.shape);
  let at = 0;
  for (const j of indices(dy.shape)) {
    prod.data[at] = dy.data[at] * other.data[offset(j, os)];
    at++;
  }
  return unbroadcast(prod, shape);
}

/** Channels [start, start + count) of dy. */
export function sliceChannels(dy: Tensor, start: number, count: number): Tensor {
  const per = size(dy.shape.slice(1));
  return tensor([count, ...dy.shape.slice(1)], dy.data.subarray(start * per, (start + count) * per));
}

export function accumulate(xs: readonly Tensor[]): Tensor {
  const r = tensor(xs[0].shape);
  for (const x of xs) {
    if (x.data.length !== r.data.length) throw new Error(`accumulate: ${fmtShape(x.shape)} and ${fmtShape(r.shape)}`);
    for (let i = 0; i < x.data.length; i++) r.data[i] += x.data[i];
  }
  return r;
}
