// Tiled convolution: output position j uses kernel (j1 mod t1, ..., jd mod td),
//
//   y[o, j] = bias[o, j mod t] + sum over c, k of  x[c, j*s + k*r - padBefore] * w[o, c, k, j mod t]
//
// with w [O, C, k1..kd, t1..td] and the bias [O, t1..td]. The loops are conv.ts's (o, the
// output positions, then c and the kernel offsets clamped to the real input once per
// position); the tile index is carried along the position loops like the output's flat
// index, one `mod` per axis per position (none on an axis with one tile, and none where the
// tiles outnumber the outputs), so sizes may be symbolic as for conv. The tile axes come
// last in the weight, so the kernel offsets step by the tile volume. The output loops are
// producer.ts's: with a fused pool the tile index is that of each pre-pool position.

import { type TiledOp, windowGeometry } from "../../ir/ops.js";
import type { Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { axisWindow } from "./conv.js";
import { dims } from "./dims.js";
import { emitOutputs } from "./producer.js";
import { parallelFor } from "./threads.js";

/** Per axis at one output position: its window on the input, and the flat tile index so far. */
interface TiledAxis {
  readonly win: ReturnType<typeof axisWindow>;
  readonly tFlat: Int;
}

export function emitTiled(ctx: KernelContext, op: TiledOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const w = ctx.weight();
  const bias = ctx.bias(op.bias);
  // The convolution's own output (before a fused pool): tiles cycle over its positions.
  const outSpatial = (ctx.step.pool?.inShape ?? ctx.step.output.shape).slice(1);
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const clamp = geo.padBefore.map((b, i) => b !== 0 || geo.padAfter[i] !== 0);
  const C = x.shape[0];
  const M = x.shape.slice(1);
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

  // Threads take whole output channels (threads.ts).
  parallelFor(fn, op.filters, (o) => {
    emitOutputs<TiledAxis>(ctx, o, {
      axis: (axis, j, outer) => ({
        win: axisWindow(fn, j, op.stride[axis], op.dilation[axis], K[axis], padBefore[axis], M[axis], clamp[axis]),
        tFlat: fn.let((axis === 0 ? fn.const(0) : outer[axis - 1].tFlat).mul(T[axis]).add(tileOf(j, axis))),
      }),
      value: (_outFlat, axes) => {
        const tFlat = axes[rank - 1].tFlat;
        const acc = fn.f64(bias ? bias.load(o.mul(tVolume).add(tFlat)) : m.f64.const(0));
        const wFirst = fn.let(o.mul(C));
        fn.for(0, C, (c) => {
          // wFlat: the flat index over [O, C, k1..k(axis)]; the tile index is added innermost.
          const offsets = (axis: number, xFlat: Int, wFlat: Int): void => {
            const win = axes[axis].win;
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
        return acc.get();
      },
    });
  });
}
