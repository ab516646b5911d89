// The detector stage (SPEC "Detector stage"): elementwise nonlinearities, and softmax over
// the channel axis at every spatial position (per-pixel class probabilities; on a flat [N]
// vector, over its N entries).

import { type ActivationOp, assertNever } from "../ir/ops.js";
import { size, strides, type Tensor, tensor } from "./tensor.js";

export function activation(x: Tensor, op: ActivationOp): Tensor {
  const f = scalarFn(op);
  return tensor(x.shape, x.data.map(f));
}

function scalarFn(op: ActivationOp): (v: number) => number {
  switch (op.fn) {
    case "relu":
      return (v) => (v > 0 ? v : 0);
    case "leaky_relu":
      return (v) => (v >= 0 ? v : op.alpha * v);
    case "sigmoid":
      return (v) => 1 / (1 + Math.exp(-v));
    case "tanh":
      return (v) => Math.tanh(v);
    case "identity":
      return (v) => v;
    case "clip": {
      const hi = op.beta ?? 0;
      return (v) => Math.min(Math.max(v, op.alpha), hi);
    }
    case "hardsigmoid": {
      const b = op.beta ?? 0;
      return (v) => Math.max(0, Math.min(1, op.alpha * v + b));
    }
    case "hardswish":
      // ONNX HardSwish: x * HardSigmoid(x) with alpha 1/6, beta 0.5.
      return (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5));
    case "elu":
      return (v) => (v < 0 ? op.alpha * (Math.exp(v) - 1) : v);
    case "selu": {
      const gamma = op.beta ?? 0;
      return (v) => gamma * (v <= 0 ? op.alpha * (Math.exp(v) - 1) : v);
    }
    case "exp":
      return Math.exp;
    case "log":
      return Math.log;
    case "abs":
      return Math.abs;
    case "neg":
      return (v) => -v;
    case "sqrt":
      return Math.sqrt;
    case "reciprocal":
      return (v) => 1 / v;
    case "pow":
      return (v) => v ** op.alpha;
    default:
      return assertNever(op.fn);
  }
}

/**
 * Over axis 0 of [C, D1..Dd], at every position: the channels' max and sum of exp(x - max),
 * handed to `write` with the position's first index and the channel stride. Subtracting the
 * max keeps exp from overflowing; it cancels in softmax's ratio and in log_softmax's difference.
 */
function overChannels(x: Tensor, write: (y: Tensor, p: number, stride: number, max: number, sum: number) => void): Tensor {
  const C = x.shape[0];
  const positions = size(x.shape.slice(1));
  const channelStride = strides(x.shape)[0];
  const y = tensor(x.shape);
  for (let p = 0; p < positions; p++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, x.data[c * channelStride + p]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(x.data[c * channelStride + p] - max);
    write(y, p, channelStride, max, sum);
  }
  return y;
}

/** softmax over axis 0 of [C, D1..Dd]: exp(x - max) / sum exp(x - max), max over channels. */
export function softmax(x: Tensor): Tensor {
  const C = x.shape[0];
  return overChannels(x, (y, p, stride, max, sum) => {
    for (let c = 0; c < C; c++) y.data[c * stride + p] = Math.exp(x.data[c * stride + p] - max) / sum;
  });
}

/** log_softmax over axis 0: x - max - log(sum exp(x - max)), without forming the quotient (no log of an underflowed 0). */
export function logSoftmax(x: Tensor): Tensor {
  const C = x.shape[0];
  return overChannels(x, (y, p, stride, max, sum) => {
    const shift = max + Math.log(sum);
    for (let c = 0; c < C; c++) y.data[c * stride + p] = x.data[c * stride + p] - shift;
  });
}
