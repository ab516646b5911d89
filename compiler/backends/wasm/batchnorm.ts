// Batch normalisation at inference, per channel:
//
//   y[c, p] = (x[c, p] - mean[c]) * (gamma[c] / sqrt(var[c] + eps)) + beta[c]
//
// The per-channel factor is computed once per channel (in f64, like every value here), so
// the loop over positions is a subtract, a multiply and an add. This is the unfolded layer:
// folding it into a preceding convolution is a graph pass, not this kernel's business.

import type { BatchNormOp } from "../../ir/ops.js";
import type { KernelContext } from "./context.js";
import { product } from "./dims.js";
import { parallelFor } from "./threads.js";

export function emitBatchNorm(ctx: KernelContext, op: BatchNormOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const gamma = ctx.weight();
  const beta = ctx.bias("channel");
  const mean = ctx.statistic("mean");
  const variance = ctx.statistic("variance");
  if (!beta) throw new Error(`internal error: batchnorm ${ctx.step.layer} without beta`);
  const positions = fn.atEntry("batchnorm positions", () => product(x.shape.slice(1), fn));

  // Threads take whole channels (threads.ts); in place is safe, each element is its own.
  parallelFor(fn, x.shape[0], (c) => {
    const scale = fn.f64(m.f64.div(gamma.load(c), m.f64.sqrt(m.f64.add(variance.load(c), m.f64.const(op.eps)))));
    const mu = fn.f64(mean.load(c));
    const shift = fn.f64(beta.load(c));
    const row = fn.let(c.mul(positions));
    fn.for(0, positions, (i) => {
      const at = row.add(i);
      fn.emit(y.store(at, ctx.finish(m.f64.add(m.f64.mul(m.f64.sub(x.load(at), mu.get()), scale.get()), shift.get()), at)));
    });
  });
}
