// Pooling: a summary of each window (max, average, Lp norm, Gaussian-weighted average) with
// stride, dilation, padding and ceil mode, and adaptive pooling (a fixed number of regions
// per axis, region i of n over m spanning [floor(i*m/n), ceil((i+1)*m/n))).
//
// Padding is never materialised: as in conv.ts, the window's offsets on each axis are
// clamped to those that land on real input elements, so padded positions never win a max
// and add nothing to a sum, and the ceil mode's partial last window needs no special case.
// The divisor of an average is the number of real elements, or with countPad the window
// positions inside the padded input (not those past it in a ceil window). An empty window
// (possible with large padding or dilation) gives 0. Gaussian weights depend only on the
// window's shape, so they are computed here at compile time into a table the module carries
// as a data segment; the divisor is the sum of the weights of the real elements.
//
// The window loops (`poolChannel`) take their values from a source, so that a pool fused
// into a convolution-like kernel (fusion, issue 5) reduces the producer's values computed on
// the fly at each window position, by these same rules, and the pre-pool tensor is never
// stored: a plain pool step's source loads its input, a fused one's computes the conv there.
// A fused kernel has no table of its own, so its Gaussian weights are computed in the loop.

import type { Dim } from "../../ir/dim.js";
import type { AdaptivePoolOp, PoolOp } from "../../ir/ops.js";
import { windowGeometry } from "../../ir/ops.js";
import { binaryen } from "./binaryen.js";
import type { Expr, F64Var, Fn, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { axisWindow } from "./conv.js";
import { dims } from "./dims.js";
import { parallelFor } from "./threads.js";


/** A pool's geometry on its (pre-pool) input, resolved once per kernel. */
export interface PoolGeometry {
  readonly op: PoolOp;
  /** Pre-pool spatial sizes. */
  readonly M: readonly Int[];
  /** Pooled spatial sizes. */
  readonly J: readonly Int[];
  readonly padBefore: readonly Int[];
  readonly padAfter: readonly Int[];
  /** Per axis: whether a window can leave the real input (padding or a ceil-mode partial window). */
  readonly clamp: readonly boolean[];
}

/** `inShape` is the pre-pool shape [C, D1..Dd]; the pooled spatial sizes follow from it. */
export function poolGeometry(fn: Fn, op: PoolOp, inShape: readonly Dim[]): PoolGeometry {
  const geo = windowGeometry(inShape.slice(1), op.window, op.stride, op.dilation, op.pad, op.ceil);
  return {
    op,
    M: dims(fn, inShape.slice(1)),
    J: dims(fn, geo.out),
    padBefore: dims(fn, geo.padBefore),
    padAfter: dims(fn, geo.padAfter),
    clamp: geo.padBefore.map((b, i) => op.ceil || b !== 0 || geo.padAfter[i] !== 0),
  };
}

/**
 * Where the values a pool reduces come from. `axis` runs in the window loop of each axis,
 * with the pre-pool coordinate `p` there (a real position: 0 <= p < M) and the states of the
 * outer axes, so a source hoists its per-axis work to where it changes; `value` gives the
 * pre-pool value at pre-pool flat index `flat` (it may emit statements first).
 */
export interface PoolSource<A> {
  axis(axis: number, p: Int, outer: readonly A[]): A;
  value(flat: Int, axes: readonly A[]): Expr;
}

/**
 * Channel `c` of a pool: for each pooled position, the window's real positions are reduced
 * (their values from `source`) and the summary handed to `store` with the pooled flat index.
 */
export function poolChannel<A>(ctx: KernelContext, g: PoolGeometry, c: Int, source: PoolSource<A>, store: (outFlat: Int, v: Expr) => void): void {
  const { fn, math } = ctx;
  const m = fn.m;
  const { op, M, J, padBefore, padAfter, clamp } = g;
  const rank = M.length;
  const K = op.window;
  // Only a pool step has a table (module.ts); a fused pool computes its weights in the loop.
  const table = ctx.step.op.kind === "pool" ? ctx.table : undefined;

  const positions = (axis: number, outFlat: Int, real: Int, padded: Int, starts: Int[], lo: Int[], hi: Int[]): void => {
    if (axis === rank) return summarise(outFlat, real, padded, starts, lo, hi);
    fn.for(0, J[axis], (j) => {
      const win = axisWindow(fn, j, op.stride[axis], op.dilation[axis], K[axis], padBefore[axis], M[axis], clamp[axis]);
      // Window positions inside the padded input: all of them unless a ceil window overhangs.
      const inPadded = op.ceil ? M[axis].add(padAfter[axis]).sub(win.start).ceilDiv(op.dilation[axis]).min(K[axis]) : fn.const(K[axis]);
      positions(
        axis + 1,
        fn.let(outFlat.mul(J[axis]).add(j)),
        fn.let(real.mul(win.kHi.sub(win.kLo).max(0))),
        fn.let(padded.mul(inPadded)),
        [...starts, win.start],
        [...lo, win.kLo],
        [...hi, win.kHi],
      );
    });
  };
  const summarise = (outFlat: Int, real: Int, padded: Int, starts: Int[], lo: Int[], hi: Int[]): void => {
    const acc = fn.f64(m.f64.const(op.mode === "max" ? -Infinity : 0));
    const weightSum = op.mode === "gauss" ? fn.f64(m.f64.const(0)) : undefined;
    // xFlat and tFlat: the input's and the weight table's flat index of the outer axes;
    // d2: the squared distance to the window's centre over the outer axes (gauss, no table).
    const window = (axis: number, xFlat: Int, tFlat: Int, d2: () => Expr, states: A[]): void => {
      const xRow = fn.let(xFlat.mul(M[axis]).add(starts[axis]));
      fn.for(lo[axis], hi[axis], (k) => {
        const xi = xRow.add(k.mul(op.dilation[axis]));
        const ti = tFlat.mul(K[axis]).add(k);
        const at = [...states, source.axis(axis, starts[axis].add(k.mul(op.dilation[axis])), states)];
        const dist = () => m.f64.mul(m.f64.sub(m.f64.convert_s.i32(k.expr()), m.f64.const((K[axis] - 1) / 2)), m.f64.const(op.dilation[axis]));
        const d2Here = () => m.f64.add(d2(), m.f64.mul(dist(), dist()));
        const gaussInline = op.mode === "gauss" && table === undefined;
        if (axis < rank - 1) return window(axis + 1, fn.let(xi), table !== undefined ? fn.let(ti) : ti, gaussInline ? letF64(d2Here()) : d2, at);
        const v = source.value(xi, at);
        const weight = gaussInline ? letF64(math.exp(m.f64.div(m.f64.neg(d2Here()), m.f64.const(2 * op.sigma * op.sigma)))) : undefined;
        fn.emit(...accumulate(acc, weightSum, v, ti, weight));
      });
    };
    window(0, c, fn.const(0), () => m.f64.const(0), []);
    store(outFlat, result(acc, weightSum, real, padded));
  };
  positions(0, c, fn.const(1), fn.const(1), [], [], []);

  function letF64(e: Expr): () => Expr {
    const v = fn.f64(e);
    return () => v.get();
  }

  function accumulate(acc: F64Var, weightSum: F64Var | undefined, v: Expr, ti: Int, inline: (() => Expr) | undefined): Expr[] {
    switch (op.mode) {
      case "max":
        return [acc.set(m.f64.max(acc.get(), v))];
      case "avg":
        return [acc.set(m.f64.add(acc.get(), v))];
      case "lp": {
        const term = op.p === 1 ? m.f64.abs(v) : op.p === 2 ? square(v) : math.pow(m.f64.abs(v), m.f64.const(op.p));
        return [acc.set(m.f64.add(acc.get(), term))];
      }
      case "gauss": {
        const weight = inline ?? (() => m.f64.load(table as number, 8, ti.mul(8).expr()));
        return [acc.set(m.f64.add(acc.get(), m.f64.mul(weight(), v))), (weightSum as F64Var).set(m.f64.add((weightSum as F64Var).get(), weight()))];
      }
    }
  }

  function square(v: Expr): Expr {
    const t = fn.f64(v);
    return m.f64.mul(t.get(), t.get());
  }

  function result(acc: F64Var, weightSum: F64Var | undefined, real: Int, padded: Int): Expr {
    const count = (n: Int) => m.f64.convert_s.i32(n.expr());
    switch (op.mode) {
      case "max":
        return real.constant !== undefined && real.constant > 0 ? acc.get() : m.select(real.gt(0), acc.get(), m.f64.const(0));
      case "avg":
        // An empty window has acc = 0, so dividing by max(count, 1) gives its 0.
        return m.f64.div(acc.get(), count(op.countPad ? padded : real.max(1)));
      case "lp":
        return op.p === 1 ? acc.get() : op.p === 2 ? m.f64.sqrt(acc.get()) : math.pow(acc.get(), m.f64.const(1 / op.p));
      case "gauss": {
        const ws = weightSum as F64Var;
        return m.select(m.f64.gt(ws.get(), m.f64.const(0)), m.f64.div(acc.get(), ws.get()), m.f64.const(0));
      }
    }
  }
}

export function emitPool(ctx: KernelContext, op: PoolOp): void {
  const { fn } = ctx;
  const x = ctx.input(0);
  const y = ctx.output();
  if (op.mode === "gauss" && ctx.table === undefined) throw new Error("internal error: gauss pooling without its weight table");
  const g = poolGeometry(fn, op, ctx.step.inputs[0].shape);
  const source: PoolSource<void> = { axis: () => undefined, value: (flat) => x.load(flat) };
  // Threads take whole channels (threads.ts).
  parallelFor(fn, x.shape[0], (c) => poolChannel(ctx, g, c, source, (outFlat, v) => fn.emit(y.store(outFlat, ctx.finish(v, outFlat)))));
}

export function emitAdaptivePool(ctx: KernelContext, op: AdaptivePoolOp): void {
  if (op.out.every((n) => n === 1)) return emitGlobalPool(ctx, op);
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const M = x.shape.slice(1);
  const rank = M.length;
  const n = op.out;

  parallelFor(fn, x.shape[0], (c) => {
    const regions = (axis: number, outFlat: Int, count: Int, lo: Int[], hi: Int[]): void => {
      if (axis === rank) return summarise(outFlat, count, lo, hi);
      fn.for(0, n[axis], (i) => {
        const start = fn.let(i.mul(M[axis]).floorDiv(n[axis]));
        const end = fn.let(i.add(1).mul(M[axis]).ceilDiv(n[axis]));
        regions(axis + 1, fn.let(outFlat.mul(n[axis]).add(i)), fn.let(count.mul(end.sub(start))), [...lo, start], [...hi, end]);
      });
    };
    const summarise = (outFlat: Int, count: Int, lo: Int[], hi: Int[]): void => {
      const acc = fn.f64(m.f64.const(op.mode === "max" ? -Infinity : 0));
      const region = (axis: number, xFlat: Int): void => {
        fn.for(lo[axis], hi[axis], (k) => {
          const xi = xFlat.mul(M[axis]).add(k);
          if (axis < rank - 1) return region(axis + 1, fn.let(xi));
          const v = x.load(xi);
          fn.emit(acc.set(op.mode === "max" ? m.f64.max(acc.get(), v) : m.f64.add(acc.get(), v)));
        });
      };
      region(0, c);
      // Regions are never empty (m >= n is a size check), so the count is at least 1.
      const value = op.mode === "max" ? acc.get() : m.f64.div(acc.get(), m.f64.convert_s.i32(count.expr()));
      fn.emit(y.store(outFlat, ctx.finish(value, outFlat)));
    };
    regions(0, c, fn.const(1), [], []);
  });
}

/**
 * Global pooling (`avgpool(out: 1)`, the head of most classifiers): each channel's plane is one
 * contiguous run, reduced four values at a time. Max on f32x4 lanes (exact); average widened to
 * two f64x2 sums (a 56x56 plane is 3136 terms, where f32 lanes would drift toward the 1e-5 the
 * reference comparison allows). The last values of a plane that is not a multiple of four run
 * scalar.
 */
function emitGlobalPool(ctx: KernelContext, op: AdaptivePoolOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const P = fn.atEntry("global plane", () => x.shape.slice(1).reduce<Int>((a, b) => a.mul(b), fn.const(1)));
  const quads = fn.atEntry("global quads", () => P.floorDiv(4));
  const isMax = op.mode === "max";
  parallelFor(fn, x.shape[0], (c) => {
    const start = fn.let(c.mul(P));
    const at = (q: Int) => x.base.add(start.add(q.mul(4)).mul(4)).expr();
    let total: Expr;
    if (isMax) {
      const acc = fn.variable(binaryen.v128, m.f32x4.splat(m.f32.const(-Infinity)));
      fn.for(0, quads, (q) => fn.emit(acc.set(m.f32x4.max(acc.get(), m.v128.load(0, 4, at(q))))));
      const lane = (i: number) => m.f64.promote(m.f32x4.extract_lane(acc.get(), i));
      total = m.f64.max(m.f64.max(lane(0), lane(1)), m.f64.max(lane(2), lane(3)));
    } else {
      const lo = fn.variable(binaryen.v128, m.f64x2.splat(m.f64.const(0)));
      const hi = fn.variable(binaryen.v128, m.f64x2.splat(m.f64.const(0)));
      fn.for(0, quads, (q) => {
        const v = fn.variable(binaryen.v128, m.v128.load(0, 4, at(q)));
        fn.emit(lo.set(m.f64x2.add(lo.get(), m.f64x2.promote_low_f32x4(v.get()))));
        const high = m.i8x16.shuffle(v.get(), v.get(), [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
        fn.emit(hi.set(m.f64x2.add(hi.get(), m.f64x2.promote_low_f32x4(high))));
      });
      const both = fn.variable(binaryen.v128, m.f64x2.add(lo.get(), hi.get()));
      total = m.f64.add(m.f64x2.extract_lane(both.get(), 0), m.f64x2.extract_lane(both.get(), 1));
    }
    const acc = fn.f64(total);
    fn.for(quads.mul(4), P, (i) => {
      const v = x.load(start.add(i));
      fn.emit(acc.set(isMax ? m.f64.max(acc.get(), v) : m.f64.add(acc.get(), v)));
    });
    const value = isMax ? acc.get() : m.f64.div(acc.get(), m.f64.convert_s.i32(P.expr()));
    fn.emit(y.store(c, ctx.finish(value, c)));
  });
}
