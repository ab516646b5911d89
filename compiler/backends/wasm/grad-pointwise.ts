// The training step's kernels without windows: dense forward and gradients (dx = W^T dy,
// dW = dy x^T), activations and their derivatives (the reference's f'(x), compiler/reference/
// grad/pointwise-grad.ts, its value at each kink included: mostly the right-hand side's, but
// hardsigmoid's is 0 at both ends and selu's the left's at 0), softmax and its gradient, the
// per-channel bias gradient, and the losses with their gradients (compiler/reference/grad/
// loss.ts: each a mean over positions or elements; softmax cross-entropy on logits with the
// max subtracted). Dense's products and the channel bias gradient's sums run on SIMD f32
// lanes (grad-simd.ts); the other sums run in f64; tensors are f32 in memory.

import type { LossKind } from "../../ir/grad-ops.js";
import type { ActivationFn } from "../../ir/ops.js";
import { assertNever } from "../../ir/ops.js";
import { activate } from "./activation.js";
import { type Expr, type F64Var, Int, type View } from "./builder.js";
import type { GradKernelContext } from "./grad-context.js";
import { dot, elementwise, rowSum, scaledCopy, scaledRowSum, vload, vstore } from "./grad-simd.js";
import { vec, zero as vzero } from "./simd.js";

/**
 * Activations whose derivative the training step computes: every one (emitActivationGrad's
 * switch is exhaustive, so a new ActivationFn fails to compile until it has a kernel here and
 * is added). Kept as a set for StepKernels, which a backend without some kernel would narrow.
 */
const DERIVATIVES: ReadonlySet<ActivationFn> = new Set<ActivationFn>([
  "relu", "leaky_relu", "sigmoid", "tanh", "identity", "clip", "hardsigmoid", "hardswish", "elu",
  "selu", "exp", "log", "abs", "neg", "sqrt", "reciprocal", "pow",
]);

export function activationTrainable(fn: ActivationFn): boolean {
  return DERIVATIVES.has(fn);
}

export function emitDenseForward(k: GradKernelContext, units: number, n: number, x: View, w: View, bias: View | undefined, y: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, units, (u) => {
    const acc = dot(fn, w, u.mul(n), x, fn.const(0), n, bias ? bias.load(u) : m.f64.const(0));
    fn.emit(y.store(u, acc.get()));
  });
}

/** dx[i] = sum over u of W[u, i] dy[u]. */
export function emitDenseGradInput(k: GradKernelContext, units: number, n: number, dy: View, w: View, dx: View): void {
  const { fn } = k;
  scaledRowSum(fn, units, n, w, (u) => u.mul(n), dy, (u) => u, dx, fn.const(0));
}

/** dW[u, i] = dy[u] x[i], or dW[u, i] += dy[u] x[i] with `add` (the batch's sum). */
export function emitDenseGradKernel(k: GradKernelContext, units: number, n: number, x: View, dy: View, dw: View, add = false): void {
  const { fn } = k;
  fn.for(0, units, (u) => scaledCopy(fn, n, dy, u, x, dw, u.mul(n), add));
}

export function emitActivationForward(k: GradKernelContext, f: ActivationFn, alpha: number, beta: number | undefined, count: number, x: View, y: View): void {
  const { fn } = k;
  const m = fn.m;
  // relu on four lanes: f32x4.max, like the scalar f64.max, keeps a NaN.
  if (f === "relu") return elementwise(fn, count, x, x, y, (v) => m.f32x4.max(v, vzero(m)), (i) => activate(fn, k.math, f, alpha, x.load(i), beta));
  fn.for(0, count, (i) => fn.emit(y.store(i, activate(fn, k.math, f, alpha, x.load(i), beta))));
}

