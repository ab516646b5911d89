// Locally connected (unshared) layer: convolution's connectivity with a kernel per output
// position,
//
//   y[o, j] = bias[o, j] + sum over c, k of  x[c, j*s + k*r - padBefore] * w[o, j, c, k]
//
// with w [O, j1..jd, C, k1..kd]. The loops are conv.ts's (o, the output positions, then c
// and the kernel offsets clamped once per position to those landing on real input, so the
// padding is never materialised and the inner loop has no bounds checks). Because the
// output's flat index o*J + j leads the weight's layout, the weight block of (o, j, c) starts
// at (outFlat * C + c) * k-volume: one multiply, no extra index bookkeeping. The shape rule
// makes the output size static; nothing here relies on it. The output loops are
// producer.ts's (a fused pool reduces the values computed on the fly; the flat index
// handed to `value` is the pre-pool one, which is what the weight and bias layouts use).

import { type LocalOp, windowGeometry } from "../../ir/ops.js";
import type { Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { axisWindow } from "./conv.js";
import { dims } from "./dims.js";
import { emitOutputs } from "./producer.js";
import { parallelFor } from "./threads.js";

type AxisWindow = ReturnType<typeof axisWindow>;

export function emitLocal(ctx: KernelContext, op: LocalOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const w = ctx.weight();
  const bias = ctx.bias(op.bias);
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const clamp = geo.padBefore.map((b, i) => b !== 0 || geo.padAfter[i] !== 0);
  const C = x.shape[0];
  const M = x.shape.slice(1);
  const K = op.kernel;
  const rank = M.length;

  // Threads take whole output channels (threads.ts).
  parallelFor(fn, op.filters, (o) => {
    emitOutputs<AxisWindow>(ctx, o, {
      axis: (axis, j) => axisWindow(fn, j, op.stride[axis], op.dilation[axis], K[axis], padBefore[axis], M[axis], clamp[axis]),
      value: (outFlat, windows) => {
        const acc = fn.f64(bias ? bias.load(outFlat) : m.f64.const(0));
        const wFirst = fn.let(outFlat.mul(C));
        fn.for(0, C, (c) => {
          const offsets = (axis: number, xFlat: Int, wFlat: Int): void => {
            const win = windows[axis];
            const xRow = fn.let(xFlat.mul(M[axis]).add(win.start));
            const wRow = fn.let(wFlat.mul(K[axis]));
            fn.for(win.kLo, win.kHi, (k) => {
              const xi = xRow.add(k.mul(op.dilation[axis]));
              const wi = wRow.add(k);
              if (axis === rank - 1) fn.emit(acc.set(m.f64.add(acc.get(), m.f64.mul(x.load(xi), w.load(wi)))));
              else offsets(axis + 1, fn.let(xi), fn.let(wi));
            });
          };
          offsets(0, c, fn.let(wFirst.add(c)));
        });
        return acc.get();
      },
    });
  });
}
