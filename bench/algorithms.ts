// `npm run bench -- --algorithms`: what each convolution algorithm costs on the WebAssembly
// backend (one thread, Node), on layers where the choice matters: a 15x15 kernel (FFT's
// case), a depthwise 9x9 Gaussian blur (separable's case), a 3x3 64->64 layer (Winograd's
// and GEMM's case) and 1x1 layers (direct_simd's pointwise micro-kernel against GEMM). Each applicable algorithm is forced with `algorithms: { layer: name }`,
// the one-layer network is compiled, instantiated and run repeatedly; the table gives the
// median time, GFLOP/s counted as direct convolution's FLOPs (2 per multiply-add, so that
// the rates compare work done, not work saved), the speed-up over direct, and which
// algorithm the cost model picked (and what `--autotune` picks, with `--autotune`). Modules
// are compiled with V8's optimising compiler from the start (--no-liftoff), so that every
// run measures steady-state code.
//
//   npm run bench -- --algorithms [--runs N] [--autotune] [--only NAME,...]
//   npm run bench -- --algorithms --calibrate [--only-1d] [--save FILE | --load FILE,FILE...]   (refits the cost model; --only-1d: the 1-D layers alone)
//
// --calibrate times every applicable algorithm on ~40 layers (1-D to 3-D, 1 to 128 channels,
// kernels 1 to 31, groups, strides, separable kernels), then fits, per algorithm, the
// coefficients of backends/wasm/cost.ts's costFeatures by least squares on relative error
// (non-negative: a feature whose coefficient comes out negative is dropped and the rest
// refitted) and prints them for WASM_COSTS, with each layer's measured and predicted time.

import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import v8 from "node:v8";
import { ALGORITHMS, applicable, convShape } from "../compiler/algorithms/applicability.js";
import { costFeatures, estimateMs, WASM_COSTS } from "../compiler/backends/wasm/cost.js";
import { WASM } from "../compiler/backends/wasm/target.js";
import { compile, type CompileSuccess } from "../compiler/index.js";
import type { AlgorithmName, Node } from "../compiler/ir/graph.js";
import * as D from "../compiler/ir/dim.js";
import { hasRelaxedSimd } from "../runtime/wasm.js";

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
  {
    name: "mobilenet_dw",
    description: "32x112x112, depthwise 3x3 same + relu",
    layer: "c",
    source: `network mobilenet_dw(x: f32[32, 112, 112]) -> y {\n  y = x |> c: depthwise(3x3, pad: same) |> relu\n}\n`,
  },
  {
    name: "mobilenet_pw",
    description: "32x112x112, pointwise 64 + relu",
    layer: "c",
    source: `network mobilenet_pw(x: f32[32, 112, 112]) -> y {\n  y = x |> c: conv(64, 1x1) |> relu\n}\n`,
  },
  {
    name: "volume3d",
    description: "1x32x64x64, conv3d 8@3x3x3 same + relu",
    layer: "c",
    source: `network volume3d(x: f32[1, 32, 64, 64]) -> y {\n  y = x |> c: conv(8, 3x3x3, pad: same) |> relu\n}\n`,
  },
  {
    name: "conv_stride2",
    description: "3x224x224, 32 filters 3x3 stride 2 same + relu",
    layer: "c",
    source: `network conv_stride2(x: f32[3, 224, 224]) -> y {\n  y = x |> c: conv(32, 3x3, stride: 2, pad: same) |> relu\n}\n`,
  },
  {
    name: "audio_conv1",
    description: "1x16000, conv1d 16@9 stride 2 + relu",
    layer: "c",
    source: `network audio_conv1(x: f32[1, 16000]) -> y {\n  y = x |> c: conv(16, 9, stride: 2) |> relu\n}\n`,
  },
  {
    name: "audio_conv2",
    description: "16x7996, conv1d 32@9 stride 2 + relu",
    layer: "c",
    source: `network audio_conv2(x: f32[16, 7996]) -> y {\n  y = x |> c: conv(32, 9, stride: 2) |> relu\n}\n`,
  },
  {
    name: "vgg_conv1",
    description: "3x224x224, 64 filters 3x3 same + relu",
    layer: "c",
    source: `network vgg_conv1(x: f32[3, 224, 224]) -> y {\n  y = x |> c: conv(64, 3x3, pad: same) |> relu\n}\n`,
  },
  {
    name: "expand_1x1",
    description: "64x56x56, pointwise 256 (a ResNet bottleneck's expansion)",
    layer: "c",
    source: `network expand_1x1(x: f32[64, 56, 56]) -> y {\n  y = x |> c: conv(256, 1x1)\n}\n`,
  },
  {
    name: "project_1x1",
    description: "144x28x28, pointwise 24 (a MobileNet v2 projection, odd filter blocks)",
    layer: "c",
    source: `network project_1x1(x: f32[144, 28, 28]) -> y {\n  y = x |> c: conv(24, 1x1)\n}\n`,
  },
];

