// The training step's sliding-window kernels: the convolution forward and its two gradients
// (SPEC "Gradients"), pooling forward and its gradient. All read the compile-time tap table
// (grad-context.ts): pos[j * K + n] is the input offset that output j meets at window offset n.
//
//   forward:  Z[o, j]  = b[o] + sum over c in o's group, n of  K[o, c, n'] * V[c, pos[j, n]]
//   eq. 9.13: dV[c, x] = sum over (o, j, n) with pos[j, n] = x of  K[o, c, n'] * dy[o, j]
//             (the columns' gradient K^T dy, then gathered through the inverse table: for x
//             and n, the j with pos[j, n] = x)
//   eq. 9.11: dK[o, c, n'] = sum over j of  V[c, pos[j, n]] * dy[o, j]
//
// where n' = n, or K - 1 - n for a flipped (true) convolution: mirroring every axis of a
// row-major kernel block reverses its flat index. Groups restrict c to o's group. The forward
// and the kernel gradient share one unrolling of the input's windows per sample (im2col,
// transposed: whole-row SIMD copies where the last axis has stride 1, grad-im2col.ts, else one
// table read per tap and output position), then run register-blocked SIMD products over it
// (grad-gemm.ts: Y = W col, dK = dy col^T, f32 lanes); the input gradient computes the
// columns' gradient dcol = K^T dy the same way, in the columns' layout, then folds it back
// (col2im: row-wise vector adds for a stride-1 last axis, else a gather through the inverse
// taps, f64 sums of at most K terms). Pools: max routes dy to the first arg-max of the real
// elements, which the forward records per output so that the gradient reads it rather than
// searching the window again; avg spreads dy / divisor, where the divisor (real elements, or
// with count_pad the window clipped to the padded input) is a compile-time table per output
// position, as is the tap table; gauss spreads dy * w_n / (the real elements' sum of w), the
// weights a table per window position; lp recomputes y from the window and spreads
// dy |x|^(p-1) sign(x) / y^(p-1), its powers by the host's Math.pow as in the reference.

import { type AdaptivePoolOp, type ConvOp, gaussWeights, type PoolOp } from "../../ir/ops.js";
import { adaptiveTaps, taps, type Taps } from "../../reference/grad/taps.js";
import { binaryen } from "./binaryen.js";
import { type Expr, type F64Var, Int, type View } from "./builder.js";
import { flatView, type GradKernelContext, loadI32, when, zero } from "./grad-context.js";
import { blockDot, rowGemm } from "./grad-gemm.js";
import { emitCol2imRuns, emitIm2colRuns, windowRuns } from "./grad-im2col.js";
import { emitMaxPoolLanes, strideTwoRows } from "./grad-pool.js";
import { f32load, f32store } from "./grad-simd.js";

interface ConvShapes {
  readonly t: Taps;
  /** Address of the tap table. */
  readonly pos: number;
  readonly O: number;
  readonly Cg: number;
  readonly Og: number;
  readonly inVol: number;
  /** The input's spatial sizes. */
  readonly spatial: readonly number[];
}

function windowTable(k: GradKernelContext, spatial: readonly number[], op: ConvOp | PoolOp, window: readonly number[], ceil: boolean): { t: Taps; pos: number } {
  const t = taps(spatial, window, op.stride, op.dilation, op.pad, ceil);
  const key = JSON.stringify(["taps", spatial, window, op.stride, op.dilation, op.pad, ceil]);
  return { t, pos: k.table(key, () => t.pos) };
}

function convShapes(k: GradKernelContext, inShape: readonly number[], op: ConvOp): ConvShapes {
  const { t, pos } = windowTable(k, inShape.slice(1), op, op.kernel, false);
  const C = inShape[0];
  return { t, pos, spatial: inShape.slice(1), O: op.filters, Cg: C / op.groups, Og: op.filters / op.groups, inVol: C === 0 ? 0 : inShape.slice(1).reduce((a, b) => a * b, 1) };
}