/** dx = f'(x) dy; alpha and beta as the forward op's (beta absent: 0, as there). */
export function emitActivationGrad(k: GradKernelContext, f: ActivationFn, alpha: number, beta: number | undefined, count: number, x: View, dy: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  const b = beta ?? 0;
  // relu's derivative on four lanes: dy where x > 0 (a NaN x compares false: 0, as below).
  if (f === "relu") {
    return elementwise(fn, count, x, dy, dx, (v, g) => m.v128.and(g, m.f32x4.gt(v, vzero(m))), (i) => m.select(m.f64.gt(x.load(i), m.f64.const(0)), dy.load(i), m.f64.const(0)));
  }
  fn.for(0, count, (i) => {
    const v = fn.f64(x.load(i));
    const g = fn.f64(dy.load(i));
    const zero = m.f64.const(0);
    let r: Expr;
    switch (f) {
      case "leaky_relu":
        r = m.select(m.f64.ge(v.get(), zero), g.get(), m.f64.mul(m.f64.const(alpha), g.get()));
        break;
      case "sigmoid": {
        const s = fn.f64(m.f64.div(m.f64.const(1), m.f64.add(m.f64.const(1), k.math.exp(m.f64.neg(v.get())))));
        r = m.f64.mul(m.f64.mul(s.get(), m.f64.sub(m.f64.const(1), s.get())), g.get());
        break;
      }
      case "tanh": {
        const t = fn.f64(k.math.tanh(v.get()));
        r = m.f64.mul(m.f64.sub(m.f64.const(1), m.f64.mul(t.get(), t.get())), g.get());
        break;
      }
      case "identity":
        r = g.get();
        break;
      case "elu":
        r = m.select(m.f64.lt(v.get(), zero), m.f64.mul(m.f64.mul(m.f64.const(alpha), k.math.exp(v.get())), g.get()), g.get());
        break;
      case "clip":
        // 1 on [lo, hi): the lower kink takes the right-hand side's slope (1), the upper one's (0).
        r = m.select(m.i32.and(m.f64.ge(v.get(), m.f64.const(alpha)), m.f64.lt(v.get(), m.f64.const(b))), g.get(), zero);
        break;
      case "hardsigmoid": {
        // The slope alpha where alpha x + beta is strictly inside (0, 1), as the reference has it.
        const u = fn.f64(m.f64.add(m.f64.mul(v.get(), m.f64.const(alpha)), m.f64.const(b)));
        r = m.select(m.i32.and(m.f64.gt(u.get(), zero), m.f64.lt(u.get(), m.f64.const(1))), m.f64.mul(m.f64.const(alpha), g.get()), zero);
        break;
      }
      case "hardswish": {
        // 0 below -3, 1 above 3, else x/3 + 1/2 (a NaN x falls to the middle and stays NaN, as in the reference).
        const mid = m.f64.mul(m.f64.add(m.f64.div(v.get(), m.f64.const(3)), m.f64.const(0.5)), g.get());
        r = m.select(m.f64.lt(v.get(), m.f64.const(-3)), zero, m.select(m.f64.gt(v.get(), m.f64.const(3)), g.get(), mid));
        break;
      }
      case "selu": {
        // exp of min(x, 0): the branch not taken is computed too, and need not overflow.
        const neg = m.f64.mul(m.f64.const(alpha), k.math.exp(m.f64.min(v.get(), zero)));
        r = m.f64.mul(m.f64.mul(m.f64.const(b), m.select(m.f64.le(v.get(), zero), neg, m.f64.const(1))), g.get());
        break;
      }
      case "exp":
        r = m.f64.mul(k.math.exp(v.get()), g.get());
        break;
      case "log":
        r = m.f64.mul(m.f64.div(m.f64.const(1), v.get()), g.get());
        break;
      case "abs":
        // The kink at 0 takes the right-hand side's slope, 1.
        r = m.select(m.f64.ge(v.get(), zero), g.get(), m.f64.neg(g.get()));
        break;
      case "neg":
        r = m.f64.neg(g.get());
        break;
      case "sqrt":
        r = m.f64.mul(m.f64.div(m.f64.const(0.5), m.f64.sqrt(v.get())), g.get());
        break;
      case "reciprocal":
        r = m.f64.mul(m.f64.div(m.f64.const(-1), m.f64.mul(v.get(), v.get())), g.get());
        break;
      case "pow":
        // alpha x^(alpha - 1) through the host's Math.pow, the reference's own (a negative base
        // with a whole exponent included); the exponents 0 and 1 need no call.
        if (alpha === 1) r = g.get();
        else if (alpha === 2) r = m.f64.mul(m.f64.mul(m.f64.const(2), v.get()), g.get());
        else r = m.f64.mul(m.f64.mul(m.f64.const(alpha), k.math.pow(v.get(), m.f64.const(alpha - 1))), g.get());
        break;
      default:
        return assertNever(f);
    }
    fn.emit(dx.store(i, r));
  });
}

