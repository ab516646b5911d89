// The work a run asks for, in floating-point operations: what `cnnc run` refuses unasked on the
// compiled backends (runTooLong), and what the reference runner weighs against its budget.

import { bindInputs, type TensorData } from "../runtime/session.js";
import type { CompileSuccess } from "./index.js";
import { nodeFlops } from "./explain.js";
import { evalDim } from "./ir/dim.js";
import type { Node } from "./ir/graph.js";

/** Floating-point operations of one sample at the sizes `env` binds; `weigh` scales each node's. */
export function workPerSample(r: CompileSuccess, env: Record<string, number>, weigh: (n: Node) => number = () => 1): number {
  const g = r.source;
  return g.nodes.reduce((sum, n) => sum + weigh(n) * Math.max(0, evalDim(nodeFlops(g, n), env)), 0);
}

/**
 * What `cnnc run` takes on without being asked: 10^11 floating-point operations for the whole
 * run, 2.5 s on one WebAssembly thread at its peak (about 40 GFLOP/s here) and up to 15 times
 * that on shapes the kernels serve badly: a 1001x1001 kernel ran at 2.3 GFLOP/s over a 32x16
 * image (2x10^11 estimated, 85 s: fuzzer seed 37 case 16968) and at 10 over 280x320 (5.7x10^12
 * in 9 minutes, seed 35 case 95461). 24 ResNet-50 images fit. Past it is usually a size typed
 * wrong (a 1x65536x3 kernel over a 65536-row volume is 10^14), so it is refused with the
 * estimate unless --allow-long.
 */
export const RUN_FLOPS = 1e11;

/** The refusal for a run over RUN_FLOPS, or undefined. */
export function runTooLong(r: CompileSuccess, inputs: Record<string, TensorData>): string | undefined {
  const { batch, env } = bindInputs(r.artifacts.manifest, inputs);
  const work = batch * workPerSample(r, env);
  if (!(work > RUN_FLOPS)) return undefined;
  const bound = Object.entries(env).map(([k, v]) => `${k} = ${v}`);
  const sizes = bound.length ? ` with ${bound.join(", ")}` : "";
  const hours = work / 40e9 / 3600;
  const time = hours >= 48 ? `${Math.round(hours / 24)} days` : hours >= 1 ? `${hours.toFixed(1)} hours` : hours >= 1 / 60 ? `${Math.round(hours * 60)} minutes` : `${Math.round(hours * 3600)} s`;
  const sci = (x: number, digits: number) => x.toExponential(digits).replace("e+", "e");
  return `this run takes ${sci(work, 1)} floating-point operations${batch > 1 ? ` (${batch} samples)` : ""}${sizes}, about ${time} on one WebAssembly thread at 40 GFLOP/s; cnnc run refuses work over ${sci(RUN_FLOPS, 0)} unless --allow-long is given`;
}