/**
 * The window of every output position unrolled (im2col), transposed: col[g][r][j] =
 * x[g*Cg + c, pos[j, n]] (0 in the padding) with r = c * K + n' (a filter's weight order), so
 * that j, the output positions, runs contiguously: the forward sums weight-scaled rows into
 * four (sixteen) outputs at once, and the kernel gradient takes dot products along j.
 * One table read per (j, n) instead of one per (o, j, n), and the sums that follow are
 * branch-free SIMD loops over contiguous memory. The buffer is shared by input address and
 * window: the forward fills it, and the kernel gradient of the same sample reads it again
 * (the forward runs first in every step; the kernel gradient fills it itself if no forward did).
 */
function im2col(k: GradKernelContext, op: ConvOp, s: ConvShapes, x: View): View {
  const { fn } = k;
  const m = fn.m;
  const { t, pos, Cg, inVol } = s;
  const K = t.kVolume;
  const J = t.outVolume;
  const R = Cg * K;
  const key = JSON.stringify(["im2col", x.place, inVol, J, K, op.kernel, op.stride, op.dilation, op.pad, op.groups, op.flip, Cg]);
  const { at, fresh } = k.shared(key, op.groups * J * R);
  const col = flatView(fn, at, op.groups * J * R);
  if (!fresh) return col;
  const runs = runTable(k, op, s.t, s.spatial);
  if (runs !== undefined) {
    emitIm2colRuns(k, op, t, runs, Cg, inVol, x, col);
    return col;
  }
  fn.for(0, op.groups, (g) => {
    fn.for(0, J, (j) => {
      fn.for(0, K, (n) => {
        const p = loadI32Int(k, pos, j.mul(K).add(n));
        const inside = () => m.i32.ge_s(p.expr(), m.i32.const(0));
        const safe = fn.let(Int.of(m, () => m.select(inside(), p.expr(), m.i32.const(0)), true));
        const wn = op.flip ? fn.const(K - 1).sub(n) : n;
        const row = fn.let(g.mul(R).add(wn).mul(J).add(j));
        fn.for(0, Cg, (cc) => {
          fn.emit(f32store(fn, col, row.add(cc.mul(K * J)), m.select(inside(), f32load(fn, x, g.mul(Cg).add(cc).mul(inVol).add(safe)), m.f32.const(0))));
        });
      });
    });
  });
  return col;
}

/** The address of windowRuns' table for a convolution's taps, or undefined for a strided last axis. */
function runTable(k: GradKernelContext, op: ConvOp, t: Taps, spatial: readonly number[]): number | undefined {
  const runs = windowRuns(t);
  if (!runs) return undefined;
  return k.table(JSON.stringify(["runs", spatial, op.kernel, op.stride, op.dilation, op.pad]), () => runs);
}

/** Forward: y[o, :] = bias + the sum over r of filter o's weight r times column row r (im2col). */
export function emitConvForward(k: GradKernelContext, op: ConvOp, inShape: readonly number[], x: View, w: View, bias: View | undefined, y: View): void {
  const { fn } = k;
  const m = fn.m;
  const s = convShapes(k, inShape, op);
  const J = s.t.outVolume;
  const R = s.Cg * s.t.kVolume;
  const col = im2col(k, op, s, x);
  const channel = bias && op.bias === "channel" ? bias : undefined;
  // Per group: Y[o, :] = W[o, :] . col[g] (a GEMM of the group's filters and the columns).
  fn.for(0, op.groups, (g) => {
    const o0 = fn.let(g.mul(s.Og));
    const cBase = fn.let(g.mul(R * J));
    rowGemm(fn, {
      I: s.Og,
      U: R,
      n: J,
      A: w,
      aAt: (o, r) => o0.add(o).mul(R).add(r),
      B: col,
      bRow: (r) => cBase.add(r.mul(J)),
      out: y,
      outRow: (o) => o0.add(o).mul(J),
      start: channel ? (o) => ({ view: channel, at: o0.add(o) }) : undefined,
    });
  });
  if (bias && op.bias !== "channel") fn.for(0, s.O * J, (i) => fn.emit(y.store(i, m.f64.add(y.load(i), bias.load(i)))));
}