const math = { exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log };

/** A compiled one-layer network, instantiated, with its weights in place and a seeded input. */
function instantiate(r: CompileSuccess): () => void {
  // What the runtime would run here: the relaxed-SIMD build where this engine has relaxed SIMD.
  const wasm = r.artifacts.wasmRelaxed && hasRelaxedSimd() ? r.artifacts.wasmRelaxed : r.artifacts.wasm;
  const manifest = r.artifacts.manifest.wasm;
  if (!wasm || !manifest) throw new Error("no WebAssembly artifact");
  // The module imports its memory (compiler/backends/wasm/module.ts).
  const memory = new WebAssembly.Memory({ initial: manifest.memoryPages, maximum: 2 ** 15 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(wasm)), { env: { ...math, memory } });
  const bytes = D.evalDim(manifest.memoryBytes, {});
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  new Float32Array(memory.buffer, manifest.weightsOffset, r.plan.weightData.length).set(r.plan.weightData);
  if (manifest.tables && r.artifacts.tables) new Uint8Array(memory.buffer).set(r.artifacts.tables, manifest.tables.offset);
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

/**
 * Times the functions round-robin (one run of each in turn, after a warm-up run each), so
 * that a noisy neighbour or a frequency change hits all of them alike; at least `runs` runs
 * each and about `budgetMs` in all. Returns each function's times, sorted.
 */
export function timeRoundRobin(fns: readonly (() => void)[], runs: number, budgetMs = 1500): number[][] {
  for (const f of fns) f();
  const times = fns.map(() => [] as number[]);
  const start = performance.now();
  for (let r = 0; r < 200 && (r < runs || performance.now() - start < budgetMs); r++) {
    fns.forEach((f, i) => {
      const t = performance.now();
      f();
      times[i].push(performance.now() - t);
    });
  }
  return times.map((t) => t.sort((a, b) => a - b));
}

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

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
  const names = ALGORITHMS.filter((name) => WASM.algorithms.has(name) && applicable(name, node, base.graph) === undefined);
  const runners = names.map((name) => {
    const r = compile(c.source, { fileName: `${c.name}.cnn`, algorithms: { [c.layer]: name } });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    return instantiate(r);
  });
  const times = timeRoundRobin(runners, runs);
  const rows: Row[] = names.map((algorithm, i) => {
    const ms = quantile(times[i], 0.5);
    return { algorithm, ms, gflops: flops / ms / 1e6 };
  });
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

/** One layer as a one-layer network: input [C, ...size], `conv(O, k...)` with options. */
function layerSource(c: number, size: readonly number[], body: string): string {
  return `network n(x: f32[${c}, ${size.join(", ")}]) -> y {\n  y = x |> c: ${body}\n}\n`;
}

/** The calibration layers: [C, size, layer] (kernels written k x k ...). */
function calibrationLayers(only1d = false): { name: string; source: string }[] {
  const L: [number, number[], string][] = [];
  const conv2 = (c: number, o: number, k: number, n: number, extra = "") => L.push([c, [n, n], `conv(${o}, ${k}x${k}, pad: same${extra})`]);
  // 3x3 (Winograd's and GEMM's ground), 1x1, 5x5, 7x7.
  for (const [c, o, n] of [[3, 16, 64], [16, 16, 32], [16, 32, 64], [32, 32, 32], [64, 64, 28], [64, 64, 56], [128, 128, 14], [8, 8, 128], [1, 4, 96], [256, 256, 7], [4, 64, 48]]) conv2(c, o, 3, n);
  for (const [c, o, n] of [[64, 64, 28], [32, 128, 56], [3, 8, 64]]) conv2(c, o, 1, n);
  for (const [c, o, n] of [[3, 16, 64], [16, 16, 32], [1, 8, 128], [32, 32, 16]]) conv2(c, o, 5, n);
  conv2(3, 16, 7, 96, ", stride: 2");
  conv2(32, 64, 3, 56, ", stride: 2");
  conv2(16, 16, 3, 64, ", dilation: 2");
  L.push([32, [56, 56], "depthwise(3x3, pad: same)"]);
  L.push([64, [28, 28], "conv(64, 3x3, pad: same, groups: 4)"]);
  // Large kernels (FFT's ground).
  for (const [c, o, k, n] of [[1, 8, 15, 128], [1, 8, 15, 256], [3, 8, 11, 128], [1, 4, 31, 128], [4, 4, 9, 64], [8, 8, 21, 64], [16, 16, 7, 64], [2, 2, 25, 200]]) conv2(c, o, k, n);
  L.push([8, [32, 32], "depthwise(13x13, pad: same)"]);
  // 1-D and 3-D.
  L.push([1, [8192], "conv(8, 31, pad: same)"]);
  L.push([16, [4096], "conv(16, 3, pad: same)"]);
  L.push([4, [2048], "conv(8, 65, pad: same)"]);
  // 1-D layers winograd1d applies to: strides 1 to 4, 3 to 10 taps (one and two chunks per phase), 1 to 64 channels.
  L.push([16, [7996], "conv(32, 9, stride: 2)"]);
  L.push([1, [16000], "conv(16, 9, stride: 2)"]);
  L.push([32, [4096], "conv(32, 5, pad: same)"]);
  L.push([64, [2048], "conv(64, 3, pad: same)"]);
  L.push([8, [8192], "conv(16, 3, stride: 2)"]);
  L.push([16, [4096], "conv(32, 9, pad: same)"]);
  L.push([24, [6000], "conv(24, 9, stride: 3)"]);
  L.push([4, [8000], "conv(12, 10, stride: 4)"]);
  L.push([64, [1024], "conv(128, 7, stride: 2, pad: same)"]);
  L.push([2, [16, 16, 16], "conv(4, 3x3x3, pad: same)"]);
  L.push([4, [24, 24, 24], "conv(4, 7x7x7, pad: same)"]);
  // Separable kernels.
  L.push([3, [256, 256], "depthwise(9x9, pad: same, weight: gaussian(sigma: 2), bias: none)"]);
  L.push([1, [256, 256], "conv(1, 15x15, pad: same, weight: gaussian(sigma: 3))"]);
  L.push([4, [128, 128], "conv(4, 5x5, pad: same, weight: gaussian(sigma: 1))"]);
  L.push([1, [512, 512], "conv(1, 3x3, pad: same, weight: sobel_x)"]);
  L.push([2, [24, 24, 24], "depthwise(5x5x5, pad: same, weight: gaussian(sigma: 1))"]);
  // --only-1d: the 1-D layers alone. (Their 65-tap layer's FFT once took minutes to compile,
  // with 768-point tiles; 1-D tiles now stop at 512 points, algorithms/fft.ts.)
  const keep = ([, size]: [number, number[], string]) => !only1d || size.length === 1;
  return L.filter(keep).map(([c, size, body], i) => ({ name: `L${i}: ${c}x${size.join("x")} |> ${body}`, source: layerSource(c, size, body) }));
}

/** Least squares on relative error with non-negative coefficients (drop the most negative, refit). */
function fit(rows: { f: number[]; ms: number }[]): number[] {
  const k = rows[0].f.length;
  const active = new Set(Array.from({ length: k }, (_, i) => i));
  for (;;) {
    const idx = [...active];
    // Normal equations of min sum ((f.c - t) / t)^2, in ns.
    const A = idx.map(() => new Array<number>(idx.length).fill(0));
    const b = new Array<number>(idx.length).fill(0);
    for (const r of rows) {
      const t = r.ms * 1e6;
      idx.forEach((i, a) => {
        b[a] += r.f[i] / t;
        idx.forEach((j, bb) => (A[a][bb] += (r.f[i] * r.f[j]) / (t * t)));
      });
    }
    const c = solve(A, b);
    const coef = new Array<number>(k).fill(0);
    idx.forEach((i, a) => (coef[i] = c[a]));
    const worst = idx.reduce((w, i) => (coef[i] < (w < 0 ? 0 : coef[w]) ? i : w), -1);
    if (worst < 0) return coef;
    active.delete(worst);
  }
}

function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let i = 0; i < n; i++) {
    let p = i;
    for (let r = i + 1; r < n; r++) if (Math.abs(M[r][i]) > Math.abs(M[p][i])) p = r;
    [M[i], M[p]] = [M[p], M[i]];
    if (Math.abs(M[i][i]) < 1e-300) continue;
    for (let r = 0; r < n; r++) {
      if (r === i) continue;
      const f = M[r][i] / M[i][i];
      for (let c = i; c <= n; c++) M[r][c] -= f * M[i][c];
    }
  }
  return M.map((row, i) => (Math.abs(row[i]) < 1e-300 ? 0 : row[n] / row[i]));
}

