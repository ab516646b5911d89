// Optimisers, as PyTorch defines them (so that a configuration carries over), on float64
// master weights, one update per step for every trained tensor:
//
// - sgd:   g = grad + wd * w; with momentum mu: b = mu * b + g (b = g at the first step);
//          nesterov: g = g + mu * b, else g = b; w -= lr * g.
// - adam:  g = grad + wd * w (L2, coupled); m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//          w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
// - adamw: w -= lr * wd * w first (decoupled weight decay), then adam without decay.
// Before the update the gradients may be clipped to a global L2 norm (torch's
// clip_grad_norm_: scale by max_norm / (norm + 1e-6) when the norm exceeds it). The learning
// rate at step t (from 0) follows the schedule: constant; step: lr * gamma^floor(t / every);
// cosine: min + (lr - min) (1 + cos(pi * min(t, total) / total)) / 2.

import type { Tensor } from "../reference/tensor.js";

export type Schedule =
  | { readonly kind: "constant" }
  | { readonly kind: "step"; readonly every: number; readonly gamma: number }
  | { readonly kind: "cosine"; readonly total: number; readonly min: number };

export interface OptimiserConfig {
  readonly kind: "sgd" | "adam" | "adamw";
  readonly lr: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly schedule: Schedule;
  /** Global gradient-norm limit; 0 for none. */
  readonly clip: number;
}

export const DEFAULT_OPTIMISER: OptimiserConfig = {
  kind: "sgd",
  lr: 0.01,
  momentum: 0,
  nesterov: false,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  schedule: { kind: "constant" },
  clip: 0,
};

export function learningRate(c: OptimiserConfig, step: number): number {
  const s = c.schedule;
  switch (s.kind) {
    case "constant":
      return c.lr;
    case "step":
      return c.lr * Math.pow(s.gamma, Math.floor(step / s.every));
    case "cosine":
      // A run-long cosine whose length nobody gave (total 0) stays at the initial rate.
      if (s.total <= 0) return c.lr;
      return s.min + ((c.lr - s.min) * (1 + Math.cos((Math.PI * Math.min(step, s.total)) / s.total))) / 2;
  }
}

/** Per-tensor state: momentum buffer, or Adam's two moments. Saved and restored with the trainer. */
export interface OptimiserState {
  step: number;
  readonly slots: Map<string, Float64Array[]>;
}

export function newState(): OptimiserState {
  return { step: 0, slots: new Map() };
}

/** Scales the gradients in place to the global norm limit; returns the norm before clipping. */
export function clipGradients(grads: readonly Tensor[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (const v of g.data) sq += v * v;
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const g of grads) for (let i = 0; i < g.data.length; i++) g.data[i] *= scale;
  }
  return norm;
}

/** One update of every named weight by its gradient (both float64, updated in place). */
export function applyUpdate(c: OptimiserConfig, state: OptimiserState, params: ReadonlyMap<string, { weight: Tensor; grad: Tensor }>): void {
  const lr = learningRate(c, state.step);
  state.step++;
  const t = state.step;
  if (c.clip > 0) clipGradients([...params.values()].map((p) => p.grad), c.clip);
  for (const [name, { weight, grad }] of params) {
    const w = weight.data;
    const g = grad.data;
    const n = w.length;
    const slots = (count: number): Float64Array[] => {
      let s = state.slots.get(name);
      if (!s) {
        s = Array.from({ length: count }, () => new Float64Array(n));
        state.slots.set(name, s);
      }
      return s;
    };
    if (c.kind === "sgd") {
      const [buf] = c.momentum > 0 ? slots(1) : [undefined];
      for (let i = 0; i < n; i++) {
        let d = g[i] + c.weightDecay * w[i];
        if (buf) {
          buf[i] = t === 1 ? d : c.momentum * buf[i] + d;
          d = c.nesterov ? d + c.momentum * buf[i] : buf[i];
        }
        w[i] -= lr * d;
      }
    } else {
      const [m, v] = slots(2);
      const bc1 = 1 - Math.pow(c.beta1, t);
      const bc2 = 1 - Math.pow(c.beta2, t);
      for (let i = 0; i < n; i++) {
        if (c.kind === "adamw") w[i] -= lr * c.weightDecay * w[i];
        const d = c.kind === "adam" ? g[i] + c.weightDecay * w[i] : g[i];
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * d;
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * d * d;
        w[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + c.eps);
      }
    }
  }
}
