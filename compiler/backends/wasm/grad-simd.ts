// SIMD128 loops for the training step's dense and elementwise kernels (the convolutions' are
// grad-gemm.ts's blocks): a dot product, a sum of scaled rows (y = sum over u of s[u] *
// A[u, :], dense's W^T dy), a scaled copy or add (dense's dW = dy x^T, or += into the batch's
// sum), a row sum (the channel bias gradient) and an elementwise accumulate (the batch's
// gradient sums).
// Each runs four f32 lanes over the contiguous part of its rows and finishes the last n mod 4
// elements with scalar code, so no row needs padding and no load reads past a tensor.
// The lanes accumulate in f32 (the inference side's SIMD kernels do too, compiler/backends/
// wasm/simd.ts); tests/train/wasm.test.ts holds every gradient to 2e-5 relative error of the
// float64 reference, with sizes that take every block and tail here. The
// multiply-adds go through simd.ts's fmadd, so that where the engine runs relaxed SIMD the
// training module (built at load, where it runs) fuses them: its Fn has relaxed = true then.

import type { Expr, F64Var, Fn, Int, View } from "./builder.js";
import { fmadd, vec, zero as vzero } from "./simd.js";

/** The (offset immediate, pointer) of element `at` of a view. */
function address(v: View, at: Int): [number, Expr] {
  return v.address(at);
}

/** Four f32 lanes from elements at..at+3 of `v`. */
export function vload(fn: Fn, v: View, at: Int): Expr {
  const [offset, ptr] = address(v, at);
  return fn.m.v128.load(offset, 4, ptr);
}

/** Stores four f32 lanes at elements at..at+3 of `v`. */
export function vstore(fn: Fn, v: View, at: Int, value: Expr): Expr {
  const [offset, ptr] = address(v, at);
  return fn.m.v128.store(offset, 4, ptr, value);
}

/** Element `at` of `v` as f32 (no round trip through f64: a plain copy). */
export function f32load(fn: Fn, v: View, at: Int): Expr {
  const [offset, ptr] = address(v, at);
  return fn.m.f32.load(offset, 4, ptr);
}

/** Stores an f32 at element `at` of `v`. */
export function f32store(fn: Fn, v: View, at: Int, value: Expr): Expr {
  const [offset, ptr] = address(v, at);
  return fn.m.f32.store(offset, 4, ptr, value);
}

/** One f32 of `v`, splatted over four lanes. */
export function vsplat(fn: Fn, v: View, at: Int): Expr {
  const [offset, ptr] = address(v, at);
  return fn.m.v128.load32_splat(offset, 4, ptr);
}

/** The sum of a vector's four f32 lanes, as f64. */
function horizontal(fn: Fn, v: Expr): Expr {
  const m = fn.m;
  const t = vec(fn, v);
  const lane = (i: number) => m.f32x4.extract_lane(t.get(), i);
  return m.f64.promote(m.f32.add(m.f32.add(lane(0), lane(1)), m.f32.add(lane(2), lane(3))));
}

/**
 * acc + sum over i < n of a[aAt + i] * b[bAt + i], into a new f64 local; `acc` starts it
 * (a bias, or 0). Sixteen elements per iteration in four independent accumulators (one
 * accumulator would wait on each add's latency), then four at a time, then scalar.
 */
export function dot(fn: Fn, a: View, aAt: Int, b: View, bAt: Int, n: number, acc: Expr): F64Var {
  const m = fn.m;
  const wide = n - (n % 16);
  const full = n - (n % 4);
  const sum = fn.f64(acc);
  if (full > 0) {
    const lanes = Array.from({ length: wide > 0 ? 4 : 1 }, () => vec(fn, vzero(m)));
    const a0 = fn.let(aAt);
    const b0 = fn.let(bAt);
    const madd = (l: (typeof lanes)[number], i: Int) => fn.emit(l.set(fmadd(fn, l.get(), vload(fn, a, a0.add(i)), vload(fn, b, b0.add(i)))));
    if (wide > 0) {
      fn.for(0, wide / 16, (q) => {
        const i = fn.let(q.mul(16));
        lanes.forEach((l, v) => madd(l, i.add(4 * v)));
      });
    }
    for (let i = wide; i < full; i += 4) madd(lanes[0], fn.const(i));
    const total = lanes.slice(1).reduce((t, l) => m.f32x4.add(t, l.get()), lanes[0].get());
    fn.emit(sum.set(m.f64.add(sum.get(), horizontal(fn, total))));
  }
  for (let i = full; i < n; i++) fn.emit(sum.set(m.f64.add(sum.get(), m.f64.mul(a.load(aAt.add(i)), b.load(bAt.add(i))))));
  return sum;
}

/**
 * out[outAt + i] = sum over u < U of s[sAt(u)] * A[aAt(u) + i], for i < n: rows of A scaled
 * and summed, sixteen columns at a time in four accumulators that share each splatted scale
 * (one scale load per four multiply-adds), then four at a time, then the last n mod 4 scalar.
 * `start` (a bias) splats one element into every sum's start instead of 0.
 */