interface Sample {
  readonly layer: string;
  readonly source: string;
  readonly algorithm: AlgorithmName;
  readonly ms: number;
}

/** Times every applicable algorithm on every calibration layer (the lower quartile of its runs). */
function measure(runs: number, only1d: boolean): Sample[] {
  const out: Sample[] = [];
  for (const l of calibrationLayers(only1d)) {
    const base = compile(l.source, { fileName: "calibrate.cnn" });
    if (!base.ok) throw new Error(`${l.name}: ${base.diagnostics.map((d) => d.message).join("\n")}`);
    const node = layerNode(base, "c");
    const line: string[] = [];
    const names = ALGORITHMS.filter((name) => WASM.algorithms.has(name) && applicable(name, node, base.graph) === undefined);
    const runners = names.map((name) => {
      const r = compile(l.source, { fileName: "calibrate.cnn", algorithms: { c: name } });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
      return instantiate(r);
    });
    // The lower quartile: background load only ever adds time.
    const times = timeRoundRobin(runners, runs, 1000);
    names.forEach((name, i) => {
      const ms = quantile(times[i], 0.25);
      out.push({ layer: l.name, source: l.source, algorithm: name, ms });
      line.push(`${name} ${ms.toFixed(3)}`);
    });
    process.stderr.write(`${l.name}: ${line.join(", ")}\n`);
  }
  return out;
}