/**
 * Softmax over channels at each of `per` positions: x [C, per] -> y; with `log`, log_softmax:
 * x - max - log(sum exp(x - max)), never the log of an underflowed quotient.
 */
export function emitSoftmaxForward(k: GradKernelContext, C: number, per: number, x: View, y: View, log = false): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, per, (p) => {
    const max = fn.f64(m.f64.const(-Infinity));
    fn.for(0, C, (c) => fn.emit(max.set(m.f64.max(max.get(), x.load(c.mul(per).add(p))))));
    const sum = fn.f64(m.f64.const(0));
    fn.for(0, C, (c) => fn.emit(sum.set(m.f64.add(sum.get(), k.math.exp(m.f64.sub(x.load(c.mul(per).add(p)), max.get()))))));
    const shift = log ? fn.f64(m.f64.add(max.get(), k.math.log(sum.get()))) : undefined;
    fn.for(0, C, (c) => {
      const at = fn.let(c.mul(per).add(p));
      fn.emit(y.store(at, shift ? m.f64.sub(x.load(at), shift.get()) : m.f64.div(k.math.exp(m.f64.sub(x.load(at), max.get())), sum.get())));
    });
  });
}

/** dx = y (dy - sum over channels of y dy), per position. */
export function emitSoftmaxGrad(k: GradKernelContext, C: number, per: number, y: View, dy: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, per, (p) => {
    const dot = fn.f64(m.f64.const(0));
    fn.for(0, C, (c) => {
      const at = fn.let(c.mul(per).add(p));
      fn.emit(dot.set(m.f64.add(dot.get(), m.f64.mul(y.load(at), dy.load(at)))));
    });
    fn.for(0, C, (c) => {
      const at = fn.let(c.mul(per).add(p));
      fn.emit(dx.store(at, m.f64.mul(y.load(at), m.f64.sub(dy.load(at), dot.get()))));
    });
  });
}

/** Channel bias gradient: dy [O, per] summed per channel (on SIMD lanes), stored or with `add` added to db. */
export function emitBiasGradChannel(k: GradKernelContext, O: number, per: number, dy: View, db: View, add = false): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, O, (o) => {
    const acc = rowSum(fn, dy, o.mul(per), per);
    fn.emit(db.store(o, add ? m.f64.add(db.load(o), acc.get()) : acc.get()));
  });
}

/** out = sum of the inputs (accumulate; add's forward). */
export function emitSum(k: GradKernelContext, count: number, xs: readonly View[], out: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, count, (i) => fn.emit(out.store(i, xs.slice(1).reduce((acc, x) => m.f64.add(acc, x.load(i)), xs[0].load(i)))));
}

/**
 * The loss of a prediction [C, per] against its target ([per] classes, or the prediction's
 * shape for mse and l1), into loss[0]; with `grad`, dJ/d(prediction) into it instead.
 */
export function emitLoss(k: GradKernelContext, kind: LossKind, C: number, per: number, pred: View, target: View, out: View, grad: boolean): void {
  const { fn } = k;
  const m = fn.m;
  const total = fn.f64(m.f64.const(0));
  if (kind === "mse" || kind === "l1") {
    const n = C * per;
    fn.for(0, n, (i) => {
      const d = fn.f64(m.f64.sub(pred.load(i), target.load(i)));
      if (grad) {
        const sign = m.f64.sub(m.select(m.f64.gt(d.get(), m.f64.const(0)), m.f64.const(1), m.f64.const(0)), m.select(m.f64.lt(d.get(), m.f64.const(0)), m.f64.const(1), m.f64.const(0)));
        const g = kind === "mse" ? m.f64.mul(m.f64.const(2), d.get()) : sign;
        fn.emit(out.store(i, m.f64.div(g, m.f64.const(n))));
      } else fn.emit(total.set(m.f64.add(total.get(), kind === "mse" ? m.f64.mul(d.get(), d.get()) : m.f64.abs(d.get()))));
    });
    if (!grad) fn.emit(out.store(fn.const(0), m.f64.div(total.get(), m.f64.const(n))));
    return;
  }
  fn.for(0, per, (p) => {
    const t = classAt(k, target, p);
    if (kind === "cross_entropy") {
      const q = fn.f64(pred.load(t.mul(per).add(p)));
      if (grad) {
        fn.for(0, C, (c) => {
          const at = fn.let(c.mul(per).add(p));
          fn.emit(out.store(at, m.select(m.i32.eq(c.expr(), t.expr()), m.f64.div(m.f64.const(-1), m.f64.mul(q.get(), m.f64.const(per))), m.f64.const(0))));
        });
      } else fn.emit(total.set(m.f64.sub(total.get(), k.math.log(q.get()))));
      return;
    }
    const max = fn.f64(m.f64.const(-Infinity));
    fn.for(0, C, (c) => fn.emit(max.set(m.f64.max(max.get(), pred.load(c.mul(per).add(p))))));
    const sum = fn.f64(m.f64.const(0));
    fn.for(0, C, (c) => fn.emit(sum.set(m.f64.add(sum.get(), k.math.exp(m.f64.sub(pred.load(c.mul(per).add(p)), max.get()))))));
    if (grad) {
      fn.for(0, C, (c) => {
        const at = fn.let(c.mul(per).add(p));
        const soft = m.f64.div(k.math.exp(m.f64.sub(pred.load(at), max.get())), sum.get());
        const hot = m.select(m.i32.eq(c.expr(), t.expr()), m.f64.const(1), m.f64.const(0));
        fn.emit(out.store(at, m.f64.div(m.f64.sub(soft, hot), m.f64.const(per))));
      });
    } else {
      fn.emit(total.set(m.f64.add(total.get(), m.f64.sub(m.f64.add(max.get(), k.math.log(sum.get())), pred.load(t.mul(per).add(p))))));
    }
  });
  if (!grad) fn.emit(out.store(fn.const(0), m.f64.div(total.get(), m.f64.const(per))));
}

