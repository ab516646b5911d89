// Which ops a compiled training step (WebAssembly or WebGPU) runs: one table for both, since
// both steps cover the same forward and gradient ops; each backend says only what differs (the
// pool modes and activations it has kernels for, and any forward op it further restricts).
// compile-training.ts names what is missing in a diagnostic, or lets `auto` fall back.

import type { GradOp } from "../ir/grad-ops.js";
import type { ActivationFn, Op, PoolOp } from "../ir/ops.js";
import type { TrainGraph } from "./graph.js";

export interface StepKernels {
  readonly pool: (op: PoolOp) => boolean;
  readonly activation: (fn: ActivationFn) => boolean;
  /** A backend's own refusal of a forward op the table allows (a reason), else undefined. */
  readonly forward?: (op: Op) => string | undefined;
  /** Batch norm in training mode (the batch's statistics) has kernels. */
  readonly batchStatistics: boolean;
}

function forwardSupport(op: Op, k: StepKernels): string | undefined {
  switch (op.kind) {
    case "conv":
      return k.forward?.(op);
    case "pool":
      return k.pool(op) ? undefined : `${op.mode} pooling`;
    case "adaptive_pool":
      return undefined;
    case "activation":
      return k.activation(op.fn) ? undefined : `activation ${op.fn}`;
    case "dense":
    case "flatten":
    case "reshape":
    case "softmax":
    case "add":
    case "mul":
    case "concat":
    case "maxout":
    case "local":
    case "tiled":
    case "deconv":
    case "batchnorm":
    case "slice":
    case "pad":
    case "resize":
    case "log_softmax":
      return k.forward?.(op);
    default:
      return op.kind;
  }
}

function gradSupport(op: GradOp, k: StepKernels): string | undefined {
  switch (op.kind) {
    case "pool_grad":
      return k.pool(op.pool) ? undefined : `${op.pool.mode} pooling gradient`;
    case "activation_grad":
      return k.activation(op.fn) ? undefined : `gradient of ${op.fn}`;
    case "batchnorm_batch_grad_input":
      return k.batchStatistics ? undefined : "batch norm in training mode";
    default:
      // Every other gradient has its kernels on both steps.
      return undefined;
  }
}

/** The ops of a training graph that a step with these kernels cannot run (empty: it runs). */
export function unsupportedStepOps(tg: TrainGraph, k: StepKernels): string[] {
  const missing = new Set<string>();
  for (const n of tg.forward.nodes) {
    const why = forwardSupport(n.op, k);
    if (why) missing.add(why);
  }
  for (const n of tg.nodes) {
    const why = gradSupport(n.op, k);
    if (why) missing.add(why);
  }
  if (!k.batchStatistics && tg.batchStatistics && tg.forward.nodes.some((n) => n.op.kind === "batchnorm")) missing.add("batch norm in training mode");
  return [...missing];
}