/** Measures (or reads `--load FILE`'s samples, `--save FILE` writes them), fits and prints. */
function calibrate(runs: number, load: string | undefined, save: string | undefined, only1d: boolean): number {
  const measured: Sample[] = load ? load.split(",").flatMap((f) => JSON.parse(readFileSync(f, "utf8")) as Sample[]) : measure(runs, only1d);
  if (save) writeFileSync(save, JSON.stringify(measured, null, 1));
  const samples = new Map<AlgorithmName, { layer: string; f: number[]; ms: number; predicted: number }[]>();
  const shapes = new Map<string, ReturnType<typeof convShape>>();
  for (const m of measured) {
    let s = shapes.get(m.source);
    if (!s) {
      const base = compile(m.source, { fileName: "calibrate.cnn" });
      if (!base.ok) throw new Error(base.diagnostics.map((d) => d.message).join("\n"));
      s = convShape(layerNode(base, "c"), base.graph);
      shapes.set(m.source, s);
    }
    const list = samples.get(m.algorithm) ?? [];
    list.push({ layer: m.layer, f: costFeatures(m.algorithm, s), ms: m.ms, predicted: estimateMs(m.algorithm, s) });
    samples.set(m.algorithm, list);
  }
  const out: string[] = ["## Cost model calibration (WebAssembly, this machine)", ""];
  const fitted: Record<string, number[]> = {};
  for (const [name, rows] of samples) {
    const coef = fit(rows);
    fitted[name] = coef;
    const rel = (p: number, m: number) => `${(((p - m) / m) * 100).toFixed(0)}%`;
    out.push(`### ${name}: ${rows.length} layers`, "", "| layer | measured ms | fitted ms | error | current model ms |", "|---|---:|---:|---:|---:|");
    for (const r of rows) {
      const p = r.f.reduce((t, v, i) => t + v * coef[i], 0) / 1e6;
      out.push(`| ${r.layer} | ${r.ms.toFixed(3)} | ${p.toFixed(3)} | ${rel(p, r.ms)} | ${r.predicted.toFixed(3)} |`);
    }
    out.push("");
  }
  out.push("WASM_COSTS (ns per feature unit):", "```", ...Object.entries(fitted).map(([k, c]) => `  ${k}: [${c.map((v) => Number(v.toPrecision(3))).join(", ")}],`), "```");
  out.push("", `(current: ${JSON.stringify(WASM_COSTS)})`);
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}

export function main(argv: readonly string[]): number {
  // Steady-state code from the first run: V8 otherwise starts every function in its baseline
  // compiler (Liftoff) and tiers up only after many runs of a long kernel.
  v8.setFlagsFromString("--no-liftoff");
  const runs = Number(option(argv, "--runs") ?? 7);
  if (argv.includes("--calibrate")) return calibrate(Number(option(argv, "--runs") ?? 5), option(argv, "--load"), option(argv, "--save"), argv.includes("--only-1d"));
  const only = option(argv, "--only")?.split(",");
  const autotune = argv.includes("--autotune");
  const out: string[] = [];
  out.push("## Convolution algorithms on WebAssembly (one thread)\n");
  out.push(`Median of at least ${runs} runs per algorithm, the algorithms of a network run in turn. GFLOP/s counts direct convolution's FLOPs (2 per multiply-add) for every algorithm.\n`);
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
