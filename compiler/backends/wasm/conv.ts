// Direct convolution (cross-correlation, or true convolution with `flip`), 1-D to 3-D, with
// stride, dilation, zero padding and groups:
//
//   y[o, j] = bias + sum over c in o's group, k of  x[c, j*s + k*r - padBefore] * w[o, c, k]
//
// Loops: o, then the output positions j (only the kept ones: a stride-2 layer computes a
// quarter of the outputs, never the discarded ones), then c and the kernel offsets k. The
// zero padding is never materialised: at each output position the k range of every axis is
// clamped to the offsets that land on real input elements, once, outside the channel loop,
// so the inner loop is a plain multiply-add without bounds checks. Index arithmetic is
// hoisted to the loop level where it changes. Accumulation is in f64 (see builder.ts).
// The output loops are producer.ts's: with a fused pool they run over the pooled positions
// and compute each window's convolution values on the fly (bias and epilogue included).

import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import type { Fn, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dims } from "./dims.js";
import { emitOutputs } from "./producer.js";
import { parallelFor } from "./threads.js";

/** Per spatial axis at one output position: the input coordinate of k = 0 and the k range on real input. */
export interface AxisWindow {
  readonly start: Int;
  readonly kLo: Int;
  readonly kHi: Int;
}

/**
 * The window of output index `j` on one axis: start = j*s - padBefore, and the offsets k with
 * 0 <= start + k*r < m. `clamp` false when the window can never leave the input (no padding,
 * no partial window), so the range is the whole kernel at no cost.
 */
export function axisWindow(fn: Fn, j: Int, s: number, r: number, k: number, padBefore: Int, m: Int, clamp: boolean): AxisWindow {
  const start = fn.let(j.mul(s).sub(padBefore));
  if (!clamp) return { start, kLo: fn.const(0), kHi: fn.const(k) };
  const kLo = fn.let(fn.const(0).sub(start).ceilDiv(r).max(0));
  const kHi = fn.let(m.sub(start).ceilDiv(r).min(k));
  return { start, kLo, kHi };
}

export function emitConv(ctx: KernelContext, op: ConvOp): void {
  const { fn } = ctx;
  const x = ctx.input(0);
  const w = ctx.weight();
  const bias = ctx.bias(op.bias);
  const inShape = ctx.step.inputs[0].shape;
  const geo = windowGeometry(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const clamp = geo.padBefore.map((b, i) => b !== 0 || geo.padAfter[i] !== 0);
  const M = x.shape.slice(1);
  const rank = M.length;
  const K = op.kernel;
  const inPerGroup = x.shape[0].floorDiv(op.groups);
  const outPerGroup = op.filters / op.groups;

  // Threads take whole output channels (threads.ts).
  parallelFor(fn, op.filters, (o) => {
    const cBase = op.groups === 1 ? fn.const(0) : fn.let(o.floorDiv(outPerGroup).mul(inPerGroup));
    const wFirst = fn.let(o.mul(inPerGroup));
    emitOutputs<AxisWindow>(ctx, o, {
      axis: (axis, j) => axisWindow(fn, j, op.stride[axis], op.dilation[axis], K[axis], padBefore[axis], M[axis], clamp[axis]),
      value: (outFlat, windows) => {
        const m = fn.m;
        const init = !bias ? m.f64.const(0) : bias.load(op.bias === "location" ? outFlat : o);
        const acc = fn.f64(init);
        fn.for(0, inPerGroup, (c) => {
          const offsets = (axis: number, xFlat: Int, wFlat: Int): void => {
            const win = windows[axis];
            // Row bases outside the loop: inside, an index is base + k*r (input), base -/+ k (weight).
            const xRow = fn.let(xFlat.mul(M[axis]).add(win.start));
            const wRow = fn.let(wFlat.mul(K[axis]).add(op.flip ? K[axis] - 1 : 0));
            fn.for(win.kLo, win.kHi, (k) => {
              const xi = xRow.add(k.mul(op.dilation[axis]));
              const wi = op.flip ? wRow.sub(k) : wRow.add(k);
              if (axis === rank - 1) fn.emit(acc.set(m.f64.add(acc.get(), m.f64.mul(x.load(xi), w.load(wi)))));
              else offsets(axis + 1, fn.let(xi), fn.let(wi));
            });
          };
          offsets(0, fn.let(cBase.add(c)), fn.let(wFirst.add(c)));
        });
        return acc.get();
      },
    });
  });
}