/** The class index at position p of a target (stored as f32; checked to be a class before the step). */
function classAt(k: GradKernelContext, target: View, p: Int): Int {
  const fn = k.fn;
  const v = fn.f64(target.load(p));
  return fn.let(Int.of(fn.m, () => fn.m.i32.trunc_s_sat.f64(v.get()), true));
}

/** maxout's forward: y[c', p] = the max over channels [c'k, (c'+1)k) of x[c, p] (NaN propagates, as in the reference). */
export function emitMaxoutForward(k: GradKernelContext, channels: number, per: number, group: number, x: View, y: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, channels / group, (co) =>
    fn.for(0, per, (i) => {
      const at = (c: number) => co.mul(group).add(c).mul(per).add(i);
      let acc = x.load(at(0));
      for (let c = 1; c < group; c++) acc = m.f64.max(acc, x.load(at(c)));
      fn.emit(y.store(co.mul(per).add(i), acc));
    }),
  );
}

/** maxout's gradient: dy goes to the group's first channel holding its largest value (strictly greater wins), 0 to the rest. */
export function emitMaxoutGrad(k: GradKernelContext, channels: number, per: number, group: number, x: View, dy: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, channels / group, (co) =>
    fn.for(0, per, (i) => {
      const at = (c: number) => co.mul(group).add(c).mul(per).add(i);
      const best = fn.f64(x.load(at(0)));
      const arg = fn.f64(m.f64.const(0));
      for (let c = 1; c < group; c++) {
        const v = fn.f64(x.load(at(c)));
        fn.emit(arg.set(m.select(m.f64.gt(v.get(), best.get()), m.f64.const(c), arg.get())));
        fn.emit(best.set(m.select(m.f64.gt(v.get(), best.get()), v.get(), best.get())));
      }
      const g = fn.f64(dy.load(co.mul(per).add(i)));
      for (let c = 0; c < group; c++) fn.emit(dx.store(at(c), m.select(m.f64.eq(arg.get(), m.f64.const(c)), g.get(), m.f64.const(0))));
    }),
  );
}

/** y[c, p] += b[c] (a transposed convolution's channel bias, added after its sums). */
export function emitAddChannelBias(k: GradKernelContext, C: number, per: number, b: View, y: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, C, (c) => {
    const bias = fn.f64(b.load(c));
    fn.for(0, per, (p) => {
      const at = fn.let(c.mul(per).add(p));
      fn.emit(y.store(at, m.f64.add(y.load(at), bias.get())));
    });
  });
}