export function scaledRowSum(fn: Fn, U: number, n: number, A: View, aAt: (u: Int) => Int, s: View, sAt: (u: Int) => Int, out: View, outAt: Int, start?: { readonly view: View; readonly at: Int }): void {
  const m = fn.m;
  const base = fn.let(outAt);
  const wide = n - (n % 16);
  const block = (from: Int, vectors: number) => {
    const i = fn.let(from);
    const lanes = Array.from({ length: vectors }, () => vec(fn, start ? vsplat(fn, start.view, start.at) : vzero(m)));
    fn.for(0, U, (u) => {
      const scale = vec(fn, vsplat(fn, s, sAt(u)));
      const row = fn.let(aAt(u).add(i));
      lanes.forEach((l, v) => fn.emit(l.set(fmadd(fn, l.get(), vload(fn, A, row.add(4 * v)), scale.get()))));
    });
    lanes.forEach((l, v) => fn.emit(vstore(fn, out, base.add(i).add(4 * v), l.get())));
  };
  if (wide > 0) fn.for(0, wide / 16, (q) => block(q.mul(16), 4));
  const full = n - (n % 4);
  if (full > wide) block(fn.const(wide), (full - wide) / 4);
  for (let i = full; i < n; i++) {
    const sum = fn.f64(start ? start.view.load(start.at) : m.f64.const(0));
    fn.for(0, U, (u) => fn.emit(sum.set(m.f64.add(sum.get(), m.f64.mul(A.load(aAt(u).add(i)), s.load(sAt(u)))))));
    fn.emit(out.store(base.add(i), sum.get()));
  }
}

/** out[outAt + i] = s[sAt] * x[i] for i < n; with `add`, out[outAt + i] += s[sAt] * x[i]. */
export function scaledCopy(fn: Fn, n: number, s: View, sAt: Int, x: View, out: View, outAt: Int, add = false): void {
  const m = fn.m;
  const full = n - (n % 4);
  const base = fn.let(outAt);
  const scale = vec(fn, vsplat(fn, s, sAt));
  fn.for(0, full / 4, (q) => {
    const i = fn.let(q.mul(4));
    const at = fn.let(base.add(i));
    const v = m.f32x4.mul(scale.get(), vload(fn, x, i));
    fn.emit(vstore(fn, out, at, add ? m.f32x4.add(vload(fn, out, at), v) : v));
  });
  for (let i = full; i < n; i++) {
    const v = m.f64.mul(s.load(sAt), x.load(fn.const(i)));
    fn.emit(out.store(base.add(i), add ? m.f64.add(out.load(base.add(i)), v) : v));
  }
}

/**
 * The sum of x[at .. at + n) into a new f64 local: four accumulators of four f32 lanes, then
 * four at a time, then scalar (the channel bias gradient's sum over positions).
 */
export function rowSum(fn: Fn, x: View, at: Int, n: number): F64Var {
  const m = fn.m;
  const wide = n - (n % 16);
  const full = n - (n % 4);
  const base = fn.let(at);
  const sum = fn.f64(m.f64.const(0));
  if (full > 0) {
    const lanes = Array.from({ length: wide > 0 ? 4 : 1 }, () => vec(fn, vzero(m)));
    if (wide > 0) {
      fn.for(0, wide / 16, (q) => {
        const i = fn.let(base.add(q.mul(16)));
        lanes.forEach((l, v) => fn.emit(l.set(m.f32x4.add(l.get(), vload(fn, x, i.add(4 * v))))));
      });
    }
    for (let i = wide; i < full; i += 4) fn.emit(lanes[0].set(m.f32x4.add(lanes[0].get(), vload(fn, x, base.add(i)))));
    const total = lanes.slice(1).reduce((t, l) => m.f32x4.add(t, l.get()), lanes[0].get());
    fn.emit(sum.set(horizontal(fn, total)));
  }
  for (let i = full; i < n; i++) fn.emit(sum.set(m.f64.add(sum.get(), x.load(base.add(i)))));
  return sum;
}

/** out[i] += x[i] for i < n. */
export function accumulate(fn: Fn, n: number, out: View, x: View): void {
  const m = fn.m;
  const full = n - (n % 4);
  fn.for(0, full / 4, (q) => {
    const i = fn.let(q.mul(4));
    fn.emit(vstore(fn, out, i, m.f32x4.add(vload(fn, out, i), vload(fn, x, i))));
  });
  for (let i = full; i < n; i++) fn.emit(out.store(fn.const(i), m.f64.add(out.load(fn.const(i)), x.load(fn.const(i)))));
}

/**
 * out[i] = f(x[i], y[i]) for i < n on four lanes, then scalar for the last n mod 4 (relu and
 * its derivative: elementwise, with the same NaN behaviour as their scalar forms).
 */
export function elementwise(fn: Fn, n: number, x: View, y: View, out: View, lanes: (x: Expr, y: Expr) => Expr, scalar: (i: Int) => Expr): void {
  const full = n - (n % 4);
  fn.for(0, full / 4, (q) => {
    const i = fn.let(q.mul(4));
    fn.emit(vstore(fn, out, i, lanes(vload(fn, x, i), vload(fn, y, i))));
  });
  for (let i = full; i < n; i++) fn.emit(out.store(fn.const(i), scalar(fn.const(i))));
}
