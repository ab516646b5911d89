// Tiled convolution: output position j uses kernel (j1 mod t1, ..., jd mod td),
//
//   y[o, j] = bias[o, j mod t] + sum over c, k of  x[c, j*s + k*r - padBefore] * w[o, c, k, j mod t]
//
// with w [O, C, k1..kd, t1..td] and the bias [O, t1..td]. The loops are conv.ts's (o, the
// output positions, then c and the kernel offsets clamped to the real input once per
// position); the tile index is carried along the position loops like the output's flat
// index, one `mod` per axis per position (none on an axis with one tile, and none where the
// tiles outnumber the outputs), so sizes may be symbolic as for conv. The tile axes come
// last in the weight, so the kernel offsets step by the tile volume.

import { type TiledOp, windowGeometry } from "../../ir/ops.js";
import type { Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { axisWindow } from "./conv.js";
import { dims } from "./dims.js";

type AxisWindow = ReturnType<typeof axisWindow>;

export function emitTiled(ctx: KernelContext, op: TiledOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const w = ctx.weight();
  const bias = ctx.bias(op.bias);
  const outSpatial = ctx.step.output.shape.slice(1);
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const clamp = geo.padBefore.map((b, i) => b !== 0 || geo.padAfter[i] !== 0);
  const C = x.shape[0];
  const M = x.shape.slice(1);
  const J = y.shape.slice(1);
  const K = op.kernel;
  const T = op.tiles;
  const tVolume = T.reduce((a, b) => a * b, 1);
  const rank = M.length;
  const tileOf = (j: Int, axis: number): Int => {
    if (T[axis] === 1) return fn.const(0);
    const n = outSpatial[axis];
    if (typeof n === "number" && n <= T[axis]) return j;
    return j.mod(T[axis]);
  };

  fn.for(0, op.filters, (o) => {
    const positions = (axis: number, outFlat: Int, tFlat: Int, windows: AxisWindow[]): void => {
      if (axis === rank) return accumulate(outFlat, tFlat, windows);
      fn.for(0, J[axis], (j) => {
        const win = axisWindow(fn, j, op.stride[axis], op.dilation[axis], K[axis], padBefore[axis], M[axis], clamp[axis]);
        positions(axis + 1, fn.let(outFlat.mul(J[axis]).add(j)), fn.let(tFlat.mul(T[axis]).add(tileOf(j, axis))), [...windows, win]);
      });
    };
    const accumulate = (outFlat: Int, tFlat: Int, windows: AxisWindow[]): void => {
      const acc = fn.f64(bias ? bias.load(o.mul(tVolume).add(tFlat)) : m.f64.const(0));
      const wFirst = fn.let(o.mul(C));
      fn.for(0, C, (c) => {
        // wFlat: the flat index over [O, C, k1..k(axis)]; the tile index is added innermost.
        const offsets = (axis: number, xFlat: Int, wFlat: Int): void => {
          const win = windows[axis];
          const xRow = fn.let(xFlat.mul(M[axis]).add(win.start));
          const wRow = fn.let(wFlat.mul(K[axis]));
          fn.for(win.kLo, win.kHi, (k) => {
            const xi = xRow.add(k.mul(op.dilation[axis]));
            const wi = wRow.add(k);
            if (axis === rank - 1) {
              const wAt = wi.mul(tVolume).add(tFlat);
              fn.emit(acc.set(m.f64.add(acc.get(), m.f64.mul(x.load(xi), w.load(wAt)))));
            } else offsets(axis + 1, fn.let(xi), fn.let(wi));
          });
        };
        offsets(0, c, fn.let(wFirst.add(c)));
      });
      fn.emit(y.store(outFlat, ctx.finish(acc.get())));
    };
    positions(0, o, fn.const(0), []);
  });
}