/** Table entry `i` of the i32 table at `base`, read once into a local. */
function loadI32Int(k: GradKernelContext, base: number, i: Int): Int {
  const fn = k.fn;
  const idx = fn.let(i);
  return fn.let(Int.of(fn.m, () => loadI32(fn, base, idx)));
}

/**
 * The taps read the other way: for input offset x and window offset n, the output position j
 * whose tap n meets x (j -> x is one-to-one for a fixed n), or -1.
 */
function inverseTaps(t: Taps, inVol: number): Int32Array {
  const K = t.kVolume;
  const inv = new Int32Array(inVol * K).fill(-1);
  for (let j = 0; j < t.outVolume; j++) {
    for (let n = 0; n < K; n++) {
      const p = t.pos[j * K + n];
      if (p >= 0) inv[p * K + n] = j;
    }
  }
  return inv;
}

/**
 * Eq. 9.13: dy [O, J] and the kernel -> dV [C, D..] in two passes: the columns' gradient
 * dcol[g, r, j] = sum over the group's filters o of K[o, r] * dy[o, j] (grad-gemm.ts), then
 * col2im: by row runs where the last axis has stride 1 (grad-im2col.ts), else gathered: each
 * input element sums, over the window offsets whose inverse tap meets an output position, its
 * column entry, and is written once.
 */
export function emitConvGradInput(k: GradKernelContext, op: ConvOp, inShape: readonly number[], dy: View, w: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  const { t, Cg, Og, inVol } = convShapes(k, inShape, op);
  const K = t.kVolume;
  const J = t.outVolume;
  const R = Cg * K;
  const dcol = flatView(fn, k.scratch(op.groups * J * R), op.groups * J * R);
  // dcol[g, r, :] = sum over the group's filters o of K[o, r] * dy[o, :] (the columns' layout).
  fn.for(0, op.groups, (g) => {
    const o0 = fn.let(g.mul(Og));
    const cBase = fn.let(g.mul(R * J));
    rowGemm(fn, { I: R, U: Og, n: J, A: w, aAt: (r, o) => o0.add(o).mul(R).add(r), B: dy, bRow: (o) => o0.add(o).mul(J), out: dcol, outRow: (r) => cBase.add(r.mul(J)) });
  });
  const runs = runTable(k, op, t, inShape.slice(1));
  if (runs !== undefined) return emitCol2imRuns(k, op, t, runs, inShape[0], Cg, inVol, dcol, dx);
  const key = JSON.stringify(["inverse taps", inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad]);
  const inv = k.table(key, () => inverseTaps(t, inVol));
  fn.for(0, inShape[0], (c) => {
    const g = fn.let(c.floorDiv(Cg));
    const cc = fn.let(c.mod(Cg));
    const rBase = fn.let(g.mul(R).add(cc.mul(K)));
    fn.for(0, inVol, (x) => {
      const acc = fn.f64(m.f64.const(0));
      fn.for(0, K, (n) => {
        const j = loadI32Int(k, inv, x.mul(K).add(n));
        const wn = op.flip ? fn.const(K - 1).sub(n) : n;
        when(fn, m.i32.ge_s(j.expr(), m.i32.const(0)), () => {
          fn.emit(acc.set(m.f64.add(acc.get(), dcol.load(rBase.add(wn).mul(J).add(j)))));
        });
      });
      fn.emit(dx.store(c.mul(inVol).add(x), acc.get()));
    });
  });
}

/**
 * Eq. 9.11: x [C, D..] and dy [O, J] -> dK [O, C/g, k..]: dK[o, r] = dy[o, :] . col[g, r, :],
 * the forward's transposed columns (shared, not unrolled again), each weight written once, or
 * added to dK with `add` (the batch's gradient sum, when nothing else reads the sample's dK).
 */
