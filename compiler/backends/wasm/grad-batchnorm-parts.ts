// Batch norm in training mode cut at its exchanges, for a batch whose samples are spread over
// threads, each with its own instance and memory (compiler/train/train-threads.ts: messages,
// not shared memory). The one-thread step keeps the whole-batch kernels of grad-pointwise.ts;
// these are the same arithmetic, split where the batch's sums are needed.
//
// Forward: each thread takes, per channel over its own samples, the mean and the sum of the
// squared deviations from it (M2), in two f64 passes as the one-thread kernel takes them, into
// the exchange area (f64 x 2C: [means | M2s]). The main thread combines every thread's pairs
// (compiler/train/batch-exchange.ts: Chan et al.'s parallel formula, in thread order, so the
// result does not depend on which reply came first), writes the batch's mean and biased
// variance back into every thread's area ([means | variances]), and each thread normalises
// its own samples by them and keeps them (f32) where the gradients read the statistics.
//
// Input gradient: each thread sums dy and dy * (x - mean) per channel over its own samples
// ([sum dy | sum dy * (x - mean)]); the main thread adds the threads' sums, in thread order,
// into every area; each thread makes its samples' dx from the batch's sums and N, the batch's
// element count per channel (the `total` global, not the thread's own count).

import { type F64Var, type Int, type View } from "./builder.js";
import type { GradKernelContext } from "./grad-context.js";
import { affineRun, gradInputCoefficients, laneSums, meanAndM2 } from "./grad-pointwise.js";
import { vec } from "./simd.js";

/** Element i of the f64 exchange area at byte address `at`. */
function load(k: GradKernelContext, at: number, i: Int) {
  return k.fn.m.f64.load(at, 8, i.mul(8).expr());
}

function store(k: GradKernelContext, at: number, i: Int, value: F64Var) {
  return k.fn.m.f64.store(at, 8, i.mul(8).expr(), value.get());
}

/** The forward's partials over this thread's `count` samples: per channel the mean and M2 (0 and 0 for no sample). */
export function emitBatchNormPartials(k: GradKernelContext, C: number, per: number, count: Int, x: (b: Int) => View, exchange: number): void {
  const { fn } = k;
  const m = fn.m;
  const n = fn.f64(m.f64.mul(m.f64.convert_u.i32(count.expr()), m.f64.const(per)));
  fn.for(0, C, (c) => {
    const { mean, m2 } = meanAndM2(k, per, fn.let(c.mul(per)), count, x, n);
    fn.emit(store(k, exchange, c, mean), store(k, exchange, c.add(C), m2));
  });
}

/**
 * The forward's second half: the batch's mean and biased variance (f64, from the exchange
 * area) into `stats` (f32 [means | variances], as the one-thread kernel keeps them), and this
 * thread's samples normalised by them: y = x * (gamma / sd) + (beta - mean * gamma / sd).
 */
export function emitBatchNormApply(k: GradKernelContext, eps: number, C: number, per: number, count: Int, x: (b: Int) => View, y: (b: Int) => View, p: { gamma: View; beta: View }, stats: View, exchange: number): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, C, (c) => {
    const base = fn.let(c.mul(per));
    const mean = fn.f64(load(k, exchange, c));
    const variance = fn.f64(load(k, exchange, c.add(C)));
    fn.emit(stats.store(c, mean.get()), stats.store(c.add(C), variance.get()));
    const scale = fn.f64(m.f64.div(p.gamma.load(c), m.f64.sqrt(m.f64.add(variance.get(), m.f64.const(eps)))));
    const shift = fn.f64(m.f64.sub(p.beta.load(c), m.f64.mul(mean.get(), scale.get())));
    fn.for(0, count, (b) => affineRun(k, per, base, [{ view: x(b), coefficient: scale.get() }], shift.get(), y(b)));
  });
}

/** The input gradient's partials over this thread's samples: per channel sum(dy) and sum(dy * (x - mean)), the mean the batch's. */
export function emitBatchNormGradPartials(k: GradKernelContext, C: number, per: number, count: Int, x: (b: Int) => View, dy: (b: Int) => View, stats: View, exchange: number): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, C, (c) => {
    const base = fn.let(c.mul(per));
    const mean = fn.f64(stats.load(c));
    const sdy = fn.f64(m.f64.const(0));
    const sdyx = fn.f64(m.f64.const(0));
    const meanLanes = vec(fn, m.f64x2.splat(mean.get()));
    fn.for(0, count, (b) =>
      laneSums(k, per, base, [dy(b), x(b)], (v, lanes) => [v(0), lanes ? m.f64x2.mul(v(0), m.f64x2.sub(v(1), meanLanes.get())) : m.f64.mul(v(0), m.f64.sub(v(1), mean.get()))], [sdy, sdyx]),
    );
    fn.emit(store(k, exchange, c, sdy), store(k, exchange, c.add(C), sdyx));
  });
}

/** The input gradient's second half: this thread's dx from the batch's sums (exchange area) over its `total` samples. */
export function emitBatchNormGradApply(k: GradKernelContext, eps: number, C: number, per: number, total: Int, count: Int, x: (b: Int) => View, dy: (b: Int) => View, dx: (b: Int) => View, gamma: View, stats: View, exchange: number): void {
  const { fn } = k;
  const m = fn.m;
  const n = fn.f64(m.f64.mul(m.f64.convert_u.i32(total.expr()), m.f64.const(per)));
  fn.for(0, C, (c) => {
    const base = fn.let(c.mul(per));
    const mean = fn.f64(stats.load(c));
    const sd = fn.f64(m.f64.sqrt(m.f64.add(stats.load(c.add(C)), m.f64.const(eps))));
    const sdy = fn.f64(load(k, exchange, c));
    const sdyx = fn.f64(load(k, exchange, c.add(C)));
    const { a, bx, c0 } = gradInputCoefficients(k, { gamma: fn.f64(gamma.load(c)), sd, mean, sdy, sdyx, n });
    fn.for(0, count, (b) => affineRun(k, per, base, [{ view: dy(b), coefficient: a.get() }, { view: x(b), coefficient: bx.get() }], c0.get(), dx(b)));
  });
}