/** Batch norm on fixed (running) statistics: y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel. */
export function emitBatchNormForward(k: GradKernelContext, eps: number, C: number, per: number, x: View, p: { gamma: View; beta: View; mean: View; variance: View }, y: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, C, (c) => {
    // y = x * gamma / sd + (beta - mean * gamma / sd), on f32 lanes.
    const scale = fn.f64(m.f64.div(p.gamma.load(c), m.f64.sqrt(m.f64.add(p.variance.load(c), m.f64.const(eps)))));
    const shift = m.f64.sub(p.beta.load(c), m.f64.mul(p.mean.load(c), scale.get()));
    affineRun(k, per, fn.let(c.mul(per)), [{ view: x, coefficient: scale.get() }], shift, y);
  });
}

/** Its input gradient on fixed statistics: dx = dy * gamma / sqrt(var + eps). */
export function emitBatchNormGradInput(k: GradKernelContext, eps: number, C: number, per: number, dy: View, gamma: View, variance: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, C, (c) => {
    const scale = m.f64.div(gamma.load(c), m.f64.sqrt(m.f64.add(variance.load(c), m.f64.const(eps))));
    affineRun(k, per, fn.let(c.mul(per)), [{ view: dy, coefficient: scale }], m.f64.const(0), dx);
  });
}

/** gamma's gradient: the sum over positions of dy * (x - mean) / sqrt(var + eps), per channel. */
export function emitBatchNormGradGamma(k: GradKernelContext, eps: number, C: number, per: number, x: View, dy: View, mean: View, variance: View, dg: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, C, (c) => {
    const mu = fn.f64(mean.load(c));
    const sd = fn.f64(m.f64.sqrt(m.f64.add(variance.load(c), m.f64.const(eps))));
    const acc = fn.f64(m.f64.const(0));
    fn.for(0, per, (i) => {
      const at = fn.let(c.mul(per).add(i));
      fn.emit(acc.set(m.f64.add(acc.get(), m.f64.div(m.f64.mul(dy.load(at), m.f64.sub(x.load(at), mu.get())), sd.get()))));
    });
    fn.emit(dg.store(c, acc.get()));
  });
}

/**
 * y = x * scale + shift over `per` elements of a channel from element `from` of each view, on
 * four f32 lanes (then the last per mod 4 in scalar code): batch norm's elementwise passes.
 */
export function affineRun(k: GradKernelContext, per: number, from: Int, terms: readonly { view: View; coefficient: Expr }[], shift: Expr, out: View): void {
  const { fn } = k;
  const m = fn.m;
  const coefficients = terms.map((t) => fn.f64(t.coefficient));
  const c = fn.f64(shift);
  const lanes = coefficients.map((v) => vec(fn, m.f32x4.splat(m.f32.demote(v.get()))));
  const cl = vec(fn, m.f32x4.splat(m.f32.demote(c.get())));
  const full = per - (per % 4);
  if (full > 0) {
    fn.for(0, full / 4, (q) => {
      const at = fn.let(from.add(q.mul(4)));
      const sum = terms.reduce((acc, t, j) => m.f32x4.add(acc, m.f32x4.mul(vload(fn, t.view, at), lanes[j].get())), cl.get());
      fn.emit(vstore(fn, out, at, sum));
    });
  }
  for (let i = full; i < per; i++) {
    const at = fn.let(from.add(i));
    fn.emit(out.store(at, terms.reduce((acc, t, j) => m.f64.add(acc, m.f64.mul(t.view.load(at), coefficients[j].get())), c.get())));
  }
}

/**
 * Sums over `per` elements of a channel from element `from` of each view, in f64: four f32
 * lanes loaded at a time and widened to two f64x2 halves (as exact as the scalar f64 sums,
 * in another order), the last per mod 4 in scalar code. `terms` maps the views' values (f64x2
 * or f64, `lanes` saying which; each call of `value(i)` is a fresh read of a local, as an
 * expression may stand in one place only) to the terms each sum adds; the sums are added to `into`.
 */