export function emitConvGradKernel(k: GradKernelContext, op: ConvOp, inShape: readonly number[], x: View, dy: View, dw: View, add = false): void {
  const { fn } = k;
  const m = fn.m;
  const s = convShapes(k, inShape, op);
  const J = s.t.outVolume;
  const R = s.Cg * s.t.kVolume;
  const col = im2col(k, op, s, x);
  fn.for(0, op.groups, (g) => {
    const o0 = fn.let(g.mul(s.Og));
    const cBase = fn.let(g.mul(R * J));
    blockDot(fn, {
      I: s.Og,
      K: R,
      n: J,
      P: dy,
      pRow: (o) => o0.add(o).mul(J),
      Q: col,
      qRow: (r) => cBase.add(r.mul(J)),
      write: (o, r, v) => {
        const at = fn.let(o0.add(o).mul(R).add(r));
        return dw.store(at, add ? m.f64.add(dw.load(at), v) : v);
      },
    });
  });
}

/** The divisor of each avg window (1 / divisor, 0 for a window with no real element), per output position. */
function poolDivisors(t: Taps, op: PoolOp | AdaptivePoolOp): Float32Array {
  const K = t.kVolume;
  const gauss = op.kind === "pool" && op.mode === "gauss" ? gaussWeights(op) : undefined;
  const countPad = op.kind === "pool" && op.countPad;
  return Float32Array.from({ length: t.outVolume }, (_, j) => {
    let real = 0;
    let padded = 0;
    let weights = 0;
    for (let n = 0; n < K; n++) {
      if (t.pos[j * K + n] >= 0) {
        real++;
        weights += gauss ? gauss[n] : 0;
      }
      padded += t.inPadded[j * K + n];
    }
    if (real === 0) return 0;
    // A Gaussian pool divides by its real elements' weights, avg by their count (or the padded one's).
    return gauss ? 1 / weights : 1 / (countPad ? padded : real);
  });
}

/** The pool modes the training step runs: all of them (adaptive pools too, max and avg). */
export function poolTrainable(op: PoolOp): boolean {
  return op.mode === "max" || op.mode === "avg" || op.mode === "lp" || op.mode === "gauss";
}

/** The pool's taps (an adaptive pool's regions as taps, reference/grad/taps.ts), divisors and Gaussian weights. */
function poolSetup(k: GradKernelContext, op: PoolOp | AdaptivePoolOp, inShape: readonly number[]) {
  const spatial = inShape.slice(1);
  const { t, pos } =
    op.kind === "pool"
      ? windowTable(k, spatial, op, op.window, op.ceil)
      : (() => {
          const a = adaptiveTaps(spatial, op.out);
          return { t: a, pos: k.table(JSON.stringify(["adaptive taps", spatial, op.out]), () => a.pos) };
        })();
  const key = JSON.stringify(["divisors", inShape, op]);
  const div = k.table(key, () => poolDivisors(t, op));
  // A Gaussian pool's weight per window position (f32; the divisors hold 1 / their sum).
  const weights = op.kind === "pool" && op.mode === "gauss" ? k.table(JSON.stringify(["gauss", op.window, op.dilation, op.sigma]), () => Float32Array.from(gaussWeights(op))) : -1;
  return { t, pos, div, weights, C: inShape[0], inVol: spatial.reduce((a, b) => a * b, 1) };
}

/**
 * The arg-max buffer of a max pool (one i32 per output: the input element c * inVol + p that
 * the gradient routes to, or -1), shared by input address and window: the forward writes it,
 * the gradient of the same sample reads it instead of searching every window again.
 */
function argmaxBuffer(k: GradKernelContext, op: PoolOp | AdaptivePoolOp, inShape: readonly number[], x: View, outputs: number): { at: number; fresh: boolean } {
  return k.shared(JSON.stringify(["argmax", x.place, inShape, op]), outputs);
}

