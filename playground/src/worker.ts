// The compiler's Web Worker: the whole compiler (compiler/browser.ts, binaryen.js included)
// runs here so that the page stays responsive while it compiles on every edit. It answers
// `compile` with the diagnostics as editor markers and, when the source compiles, the
// network's files, the plan's picture and the kernels' weights; `features` with every
// layer's output for an input, from the float64 reference interpreter on the graph as written
// (before fusion, so that a conv's, its relu's and its pool's outputs each show).

import { compile, explain, formatDiagnostic, type Graph, graphPicture, interpret, renderSvg } from "../../compiler/browser.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { opLabel } from "../../compiler/ir/print.js";
import type { Compiled, FeatureMap, Features, InputSpec, KernelWeights, Marker, Reply, Request } from "./protocol.js";

/** Symbolic input sizes (`H`, `W`) are bound to this for running and for the pictures. */
const SIZE = 28;

const scope = self as unknown as { postMessage(m: Reply, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<Request>) => void) | null };

/** The graph as written, from the last source that compiled: what `features` runs. */
let lastGraph: Graph | undefined;

function compileSource(id: number, source: string, fileName: string, weights?: Uint8Array): Compiled {
  const t0 = performance.now();
  const r = compile(source, { fileName, target: "all", weights });
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

/** MNIST digits for the train button: the build copies the first few thousand (data/). */
let mnist: Promise<{ images: Uint8Array; labels: Uint8Array }> | undefined;
const loadMnist = async () => {
  const get = async (f: string) => {
    const r = await fetch(new URL(`data/${f}`, location.href.replace(/[^/]*$/, "")));
    if (!r.ok) throw new Error(`no MNIST data in this build (data/${f}: ${r.status})`);
    return new Uint8Array(await r.arrayBuffer());
  };
  return { images: await get("mnist-images.bin"), labels: await get("mnist-labels.bin") };
};
let stopping = false;

/** Trains the network as written (compiled to WebAssembly where it can be, else the reference trainer) on random batches of MNIST digits, reporting each step. */
async function train(m: Extract<Request, { kind: "train" }>): Promise<void> {
  stopping = false;
  try {
    // "auto": the compiled WebAssembly step when every op has a gradient kernel (LeNet does), else the reference.
    const t = compileTraining(m.source, { fileName: m.fileName, backend: "auto" });
    if (!t.ok) throw new Error(t.diagnostics.map((d) => formatDiagnostic(d)).join("\n"));
    const trainer = await t.load({ totalSteps: m.steps });
    const { images, labels } = await (mnist ??= loadMnist());
    const n = labels.length;
    let seed = 12345;
    const pick = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    let step = 0;
    for (; step < m.steps && !stopping; step++) {
      const x = new Float32Array(m.batch * 784);
      const y = new Float64Array(m.batch);
      for (let b = 0; b < m.batch; b++) {
        const i = pick();
        for (let p = 0; p < 784; p++) x[b * 784 + p] = images[i * 784 + p] / 255;
        y[b] = labels[i];
      }
      const r = await trainer.step({ count: m.batch, images: x, labels: y });
      scope.postMessage({ kind: "progress", id: m.id, step: step + 1, loss: r.loss, accuracy: r.accuracy });
      // Let a "stop" message in between steps.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    // sync(): a no-op on WebAssembly; on WebGPU it fetches the weights that weights() reads.
    await trainer.sync();
    scope.postMessage({ kind: "trained", id: m.id, weights: trainer.weights(), steps: step });
  } catch (e) {
    scope.postMessage({ kind: "trained", id: m.id, steps: 0, error: (e as Error).message });
  }
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.kind === "compile") scope.postMessage(compileSource(m.id, m.source, m.fileName, m.weights));
  else if (m.kind === "features") scope.postMessage(features(m.id, m.inputs));
  else if (m.kind === "train") void train(m);
  else stopping = true;
};
scope.postMessage({ kind: "ready" });
