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

import type { AdaptivePoolOp, PoolOp } from "../../ir/ops.js";
import { windowGeometry } from "../../ir/ops.js";
import type { Expr, F64Var, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { axisWindow } from "./conv.js";
import { dims } from "./dims.js";

/** Gaussian weights of every window position, row-major over the window's axes. */
export function gaussTable(op: PoolOp): Float64Array {
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

export function emitPool(ctx: KernelContext, op: PoolOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.window, op.stride, op.dilation, op.pad, op.ceil);
  const padBefore = dims(fn, geo.padBefore);
  const padAfter = dims(fn, geo.padAfter);
  // A window can leave the real input only through padding or a ceil-mode partial window.
  const clamp = geo.padBefore.map((b, i) => op.ceil || b !== 0 || geo.padAfter[i] !== 0);
  const M = x.shape.slice(1);
  const J = y.shape.slice(1);
  const rank = M.length;
  const K = op.window;
  if (op.mode === "gauss" && ctx.table === undefined) throw new Error("internal error: gauss pooling without its weight table");

  fn.for(0, x.shape[0], (c) => {
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
      // xFlat and tFlat: the input's and the weight table's flat index of the outer axes.
      const window = (axis: number, xFlat: Int, tFlat: Int): void => {
        const xRow = fn.let(xFlat.mul(M[axis]).add(starts[axis]));
        fn.for(lo[axis], hi[axis], (k) => {
          const xi = xRow.add(k.mul(op.dilation[axis]));
          const ti = tFlat.mul(K[axis]).add(k);
          if (axis < rank - 1) return window(axis + 1, fn.let(xi), op.mode === "gauss" ? fn.let(ti) : ti);
          fn.emit(...accumulate(acc, weightSum, x.load(xi), ti));
        });
      };
      window(0, c, fn.const(0));
      fn.emit(y.store(outFlat, ctx.finish(result(acc, weightSum, real, padded))));
    };
    positions(0, c, fn.const(1), fn.const(1), [], [], []);
  });

  function accumulate(acc: F64Var, weightSum: F64Var | undefined, v: Expr, ti: Int): Expr[] {
    switch (op.mode) {
      case "max":
        return [acc.set(m.f64.max(acc.get(), v))];
      case "avg":
        return [acc.set(m.f64.add(acc.get(), v))];
      case "lp": {
        const term = op.p === 1 ? m.f64.abs(v) : op.p === 2 ? square(v) : ctx.math.pow(m.f64.abs(v), m.f64.const(op.p));
        return [acc.set(m.f64.add(acc.get(), term))];
      }
      case "gauss": {
        const weight = () => m.f64.load(ctx.table as number, 8, ti.mul(8).expr());
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
        return op.p === 1 ? acc.get() : op.p === 2 ? m.f64.sqrt(acc.get()) : ctx.math.pow(acc.get(), m.f64.const(1 / op.p));
      case "gauss": {
        const ws = weightSum as F64Var;
        return m.select(m.f64.gt(ws.get(), m.f64.const(0)), m.f64.div(acc.get(), ws.get()), m.f64.const(0));
      }
    }
  }
}

export function emitAdaptivePool(ctx: KernelContext, op: AdaptivePoolOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const M = x.shape.slice(1);
  const rank = M.length;
  const n = op.out;

  fn.for(0, x.shape[0], (c) => {
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
      fn.emit(y.store(outFlat, ctx.finish(value)));
    };
    regions(0, c, fn.const(1), [], []);
  });
}