/**
 * Pooling forward: x [C, D..] -> [C, J] (and max's arg-max buffer). lp: (sum |x|^p)^(1/p) by
 * the host's Math.pow, as the reference; gauss: the weighted sum times 1 / the weights' sum.
 */
export function emitPoolForward(k: GradKernelContext, op: PoolOp | AdaptivePoolOp, inShape: readonly number[], x: View, y: View): void {
  const { fn } = k;
  const m = fn.m;
  const { t, pos, div, weights, C, inVol } = poolSetup(k, op, inShape);
  const K = t.kVolume;
  const J = t.outVolume;
  const arg = op.mode === "max" ? argmaxBuffer(k, op, inShape, x, C * J).at : -1;
  const lp = op.kind === "pool" && op.mode === "lp" ? op : undefined;
  const term = (v: F64Var, n: Int): Expr => {
    if (lp) return k.math.pow(m.f64.abs(v.get()), m.f64.const(lp.p));
    if (op.mode === "gauss") return m.f64.mul(m.f64.promote(m.f32.load(weights, 4, n.mul(4).expr())), v.get());
    return v.get();
  };
  const first = op.mode === "max" ? strideTwoRows(t) : undefined;
  if (first) return emitMaxPoolLanes(k, t, k.table(JSON.stringify(["pool rows", inShape, op]), () => first), C, inVol, x, y, arg);
  fn.for(0, C, (c) => {
    const xBase = fn.let(c.mul(inVol));
    fn.for(0, J, (j) => {
      const acc = fn.f64(m.f64.const(op.mode === "max" ? -Infinity : 0));
      // The gradient's rule for the arg-max: strictly greater, so the first of equal maxima
      // wins, and a NaN never does (the forward's f64.max still passes a NaN on).
      const best = fn.variable(binaryen.i32, m.i32.const(-1));
      const max = fn.f64(m.f64.const(-Infinity));
      fn.for(0, K, (n) => {
        const p = loadI32Int(k, pos, j.mul(K).add(n));
        when(fn, m.i32.ge_s(p.expr(), m.i32.const(0)), () => {
          const v = fn.f64(x.load(xBase.add(p)));
          fn.emit(acc.set(op.mode === "max" ? m.f64.max(acc.get(), v.get()) : m.f64.add(acc.get(), term(v, n))));
          if (op.mode === "max") {
            when(fn, m.f64.gt(v.get(), max.get()), () => fn.emit(max.set(v.get()), best.set(xBase.add(p).expr())));
          }
        });
      });
      const inv = m.f64.promote(m.f32.load(div, 4, j.mul(4).expr()));
      // A window with no real element gives 0 (its divisor entry is 0).
      const empty = (value: Expr) => m.select(m.f64.eq(inv, m.f64.const(0)), m.f64.const(0), value);
      const v = op.mode === "max" ? empty(acc.get()) : lp ? empty(k.math.pow(acc.get(), m.f64.const(1 / lp.p))) : m.f64.mul(acc.get(), inv);
      fn.emit(y.store(c.mul(J).add(j), v));
      if (op.mode === "max") fn.emit(m.i32.store(arg, 4, c.mul(J).add(j).mul(4).expr(), best.get()));
    });
  });
}

