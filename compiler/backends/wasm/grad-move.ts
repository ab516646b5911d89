// The WebAssembly training step's kernels for the ops that move elements (slice, pad, resize)
// and log_softmax's gradient (its forward is grad-pointwise.ts's softmax with `log`). A move
// is a compile-time table of reads (reference/grad/move-grad.ts moveReads: for each output
// element, `taps` input elements and weights, -1 for none): the forward gathers
// y[j] = sum of w * x[src] (or the constant pad value where nothing is read); the gradient
// walks the same table backwards, adding w * dy[j] into dx[src] (a scatter: each sample's
// kernels run on one thread, so no two writes race).

import type { PadOp, ResizeOp, SliceOp } from "../../ir/ops.js";
import { moveReads } from "../../reference/grad/move-grad.js";
import { Int, type View } from "./builder.js";
import { type GradKernelContext, loadI32, when, zero } from "./grad-context.js";

type MoveOp = SliceOp | PadOp | ResizeOp;

function tables(k: GradKernelContext, op: MoveOp, inShape: readonly number[]) {
  const reads = moveReads(op, inShape);
  const key = JSON.stringify(["move", op, inShape]);
  const src = k.table(`${key} src`, () => reads.src);
  const w = k.table(`${key} w`, () => reads.w);
  return { ...reads, srcAt: src, wAt: w };
}

export function emitMoveForward(k: GradKernelContext, op: MoveOp, inShape: readonly number[], x: View, y: View): void {
  const { fn } = k;
  const m = fn.m;
  const t = tables(k, op, inShape);
  fn.for(0, t.outSize, (j) => {
    const acc = fn.f64(m.f64.const(t.taps === 1 ? t.fill : 0));
    fn.for(0, t.taps, (n) => {
      const at = fn.let(j.mul(t.taps).add(n));
      const s = fn.let(Int.of(m, () => loadI32(fn, t.srcAt, at), false));
      const w = m.f64.promote(m.f32.load(t.wAt, 4, at.mul(4).expr()));
      const read = m.f64.mul(w, x.load(Int.of(m, () => m.select(m.i32.ge_s(s.expr(), m.i32.const(0)), s.expr(), m.i32.const(0)), true)));
      // One tap (slice, pad): the read, or the fill where there is none; more (resize): the weighted sum.
      fn.emit(acc.set(t.taps === 1 ? m.select(m.i32.ge_s(s.expr(), m.i32.const(0)), read, acc.get()) : m.f64.add(acc.get(), read)));
    });
    fn.emit(y.store(j, acc.get()));
  });
}

export function emitMoveGrad(k: GradKernelContext, op: MoveOp, inShape: readonly number[], dy: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  const t = tables(k, op, inShape);
  zero(fn, dx, inShape.reduce((a, b) => a * b, 1));
  fn.for(0, t.outSize, (j) => {
    const g = fn.f64(dy.load(j));
    fn.for(0, t.taps, (n) => {
      const at = fn.let(j.mul(t.taps).add(n));
      const s = fn.let(Int.of(m, () => loadI32(fn, t.srcAt, at), false));
      when(fn, m.i32.ge_s(s.expr(), m.i32.const(0)), () => {
        const w = m.f64.promote(m.f32.load(t.wAt, 4, at.mul(4).expr()));
        fn.emit(dx.store(s, m.f64.add(dx.load(s), m.f64.mul(w, g.get()))));
      });
    });
  });
}

/** dx = dy - exp(y) * (sum over channels of dy), per position. */
export function emitLogSoftmaxGrad(k: GradKernelContext, C: number, per: number, y: View, dy: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, per, (p) => {
    const sum = fn.f64(m.f64.const(0));
    fn.for(0, C, (c) => fn.emit(sum.set(m.f64.add(sum.get(), dy.load(c.mul(per).add(p))))));
    fn.for(0, C, (c) => {
      const at = fn.let(c.mul(per).add(p));
      fn.emit(dx.store(at, m.f64.sub(dy.load(at), m.f64.mul(k.math.exp(y.load(at)), sum.get()))));
    });
  });
}