export function laneSums(k: GradKernelContext, per: number, from: Int, views: readonly View[], terms: (value: (i: number) => Expr, lanes: boolean) => readonly Expr[], into: readonly F64Var[]): void {
  const { fn } = k;
  const m = fn.m;
  const full = per - (per % 4);
  if (full > 0) {
    const acc = into.map(() => vec(fn, m.f64x2.splat(m.f64.const(0))));
    const high = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
    fn.for(0, full / 4, (q) => {
      const at = fn.let(from.add(q.mul(4)));
      const loaded = views.map((v) => vec(fn, vload(fn, v, at)));
      for (const half of [false, true]) {
        const wide = loaded.map((v) => vec(fn, m.f64x2.promote_low_f32x4(half ? m.i8x16.shuffle(v.get(), v.get(), high) : v.get())));
        terms((i) => wide[i].get(), true).forEach((t, j) => fn.emit(acc[j].set(m.f64x2.add(acc[j].get(), t))));
      }
    });
    acc.forEach((a, j) => fn.emit(into[j].set(m.f64.add(into[j].get(), m.f64.add(m.f64x2.extract_lane(a.get(), 0), m.f64x2.extract_lane(a.get(), 1))))));
  }
  for (let i = full; i < per; i++) {
    const at = fn.let(from.add(i));
    const scalars = views.map((v) => fn.f64(v.load(at)));
    terms((j) => scalars[j].get(), false).forEach((t, j) => fn.emit(into[j].set(m.f64.add(into[j].get(), t))));
  }
}

/**
 * Batch norm in training mode, forward, over the whole batch (`x(b)`, `y(b)`: sample b's
 * buffers, b < count): per channel the batch's mean and biased variance over every sample
 * and position, in two passes as the reference takes them (the mean, then the squared
 * deviations from it; f64 sums), kept in `stats` ([means | variances], C each) for the
 * gradients and the running update; then every sample normalised by them, as
 * y = x * (gamma / sd) + (beta - mean * gamma / sd) on f32 lanes.
 */
export function emitBatchNormTrainForward(k: GradKernelContext, eps: number, C: number, per: number, count: Int, x: (b: Int) => View, y: (b: Int) => View, p: { gamma: View; beta: View }, stats: View): void {
  const { fn } = k;
  const m = fn.m;
  const n = fn.f64(m.f64.mul(m.f64.convert_u.i32(count.expr()), m.f64.const(per)));
  fn.for(0, C, (c) => {
    const base = fn.let(c.mul(per));
    const { mean, m2 } = meanAndM2(k, per, base, count, x, n);
    const variance = fn.f64(m.f64.div(m2.get(), n.get()));
    fn.emit(stats.store(c, mean.get()), stats.store(c.add(C), variance.get()));
    const scale = fn.f64(m.f64.div(p.gamma.load(c), m.f64.sqrt(m.f64.add(variance.get(), m.f64.const(eps)))));
    const shift = fn.f64(m.f64.sub(p.beta.load(c), m.f64.mul(mean.get(), scale.get())));
    fn.for(0, count, (b) => affineRun(k, per, base, [{ view: x(b), coefficient: scale.get() }], shift.get(), y(b)));
  });
}

/**
 * One channel's mean over `count` samples of `per` elements from `base` (n elements in all; 0
 * for none) and the sum of the squared deviations from it (M2): two f64 passes, as the
 * reference takes them. The one-thread kernel divides M2 by n; a thread of several divides
 * nothing and hands both to the exchange (grad-batchnorm-parts.ts).
 */
export function meanAndM2(k: GradKernelContext, per: number, base: Int, count: Int, x: (b: Int) => View, n: F64Var): { mean: F64Var; m2: F64Var } {
  const { fn } = k;
  const m = fn.m;
  const s = fn.f64(m.f64.const(0));
  fn.for(0, count, (b) => laneSums(k, per, base, [x(b)], (v) => [v(0)], [s]));
  const mean = fn.f64(m.select(m.f64.gt(n.get(), m.f64.const(0)), m.f64.div(s.get(), n.get()), m.f64.const(0)));
  const m2 = fn.f64(m.f64.const(0));
  const meanLanes = vec(fn, m.f64x2.splat(mean.get()));
  fn.for(0, count, (b) =>
    laneSums(k, per, base, [x(b)], (v, lanes) => {
      const d = lanes ? m.f64x2.sub(v(0), meanLanes.get()) : m.f64.sub(v(0), mean.get());
      const dv = lanes ? vec(fn, d) : fn.f64(d);
      return [lanes ? m.f64x2.mul(dv.get(), dv.get()) : m.f64.mul(dv.get(), dv.get())];
    }, [m2]),
  );
  return { mean, m2 };
}

/**
 * Its input gradient over the batch (reference/grad/pointwise-grad.ts batchnormBatchGradInput):
 * dx = (g - sum(g) / N - xhat * sum(g * xhat) / N) / sd with g = dy * gamma, the sums over
 * every sample and position of the channel, N their count, the statistics those of the
 * forward. The sums are taken as gamma * sum(dy) and gamma / sd * sum(dy * (x - mean)) in
 * f64; dx is then dy * a + x * b + c per channel, on f32 lanes.
 */