/** Pooling gradient: x [C, D..], dy [C, J] -> dx [C, D..] (the reference's rules, reference/grad/pool-grad.ts). */
export function emitPoolGrad(k: GradKernelContext, op: PoolOp | AdaptivePoolOp, inShape: readonly number[], x: View, dy: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  const { t, pos, div, weights, C, inVol } = poolSetup(k, op, inShape);
  const K = t.kVolume;
  const J = t.outVolume;
  zero(fn, dx, C * inVol);
  const arg = op.mode === "max" ? argmaxBuffer(k, op, inShape, x, C * J) : undefined;
  if (arg && !arg.fresh) {
    // The forward's arg-max of this sample: dy goes to it.
    fn.for(0, C * J, (i) => {
      const a = fn.let(Int.of(m, () => m.i32.load(arg.at, 4, i.mul(4).expr())));
      when(fn, m.i32.ge_s(a.expr(), m.i32.const(0)), () => fn.emit(dx.store(a, m.f64.add(dx.load(a), dy.load(i)))));
    });
    return;
  }
  fn.for(0, C, (c) => {
    const xBase = fn.let(c.mul(inVol));
    fn.for(0, J, (j) => {
      const gy = fn.f64(dy.load(c.mul(J).add(j)));
      if (op.mode === "max") {
        const best = fn.variable(binaryen.i32, m.i32.const(-1));
        const max = fn.f64(m.f64.const(-Infinity));
        fn.for(0, K, (n) => {
          const p = loadI32Int(k, pos, j.mul(K).add(n));
          when(fn, m.i32.ge_s(p.expr(), m.i32.const(0)), () => {
            const v = fn.f64(x.load(xBase.add(p)));
            // Strictly greater: the first of equal maxima wins, as the forward's max keeps it.
            when(fn, m.f64.gt(v.get(), max.get()), () => {
              fn.emit(max.set(v.get()), best.set(p.expr()));
            });
          });
        });
        const b = Int.of(m, () => best.get(), true);
        when(fn, m.i32.ge_s(best.get(), m.i32.const(0)), () => {
          const at = fn.let(xBase.add(b));
          fn.emit(dx.store(at, m.f64.add(dx.load(at), gy.get())));
        });
      } else if (op.kind === "pool" && op.mode === "lp") {
        // dy/dx = |x|^(p-1) sign(x) / y^(p-1), y recomputed from the window (0 where y = 0).
        const real = (body: (p: Int, v: F64Var) => void) =>
          fn.for(0, K, (n) => {
            const p = loadI32Int(k, pos, j.mul(K).add(n));
            when(fn, m.i32.ge_s(p.expr(), m.i32.const(0)), () => body(p, fn.f64(x.load(xBase.add(p)))));
          });
        const powSum = fn.f64(m.f64.const(0));
        real((_, v) => fn.emit(powSum.set(m.f64.add(powSum.get(), k.math.pow(m.f64.abs(v.get()), m.f64.const(op.p))))));
        const y = fn.f64(k.math.pow(powSum.get(), m.f64.const(1 / op.p)));
        when(fn, m.f64.ne(y.get(), m.f64.const(0)), () => {
          const scale = fn.f64(m.f64.div(gy.get(), k.math.pow(y.get(), m.f64.const(op.p - 1))));
          real((p, v) => {
            // Math.sign: -1, 0 or 1 (NaN stays NaN through v * 0).
            const sign = m.select(m.f64.gt(v.get(), m.f64.const(0)), m.f64.const(1), m.select(m.f64.lt(v.get(), m.f64.const(0)), m.f64.const(-1), m.f64.mul(v.get(), m.f64.const(0))));
            const at = fn.let(xBase.add(p));
            const g = m.f64.mul(m.f64.mul(scale.get(), sign), k.math.pow(m.f64.abs(v.get()), m.f64.const(op.p - 1)));
            fn.emit(dx.store(at, m.f64.add(dx.load(at), g)));
          });
        });
      } else {
        // avg: dy / divisor to every real element; gauss: dy * w_n / (the real elements' sum of w).
        const share = fn.f64(m.f64.mul(gy.get(), m.f64.promote(m.f32.load(div, 4, j.mul(4).expr()))));
        fn.for(0, K, (n) => {
          const p = loadI32Int(k, pos, j.mul(K).add(n));
          when(fn, m.i32.ge_s(p.expr(), m.i32.const(0)), () => {
            const at = fn.let(xBase.add(p));
            const g = op.mode === "gauss" ? m.f64.mul(share.get(), m.f64.promote(m.f32.load(weights, 4, n.mul(4).expr()))) : share.get();
            fn.emit(dx.store(at, m.f64.add(dx.load(at), g)));
          });
        });
      }
    });
  });
}
