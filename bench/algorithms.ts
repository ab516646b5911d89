// `npm run bench -- --algorithms`: what each convolution algorithm costs on the WebAssembly
// backend (one thread, Node), on layers where the choice matters: a 15x15 kernel (FFT's
// case), a depthwise 9x9 Gaussian blur (separable's case) and a 3x3 64->64 layer (Winograd's
// and GEMM's case). Each applicable algorithm is forced with `algorithms: { layer: name }`,
// the one-layer network is compiled, instantiated and run repeatedly; the table gives the
// median time, GFLOP/s counted as direct convolution's FLOPs (2 per multiply-add, so that
// the rates compare work done, not work saved), the speed-up over direct, and which
// algorithm the cost model picked (and what `--autotune` picks, with `--autotune`).
//
//   npm run bench -- --algorithms [--runs N] [--autotune] [--only NAME,...]

import { performance } from "node:perf_hooks";
import { ALGORITHMS, applicable } from "../compiler/algorithms/applicability.js";
import { WASM } from "../compiler/backends/capabilities.js";
import { compile, type CompileSuccess } from "../compiler/index.js";
import type { AlgorithmName, Node } from "../compiler/ir/graph.js";
import * as D from "../compiler/ir/dim.js";

interface Case {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  readonly layer: string;
}

export const CASES: readonly Case[] = [
  {
    name: "bigkernel",
    description: "1x256x256, 8 filters 15x15, same",
    layer: "big",
    source: `network bigkernel(x: f32[1, 256, 256]) -> y {\n  y = x |> big: conv(8, 15x15, pad: same)\n}\n`,
  },
  {
    name: "separable_blur",
    description: "3x512x512, depthwise 9x9 Gaussian (sigma 2), same, no bias",
    layer: "blur",
    source: `network separable_blur(x: f32[3, 512, 512]) -> y {\n  y = x |> blur: depthwise(9x9, pad: same, weight: gaussian(sigma: 2), bias: none)\n}\n`,
  },
  {
    name: "conv3x3_64",
    description: "64x56x56, 64 filters 3x3, same",
    layer: "c",
    source: `network conv3x3_64(x: f32[64, 56, 56]) -> y {\n  y = x |> c: conv(64, 3x3, pad: same)\n}\n`,
  },
];

const imports = { env: { exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log } };

/** A compiled one-layer network, instantiated, with its weights in place and a seeded input. */
function instantiate(r: CompileSuccess): () => void {
  const wasm = r.artifacts.wasm;
  const manifest = r.artifacts.manifest.wasm;
  if (!wasm || !manifest) throw new Error("no WebAssembly artifact");
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(wasm)), imports);
  const memory = instance.exports.memory as WebAssembly.Memory;
  const bytes = D.evalDim(manifest.memoryBytes, {});
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  new Float32Array(memory.buffer, manifest.weightsOffset, r.plan.weightData.length).set(r.plan.weightData);
  for (const io of manifest.inputs) {
    const n = io.shape.reduce<number>((a, d) => a * D.evalDim(d, {}), 1);
    const x = new Float32Array(memory.buffer, D.evalDim(io.offset, {}), n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      x[i] = s / 2 ** 31 - 1;
    }
  }
  return instance.exports.run as () => void;
}

/** Median milliseconds of `run` over at least `runs` runs and about half a second. */
export function medianMs(run: () => void, runs: number): number {
  run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < runs || (performance.now() - start < 500 && times.length < 50)) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function layerNode(r: CompileSuccess, layer: string): Node {
  const n = r.graph.nodes.find((x) => x.layer === layer);
  if (!n || n.op.kind !== "conv") throw new Error(`no conv layer ${layer}`);
  return n;
}

/** Direct convolution's multiply-adds for the layer. */
function macs(r: CompileSuccess, n: Node): number {
  if (n.op.kind !== "conv") return 0;
  const out = D.evalDims(r.graph.values[n.output].shape, {});
  const c = D.evalDim(r.graph.values[n.inputs[0]].shape[0], {});
  return out.reduce((a, b) => a * b, 1) * (c / n.op.groups) * n.op.kernel.reduce((a, b) => a * b, 1);
}

export interface Row {
  readonly algorithm: AlgorithmName;
  readonly ms: number;
  readonly gflops: number;
}

export interface CaseResult {
  readonly c: Case;
  readonly rows: readonly Row[];
  readonly picked: AlgorithmName;
  readonly reason: string;
  readonly autotuned?: { readonly name: AlgorithmName; readonly reason: string };
}

export function benchCase(c: Case, runs: number, autotune: boolean): CaseResult {
  const base = compile(c.source, { fileName: `${c.name}.cnn` });
  if (!base.ok) throw new Error(base.diagnostics.map((d) => d.message).join("\n"));
  const node = layerNode(base, c.layer);
  const flops = 2 * macs(base, node);
  const rows: Row[] = [];
  for (const name of ALGORITHMS) {
    if (!WASM.algorithms.has(name) || applicable(name, node, base.graph) !== undefined) continue;
    const r = compile(c.source, { fileName: `${c.name}.cnn`, algorithms: { [c.layer]: name } });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    const ms = medianMs(instantiate(r), runs);
    rows.push({ algorithm: name, ms, gflops: flops / ms / 1e6 });
  }
  const picked = node.algorithm?.name ?? "direct";
  let autotuned: CaseResult["autotuned"];
  if (autotune) {
    const t = compile(c.source, { fileName: `${c.name}.cnn`, autotune: true });
    if (!t.ok) throw new Error(t.diagnostics.map((d) => d.message).join("\n"));
    const a = layerNode(t, c.layer).algorithm;
    if (a) autotuned = { name: a.name, reason: a.reason };
  }
  return { c, rows, picked, reason: node.algorithm?.reason ?? "", autotuned };
}

function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function main(argv: readonly string[]): number {
  const runs = Number(option(argv, "--runs") ?? 7);
  const only = option(argv, "--only")?.split(",");
  const autotune = argv.includes("--autotune");
  const out: string[] = [];
  out.push("## Convolution algorithms on WebAssembly (one thread)\n");
  out.push(`Median of at least ${runs} runs. GFLOP/s counts direct convolution's FLOPs (2 per multiply-add) for every algorithm.\n`);
  out.push("| network | algorithm | median ms | GFLOP/s | vs direct | cost model | autotune |");
  out.push("|---|---|---:|---:|---:|---|---|");
  const notes: string[] = [];
  for (const c of CASES) {
    if (only && !only.includes(c.name)) continue;
    const r = benchCase(c, runs, autotune);
    const direct = r.rows.find((x) => x.algorithm === "direct");
    const fastest = r.rows.reduce((a, b) => (b.ms < a.ms ? b : a));
    for (const row of r.rows) {
      out.push(
        `| ${c.name} | ${row.algorithm} | ${row.ms.toFixed(2)} | ${row.gflops.toFixed(2)} | ${direct ? (direct.ms / row.ms).toFixed(2) + "x" : "-"} | ${row.algorithm === r.picked ? "picked" : ""} | ${r.autotuned?.name === row.algorithm ? "picked" : ""} |`,
      );
    }
    const pick = r.rows.find((x) => x.algorithm === r.picked);
    notes.push(`- ${c.name} (${c.description}): the cost model picked ${r.picked}${pick ? `, ${((pick.ms / fastest.ms - 1) * 100).toFixed(0)}% slower than the fastest (${fastest.algorithm})` : ""}: "${r.reason}"`);
    if (r.autotuned) notes.push(`  - autotune picked ${r.autotuned.name}: "${r.autotuned.reason}"`);
  }
  out.push("", ...notes, "");
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
