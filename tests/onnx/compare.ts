// Runs one ONNX model on onnxruntime-node (the oracle) and on cnnc (imported from the same
// bytes: the reference interpreter, WebAssembly, and WebGPU when an adapter is there), and
// returns each output's relative error (max |diff| / max(1e-6, max |ort|)).

import * as ort from "onnxruntime-node";
import { compile } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { relativeError } from "../reference/helpers.js";

export interface Feed {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export async function runOrt(bytes: Uint8Array, feeds: Record<string, Feed>): Promise<Record<string, { dims: number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "disabled" });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor("float32", t.data, [...t.shape]);
    const out = await session.run(inputs);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { dims: [...v.dims], data: v.data as Float32Array }]));
  } finally {
    await session.release();
  }
}

export type Backend = "reference" | "wasm" | "webgpu";

/** Relative error of each backend's every output against onnxruntime; throws on a compile failure. */
export async function compareWithOrt(bytes: Uint8Array, feeds: Record<string, Feed>, backends: readonly Backend[]): Promise<Record<Backend, number>> {
  const want = await runOrt(bytes, feeds);
  const r = compile(bytes, { format: "onnx", target: backends.includes("webgpu") ? "all" : "wasm" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const errs: Record<Backend, number> = { reference: 0, wasm: 0, webgpu: 0 };
  const check = (b: Backend, name: string, shape: readonly number[], data: ArrayLike<number>): void => {
    const w = want[name];
    if (!w) throw new Error(`no ONNX output ${name}; cnnc's are ${r.graph.outputs.map((o) => o.name).join(", ")}`);
    if (shape.join(",") !== w.dims.join(",")) throw new Error(`${b} ${name}: shape [${shape.join(", ")}], onnxruntime [${w.dims.join(", ")}]`);
    errs[b] = Math.max(errs[b], relativeError(data, w.data));
  };
  if (backends.includes("reference")) {
    // The reference runs one sample at a time; the samples' outputs are concatenated.
    const batch = Object.values(feeds)[0].shape[0];
    const outs = new Map<string, { shape: readonly number[]; data: number[] }>();
    for (let n = 0; n < batch; n++) {
      const sample = new Map(Object.entries(feeds).map(([k, t]) => {
        const per = t.data.length / batch;
        return [k, { shape: t.shape.slice(1), data: Float64Array.from(t.data.subarray(n * per, (n + 1) * per)) }];
      }));
      for (const [name, y] of interpret(r.source, sample)) {
        const o = outs.get(name) ?? { shape: y.shape, data: [] };
        o.data.push(...y.data);
        outs.set(name, o);
      }
    }
    for (const [name, o] of outs) check("reference", name, [batch, ...o.shape], o.data);
  }
  for (const b of backends.filter((x) => x !== "reference")) {
    const net = await r.load({ backend: b });
    try {
      const got = await net.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { data: t.data, shape: [...t.shape] }])));
      for (const [name, y] of Object.entries(got)) check(b, name, y.shape, y.data);
    } finally {
      net.dispose();
    }
  }
  return errs;
}

/** Seeded uniform values in [lo, hi) as f32. */
export function seeded(seed: number, n: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}
