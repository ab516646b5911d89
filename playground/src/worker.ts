// The compiler's Web Worker: the whole compiler (compiler/browser.ts, binaryen.js included)
// runs here so that the page stays responsive while it compiles on every edit. It answers
// `compile` with the diagnostics as editor markers and, when the source compiles, the
// network's files, the plan's picture and the kernels' weights; `features` with every
// layer's output for an input, from the float64 reference interpreter on the graph as written
// (before fusion, so that a conv's, its relu's and its pool's outputs each show).

import { compile, explain, formatDiagnostic, type Graph, graphPicture, interpret, renderSvg } from "../../compiler/browser.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { opLabel } from "../../compiler/ir/print.js";
import type { Compiled, FeatureMap, Features, InputSpec, KernelWeights, Marker, Reply, Request } from "./protocol.js";

/** Symbolic input sizes (`H`, `W`) are bound to this for running and for the pictures. */
const SIZE = 28;

const scope = self as unknown as { postMessage(m: Reply, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<Request>) => void) | null };

/** The graph as written, from the last source that compiled: what `features` runs. */
let lastGraph: Graph | undefined;

function compileSource(id: number, source: string, fileName: string): Compiled {
  const t0 = performance.now();
  const r = compile(source, { fileName, target: "all" });
  const ms = performance.now() - t0;
  const markers: Marker[] = r.diagnostics.map((d) => ({
    from: d.span?.start ?? 0,
    to: d.span ? Math.max(d.span.end, d.span.start) : 0,
    severity: d.severity === "note" ? "info" : d.severity,
    text: formatDiagnostic(d),
  }));
  if (!r.ok) return { kind: "compiled", id, markers, ms };
  lastGraph = r.source;
  const kernels: KernelWeights[] = r.source.nodes.flatMap((n) => {
    const w = n.weights.weight;
    return n.op.kind === "conv" && w ? [{ layer: n.layer, shape: w.shape, data: w.data.slice() }] : [];
  });
  const env = Object.fromEntries(r.source.symbols.map((s) => [s, SIZE]));
  const inputs: InputSpec[] = r.source.inputs.map((io) => ({ name: io.name, shape: evalDims(r.source.values[io.value].shape, env) }));
  const a = r.artifacts;
  return {
    kind: "compiled",
    id,
    markers,
    ms,
    network: {
      manifest: a.manifest,
      files: { wasm: a.wasm, wasmRelaxed: a.wasmRelaxed, tables: a.tables, weights: a.weights, wgsl: a.wgsl },
      svg: renderSvg(graphPicture(r)),
      kernelCount: r.plan.steps.length,
      kernels,
      inputs,
      explain: explain(r.graph, r.source, r.plan),
    },
  };
}

function features(id: number, inputs: Readonly<Record<string, { readonly data: Float32Array; readonly shape: readonly number[] }>>): Features {
  const g = lastGraph;
  if (!g) return { kind: "features", id, maps: [], error: "nothing compiled yet" };
  try {
    // One sample: the interpreter takes [C, D1..Dd] without the batch axis.
    const feeds = new Map(Object.entries(inputs).map(([n, t]) => [n, { shape: t.shape.slice(1), data: Float64Array.from(t.data) }]));
    const env = new Map<number, { shape: readonly number[]; data: Float64Array }>();
    interpret(g, feeds, env);
    const maps: FeatureMap[] = g.nodes.flatMap((n) => {
      const t = env.get(n.output);
      return t ? [{ layer: n.layer, op: opLabel(n.op), shape: t.shape, data: Float32Array.from(t.data) }] : [];
    });
    return { kind: "features", id, maps };
  } catch (e) {
    return { kind: "features", id, maps: [], error: (e as Error).message };
  }
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.kind === "compile") scope.postMessage(compileSource(m.id, m.source, m.fileName));
  else scope.postMessage(features(m.id, m.inputs));
};
scope.postMessage({ kind: "ready" });
