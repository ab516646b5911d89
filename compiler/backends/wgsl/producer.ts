// The frame shared by the per-output-element producer kernels (conv.ts, deconv.ts, local.ts
// for local and tiled): the tensors they bind (input, weight, bias unless none, output), the
// shapes (the layer's own output is the pre-pool one when a pool is fused), and the kernel
// around the sum each computes: one invocation per output element, its flat index unravelled
// into the output channel `o` and coordinates j0..j(d-1), the sum and bias through the
// step's epilogue into the output; or, with a fused pool, one invocation per POOLED output,
// the sum evaluated at each window position (pool.ts). The input-channel sum splits into
// dispatches (split-K) where its length is static, except under a pool: the pool is not
// linear in the partial sums. Each kernel file says only its sum, bias and ranges.

import type { Dim } from "../../ir/dim.js";
import { finish } from "./activation.js";
import { pooledProducerBody, pooledRanges } from "./pool.js";
import type { KernelSpec, Program, RangeFn, StepContext, TensorUse } from "./program.js";
import { unravel } from "./window.js";

export interface ProducerFrame {
  readonly x: TensorUse;
  readonly w: TensorUse;
  readonly b: TensorUse | undefined;
  readonly y: TensorUse;
  /** [C, M1..Md] */
  readonly inShape: readonly Dim[];
  /** The layer's own output, [O, J1..Jd]: before a fused pool, if the step has one. */
  readonly outShape: readonly Dim[];
  /** Spatial sizes of the input and of the layer's own output. */
  readonly M: readonly Dim[];
  readonly J: readonly Dim[];
  readonly tensors: readonly TensorUse[];
}

export function producerFrame(ctx: StepContext, bias: "none" | string): ProducerFrame {
  const step = ctx.step;
  const x = ctx.input(0, "x");
  const w = ctx.weight("w");
  const b = bias === "none" ? undefined : ctx.bias("b");
  const y = ctx.output();
  const inShape = step.inputs[0].shape;
  const outShape = step.pool?.inShape ?? step.output.shape;
  return { x, w, b, y, inShape, outShape, M: inShape.slice(1), J: outShape.slice(1), tensors: b ? [x, w, b, y] : [x, w, y] };
}

export interface ProducerSum {
  readonly family: string;
  /**
   * The statements that sum output position j0..j(d-1) of channel `o` (flat index `index`)
   * into `acc`; `split`: over this dispatch's chunk of the input channels.
   */
  sum(p: Program, index: string, split: boolean): string[];
  /** " + <bias at flat index `index`>", or "" without a bias. */
  bias(p: Program, index: string): string;
  /** Static shapes only: what each tensor needs for a range of outputs and input channels. */
  readonly ranges: RangeFn | undefined;
  /** The input-channel count the sum runs over, where static (then it can split). */
  readonly extent: number | undefined;
}

export function producerKernel(ctx: StepContext, f: ProducerFrame, k: ProducerSum): KernelSpec {
  const step = ctx.step;
  const body = (p: Program): string => {
    if (step.pool) return pooledProducerBody(p, step, (index) => ({ lines: k.sum(p, index, false), value: `acc${k.bias(p, index)}` }));
    const lines = [unravel(p, f.J, "o"), ...k.sum(p, "i", true)];
    const store = (v: string) => `${p.at("y", "i")} = ${v};`;
    lines.push(p.accumulate("i", "acc", (v) => finish(p, step.epilogue, `${v}${k.bias(p, "i")}`, "i"), store));
    return lines.join("\n");
  };
  const { extent, ranges } = k;
  return {
    family: k.family,
    workgroupSize: 64,
    itemsPer: "invocation",
    items: f.y.elements,
    tensors: f.tensors,
    body,
    // A pooled step's reduction cannot be split: the pool is not linear in the partial sums.
    ranges: step.pool ? (extent !== undefined ? pooledRanges(step.pool, step.output.shape, ranges, extent) : undefined) : ranges,
    reduce: extent !== undefined && !step.pool ? { extent } : undefined,
  };
}
