// Concatenation along channels. Tensors are stored channels first, row-major, so the
// output is simply the inputs' element blocks one after another: one copy loop per input at
// a running offset. A copy (flatten or reshape given a buffer of its own, which the plan
// normally avoids by aliasing) is the one-input case.

import type { KernelContext } from "./context.js";
import { product } from "./dims.js";

export function emitConcat(ctx: KernelContext): void {
  const { fn } = ctx;
  const y = ctx.output();
  let offset = fn.const(0);
  ctx.step.inputs.forEach((_, i) => {
    const x = ctx.input(i);
    const n = product(x.shape, fn);
    const base = offset;
    fn.for(0, n, (e) => fn.emit(y.store(base.add(e), ctx.finish(x.load(e), base.add(e)))));
    offset = fn.let(offset.add(n));
  });
}

/** flatten / reshape with a buffer of its own: a copy, unless it is the same buffer (then only the epilogue). */
export function emitCopy(ctx: KernelContext): void {
  const same = ctx.step.inputs[0].buffer === ctx.step.output.buffer;
  if (same && ctx.epilogue.length === 0) return;
  emitConcat(ctx);
}
