// The WebAssembly training step's broadcast add and mul (channel-first, train/broadcast.ts)
// and the gradients that sum dy back down to a repeated operand: a loop nest per output axis,
// with stride 0 on an operand's repeated axes. A gradient loops over the operand's own
// elements outside and the summed axes inside, into an f64 accumulator, so each operand
// element is stored once and its terms come in dy's row-major order, as the reference adds them.

import { broadcastStrides, reduction } from "../../train/broadcast.js";
import type { Int, View } from "./builder.js";
import type { GradKernelContext } from "./grad-context.js";

/** Nested loops over `sizes`, the body given the flat offset Σ index * stride for each stride list. */
function nest(k: GradKernelContext, sizes: readonly number[], strideLists: readonly (readonly number[])[], body: (offsets: Int[]) => void): void {
  const { fn } = k;
  const step = (axis: number, offsets: Int[]): void => {
    if (axis === sizes.length) return body(offsets);
    fn.for(0, sizes[axis], (i) => step(axis + 1, offsets.map((o, s) => (strideLists[s][axis] === 0 ? o : fn.let(o.add(i.mul(strideLists[s][axis])))))));
  };
  step(0, strideLists.map(() => fn.const(0)));
}

/** out[j] = the sum (add) or product (mul) of the operands at j, each repeated along its size-1 axes. */
export function emitBroadcastBinary(k: GradKernelContext, kind: "add" | "mul", out: readonly number[], operands: readonly { view: View; shape: readonly number[] }[], y: View): void {
  const m = k.fn.m;
  const outStrides = broadcastStrides(out, out);
  nest(k, out, [outStrides, ...operands.map((o) => broadcastStrides(o.shape, out))], ([at, ...ats]) => {
    const terms = operands.map((o, i) => o.view.load(ats[i]));
    const value = terms.slice(1).reduce((acc, t) => (kind === "add" ? m.f64.add(acc, t) : m.f64.mul(acc, t)), terms[0]);
    k.fn.emit(y.store(at, value));
  });
}

/**
 * out (shape `to`) = dy summed over the axes where `to` has 1 and dy more; with `other`, of
 * dy times the other operand, itself repeated along its own size-1 axes (a mul's gradient).
 */
export function emitReduceTo(k: GradKernelContext, dyShape: readonly number[], dy: View, to: readonly number[], out: View, other?: { view: View; shape: readonly number[] }): void {
  const { fn } = k;
  const m = fn.m;
  const r = reduction(dyShape, to);
  // The other operand's stride along each kept and each summed axis (0 where it repeats).
  const os = other ? broadcastStrides(other.shape, dyShape) : dyShape.map(() => 0);
  nest(k, r.kept.map((a) => a.size), [r.kept.map((a) => a.stride), r.kept.map((a) => a.dyStride), r.kept.map((a) => os[a.axis])], ([at, dyAt, otherAt]) => {
    const acc = fn.f64(m.f64.const(0));
    nest(k, r.summed.map((s) => s.size), [r.summed.map((s) => s.dyStride), r.summed.map((s) => os[s.axis])], ([dyIn, otherIn]) => {
      const i = dyAt.add(dyIn);
      const term = other ? m.f64.mul(dy.load(i), other.view.load(otherAt.add(otherIn))) : dy.load(i);
      fn.emit(acc.set(m.f64.add(acc.get(), term)));
    });
    fn.emit(out.store(at, acc.get()));
  });
}