export function emitBatchNormBatchGradInput(k: GradKernelContext, eps: number, C: number, per: number, count: Int, x: (b: Int) => View, dy: (b: Int) => View, dx: (b: Int) => View, gamma: View, stats: View): void {
  const { fn } = k;
  const m = fn.m;
  const n = fn.f64(m.f64.mul(m.f64.convert_u.i32(count.expr()), m.f64.const(per)));
  fn.for(0, C, (c) => {
    const base = fn.let(c.mul(per));
    const mean = fn.f64(stats.load(c));
    const sd = fn.f64(m.f64.sqrt(m.f64.add(stats.load(c.add(C)), m.f64.const(eps))));
    const gm = fn.f64(gamma.load(c));
    const sdy = fn.f64(m.f64.const(0));
    const sdyx = fn.f64(m.f64.const(0));
    const meanLanes = vec(fn, m.f64x2.splat(mean.get()));
    fn.for(0, count, (b) =>
      laneSums(k, per, base, [dy(b), x(b)], (v, lanes) => [v(0), lanes ? m.f64x2.mul(v(0), m.f64x2.sub(v(1), meanLanes.get())) : m.f64.mul(v(0), m.f64.sub(v(1), mean.get()))], [sdy, sdyx]),
    );
    const { a, bx, c0 } = gradInputCoefficients(k, { gamma: gm, sd, mean, sdy, sdyx, n });
    fn.for(0, count, (b) => affineRun(k, per, base, [{ view: dy(b), coefficient: a.get() }, { view: x(b), coefficient: bx.get() }], c0.get(), dx(b)));
  });
}

/**
 * The input gradient's per-channel coefficients, dx = dy * a + x * bx + c0, from the batch's
 * sums sdy = sum(dy) and sdyx = sum(dy * (x - mean)) over its N elements of the channel.
 */
export function gradInputCoefficients(k: GradKernelContext, s: { gamma: F64Var; sd: F64Var; mean: F64Var; sdy: F64Var; sdyx: F64Var; n: F64Var }): { a: F64Var; bx: F64Var; c0: F64Var } {
  const { fn } = k;
  const m = fn.m;
  const { gamma: gm, sd, mean, sdy, sdyx, n } = s;
  // mean(g) = gamma * sdy / N; mean(g * xhat) = gamma * sdyx / (sd * N).
  const mg = fn.f64(m.f64.div(m.f64.mul(gm.get(), sdy.get()), n.get()));
  const mgx = fn.f64(m.f64.div(m.f64.mul(gm.get(), sdyx.get()), m.f64.mul(sd.get(), n.get())));
  const a = fn.f64(m.f64.div(gm.get(), sd.get()));
  const bx = fn.f64(m.f64.neg(m.f64.div(mgx.get(), m.f64.mul(sd.get(), sd.get()))));
  const c0 = fn.f64(m.f64.sub(m.f64.div(m.f64.mul(mean.get(), mgx.get()), m.f64.mul(sd.get(), sd.get())), m.f64.div(mg.get(), sd.get())));
  return { a, bx, c0 };
}

/**
 * The running statistics follow the batch's (PyTorch's rule: momentum 0.1, the variance made
 * unbiased by N / (N - 1), N = count * per the elements each channel's statistics came from).
 */
export function emitBatchNormRunningUpdate(k: GradKernelContext, C: number, per: number, count: Int, stats: View, mean: View, variance: View): void {
  const { fn } = k;
  const m = fn.m;
  const n = fn.f64(m.f64.mul(m.f64.convert_u.i32(count.expr()), m.f64.const(per)));
  const unbias = fn.f64(m.select(m.f64.gt(n.get(), m.f64.const(1)), m.f64.div(n.get(), m.f64.sub(n.get(), m.f64.const(1))), m.f64.const(1)));
  fn.for(0, C, (c) => {
    fn.emit(mean.store(c, m.f64.add(m.f64.mul(m.f64.const(0.9), mean.load(c)), m.f64.mul(m.f64.const(0.1), stats.load(c)))));
    fn.emit(variance.store(c, m.f64.add(m.f64.mul(m.f64.const(0.9), variance.load(c)), m.f64.mul(m.f64.const(0.1), m.f64.mul(stats.load(c.add(C)), unbias.get())))));
  });
}
