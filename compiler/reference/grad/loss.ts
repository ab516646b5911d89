// The losses and their gradients with respect to the prediction (SPEC "Gradients"). Each is a
// mean: over the positions of a per-pixel classifier, over the elements for mse and l1, so that
// a sample's loss does not grow with the image and a batch's loss is the mean of its samples'.
//
// - softmax_cross_entropy on logits z, class t at each position:
//     J = logsumexp_c(z) - z[t], computed with the max subtracted (stable for any logits);
//     dJ/dz = softmax(z) - onehot(t).
// - cross_entropy on probabilities q: J = -log q[t]; dJ/dq = -1/q[t] at t. (A network ending in
//   softmax trains through the fused form above; this one is for probabilities made otherwise.)
// - mse: mean (y - t)^2, gradient 2 (y - t) / n;  l1: mean |y - t|, gradient sign(y - t) / n.
// Class targets are class indices stored as numbers, one per position ([1] for a classifier).

import { assertNever } from "../../ir/ops.js";
import type { LossKind } from "../../ir/grad-ops.js";
import { fmtShape, size, type Tensor, tensor } from "../tensor.js";

function classAt(target: Tensor, p: number, C: number): number {
  const t = target.data[p];
  if (!Number.isInteger(t) || t < 0 || t >= C) throw new Error(`label ${t} is not a class in [0, ${C})`);
  return t;
}

function checkTarget(kind: LossKind, pred: Tensor, target: Tensor): void {
  const per = size(pred.shape.slice(1));
  const want = kind === "mse" || kind === "l1" ? pred.data.length : per;
  if (target.data.length !== want) {
    throw new Error(`${kind}: target ${fmtShape(target.shape)} does not fit the prediction ${fmtShape(pred.shape)} (${want} values expected)`);
  }
}

/** The loss and its gradient together (the softmax is computed once for both). */
export function lossAndGrad(kind: LossKind, pred: Tensor, target: Tensor): { loss: number; grad: Tensor } {
  checkTarget(kind, pred, target);
  const grad = tensor(pred.shape);
  // Classifier outputs are [C] or [C, D..]: channels first, positions after.
  const C = pred.shape[0];
  const per = size(pred.shape.slice(1));
  let loss = 0;
  switch (kind) {
    case "softmax_cross_entropy":
      for (let p = 0; p < per; p++) {
        const t = classAt(target, p, C);
        let max = -Infinity;
        for (let c = 0; c < C; c++) max = Math.max(max, pred.data[c * per + p]);
        let sum = 0;
        for (let c = 0; c < C; c++) sum += Math.exp(pred.data[c * per + p] - max);
        loss += max + Math.log(sum) - pred.data[t * per + p];
        for (let c = 0; c < C; c++) grad.data[c * per + p] = (Math.exp(pred.data[c * per + p] - max) / sum - (c === t ? 1 : 0)) / per;
      }
      return { loss: loss / per, grad };
    case "cross_entropy":
      for (let p = 0; p < per; p++) {
        const t = classAt(target, p, C);
        const q = pred.data[t * per + p];
        loss -= Math.log(q);
        grad.data[t * per + p] = -1 / (q * per);
      }
      return { loss: loss / per, grad };
    case "mse":
    case "l1": {
      const n = pred.data.length;
      for (let i = 0; i < n; i++) {
        const d = pred.data[i] - target.data[i];
        loss += kind === "mse" ? d * d : Math.abs(d);
        grad.data[i] = (kind === "mse" ? 2 * d : Math.sign(d)) / n;
      }
      return { loss: loss / n, grad };
    }
    default:
      return assertNever(kind);
  }
}
