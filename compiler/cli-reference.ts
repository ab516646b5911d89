// `cnnc run --backend reference`: the float64 interpreter behind the same interface as a
// compiled network, sample by sample, with the session's input checks (names, shapes, symbols).

import { bindInputs, InputError, type Network, type TensorData } from "../runtime/session.js";
import { workPerSample } from "./cli-work.js";
import type { CompileSuccess } from "./index.js";
import { evalDim } from "./ir/dim.js";
import type { Node } from "./ir/graph.js";
import { showBytes } from "./limits.js";
import { interpret } from "./reference/interpret.js";
import type { Tensor } from "./reference/tensor.js";

/**
 * The interpreter keeps every value of a sample, in float64: at most 1 GiB of them. The
 * compiled backends hold 2^29-value tensors in float32 and reuse memory; the reference,
 * which is there to check them, refuses inputs past this rather than take the machine's memory.
 */
const REFERENCE_BYTES = 2 ** 30;

/**
 * The work the interpreter takes on for one sample: 2x10^9 floating-point operations, about
 * 20 s at its speed on convolutions here (about 105 MFLOP/s; slower ops are weighed, below). Past that, a run is a
 * wait without end for a user (a 1001x1001 kernel on a photo is 10^12 and more), and the
 * compiled backends are the way.
 */
const REFERENCE_FLOPS = 2e9;

/**
 * The interpreter's time per operation relative to a convolution's: its tiled and locally
 * connected layers look up each weight by a computed multi-index (a 65536-filter tiled layer
 * ran at 45 MFLOP/s here, a 64->64 convolution at 105), so their work counts three times
 * against the budget (fuzzer seed 34 cases 82262 and 89808: 1.7x10^9, a minute alone).
 */
const referenceCost = (n: Node): number => (n.op.kind === "tiled" || n.op.kind === "local" ? 3 : 1);

export function referenceRunner(r: CompileSuccess, net: Network) {
  const g = r.source;
  return {
    inputs: net.inputs,
    async run(inputs: Record<string, TensorData>): Promise<Record<string, TensorData>> {
      // The session's checks (names, shapes, symbols) apply to the reference too.
      const { batch, env } = bindInputs(r.artifacts.manifest, inputs);
      const values = g.values.reduce((sum, v) => sum + v.shape.reduce<number>((p, d) => p * Math.max(0, evalDim(d, env)), 1), 0);
      const bound = Object.entries(env).map(([k, v]) => `${k} = ${v}`);
      const sizes = bound.length ? ` with ${bound.join(", ")}` : "";
      if (8 * values > REFERENCE_BYTES) {
        throw new InputError(
          `the reference backend keeps every value in float64: this network needs ${(8 * values / 2 ** 30).toFixed(1)} GiB per sample${sizes}, more than its ${showBytes(REFERENCE_BYTES)}; run it with --backend wasm`,
        );
      }
      const work = workPerSample(r, env, referenceCost);
      if (work > REFERENCE_FLOPS) {
        throw new InputError(
          `the reference backend is an unoptimised float64 interpreter: this network takes ${work.toExponential(1)} floating-point operations per sample${sizes}${g.nodes.some((n) => referenceCost(n) > 1) ? " (tiled and local layers counted three times: they run slower here)" : ""}, more than its budget of ${REFERENCE_FLOPS.toExponential(0)} (about 20 s); run it with --backend wasm`,
        );
      }
      const outs: Record<string, { shape: number[]; chunks: Float64Array[] }> = {};
      for (let n = 0; n < batch; n++) {
        const sample = new Map<string, Tensor>();
        for (const io of g.inputs) {
          const t = inputs[io.name];
          const per = t.data.length / batch;
          const shape = t.shape.length === g.values[io.value].shape.length ? [...t.shape] : t.shape.slice(1);
          sample.set(io.name, { shape, data: Float64Array.from(t.data.subarray(n * per, (n + 1) * per)) });
        }
        for (const [name, y] of interpret(g, sample)) {
          (outs[name] ??= { shape: [...y.shape], chunks: [] }).chunks.push(y.data);
        }
      }
      const result: Record<string, TensorData> = {};
      for (const [name, o] of Object.entries(outs)) {
        const data = new Float32Array(o.chunks.reduce((a, c) => a + c.length, 0));
        let at = 0;
        for (const c of o.chunks) {
          data.set(c, at);
          at += c.length;
        }
        result[name] = { data, shape: [batch, ...o.shape] };
      }
      return result;
    },
  };
}
