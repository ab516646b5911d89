// `--autotune` for WebGPU: the candidates are timed on the adapter itself. compile() is
// synchronous and a GPU answers asynchronously, so this runs around compile() rather than in
// the algorithm pass (the wasm target times WebAssembly inside it: backends/wasm/autotune.ts).
// For each convolution layer in turn, every algorithm the WebGPU backend implements is forced
// on it (`algorithms`, as `--algorithm` does; one the layer does not allow is refused by
// compile() and skipped), the whole network is compiled, loaded on the adapter and run: once
// to warm up (pipelines, caches), then RUNS times, and the median counts. The rest of the
// network and the read-back cost the same whatever the layer's algorithm, so the whole
// network's time ranks the layer's candidates. The fastest stays forced for the layers after
// it; the final compile carries every choice with its measured times as the reason (`cnnc
// explain`, the manifest).

import { performance } from "node:perf_hooks";
import { NOMINAL_SIZE } from "./algorithms/applicability.js";
import { WEBGPU } from "./backends/wgsl/target.js";
import { compile, type CompileOptions, type CompileResult, type CompileSuccess } from "./index.js";
import { evalDims } from "./ir/dim.js";
import type { AlgorithmName } from "./ir/graph.js";
import type { GpuProvider } from "../runtime/load.js";

const RUNS = 3;

/** Median ms of one run of the compiled network on the adapter (inputs at the nominal size). */
async function timeOnGpu(r: CompileSuccess, gpu: GpuProvider): Promise<number> {
  const env = Object.fromEntries(r.graph.symbols.map((s) => [s, NOMINAL_SIZE]));
  const feeds = Object.fromEntries(
    r.graph.inputs.map((io) => {
      const shape = evalDims(r.graph.values[io.value].shape, env);
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5);
      return [io.name, { data, shape: [1, ...shape] }];
    }),
  );
  const net = await r.load({ backend: "webgpu", gpu });
  try {
    await net.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await net.run(feeds);
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
  } finally {
    net.dispose();
  }
}

const fmt = (ms: number) => (ms >= 10 ? ms.toFixed(0) : ms.toPrecision(2));

/** compile() for the WebGPU target with each convolution's algorithm timed on `gpu`'s adapter. */
export async function autotuneWebGpu(source: string | Uint8Array, options: CompileOptions, gpu: GpuProvider): Promise<CompileResult> {
  const base: CompileOptions = { ...options, target: "webgpu", autotune: false };
  const first = compile(source, base);
  if (!first.ok) return first;
  const chosen: Record<string, AlgorithmName> = { ...(options.algorithms ?? {}) };
  const reasons: Record<string, string> = {};
  const layers = first.graph.nodes.filter((n) => n.op.kind === "conv" && n.algorithm && !(n.layer in chosen)).map((n) => n.layer);
  for (const layer of layers) {
    const timed: { name: AlgorithmName; ms: number }[] = [];
    for (const name of WEBGPU.algorithms) {
      const r = compile(source, { ...base, algorithms: { ...chosen, [layer]: name } });
      // Refused (the layer does not allow it), or not kept (a fused pool takes direct).
      if (!r.ok || r.graph.nodes.find((n) => n.layer === layer)?.algorithm?.name !== name) continue;
      timed.push({ name, ms: await timeOnGpu(r, gpu) });
    }
    if (timed.length === 0) continue;
    timed.sort((a, b) => a.ms - b.ms);
    const [best, ...rest] = timed;
    chosen[layer] = best.name;
    const others = rest.map((t) => `${fmt(t.ms)} ms ${t.name}`).join(", ");
    reasons[layer] = `autotuned on the WebGPU adapter: the network ran in ${fmt(best.ms)} ms with ${best.name}${others ? ` vs ${others}` : ""}`;
  }
  return compile(source, { ...base, algorithms: chosen, algorithmReasons: reasons });
}
