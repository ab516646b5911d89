// `npm run bench` (the default part): cnnc against TensorFlow.js (wasm, XNNPACK), ONNX Runtime
// Web (wasm) and ONNX Runtime Node (native) on the networks of bench/networks.ts. For each
// network every runtime gets the same seeded weights and input; the outputs are checked
// against ONNX Runtime Node (max |diff| / max |ref| <= 1e-3) before anything is timed. Then,
// after a warm-up (V8 tiers WebAssembly up on later calls), the runtimes take turns over
// several passes (the machine is noisy: alternating spreads the noise over all of them) and
// the median time per inference is reported, with the ratio to the faster WebAssembly peer,
// GFLOP/s (2 x multiply-adds of the layers as written / time) and that as a fraction of the
// SIMD peak the bench measures itself (bench/peak.ts). After the table: cnnc's LeNet bundle
// size, cold start against the peers and compile times (bench/startup.ts).
// Progress goes to stderr; the markdown report is the only thing on stdout.
// Flags: --quick (fewer, shorter passes: a smoke run), --only NAME[,NAME..], --no-extras,
// --pools (the pool cases of networks.ts's POOL_NETWORKS after the networks; with --only,
// name them there). A pool row has no multiply-adds: its GFLOP/s cell gives the bytes moved
// (input read once + output written) per second instead, which is what bounds a pool.

import { readFileSync } from "node:fs";
import * as os from "node:os";
import { macs, NETWORKS, outputShape, POOL_NETWORKS, type NetworkSpec, input as makeInput, weights as makeWeights } from "./networks.js";
import { PASSES, type PassSettings, rotatingPasses } from "./passes.js";
import { higher, measurePeaks, type Peaks } from "./peak.js";
import { cnncRunner } from "./peers/cnnc.js";
import { ORT_PACKAGE, ortRunner } from "./peers/ort.js";
import { peerVersion } from "./peers/resolve.js";
import { brief, type Prepared, type Runner } from "./peers/runner.js";
import { tfjsRunner } from "./peers/tfjs.js";
import {
  type BundleSize,
  bundleSize,
  type ColdStart,
  coldStarts,
  type CompileTime,
  compileTimes,
  importCompilerMs,
  makeScratch,
  median,
  removeScratch,
  type Scratch,
  writeLenetBundle,
} from "./startup.js";

export const RUNNERS = ["cnnc", "cnnc-simd128", "tfjs-wasm", "ort-web", "ort-node"] as const;
type RunnerName = (typeof RUNNERS)[number];
const WEB_PEERS: readonly RunnerName[] = ["tfjs-wasm", "ort-web"];
/** The output every other runtime is checked against (the first one available). */
const REFERENCE_ORDER: readonly RunnerName[] = ["ort-node", "ort-web", "tfjs-wasm"];
export const TOLERANCE = 1e-3;

export interface CompareOptions {
  readonly quick: boolean;
  readonly only?: readonly string[];
  readonly extras: boolean;
  readonly pools: boolean;
}

interface Settings extends PassSettings {
  readonly coldRuns: number;
  readonly compileWarm: number;
}

const SETTINGS: Readonly<Record<"quick" | "full", Settings>> = {
  quick: { ...PASSES.quick, coldRuns: 2, compileWarm: 2 },
  full: { ...PASSES.full, coldRuns: 7, compileWarm: 5 },
};

export function usage(): string {
  return `usage: npm run bench -- [--quick] [--only NAME[,NAME..]] [--no-extras] [--pools]
  networks: ${NETWORKS.map((n) => n.name).join(", ")}
  pools (with --pools): ${POOL_NETWORKS.map((n) => n.name).join(", ")}
  (the kernel benchmarks of the other part run with --algorithms / --fusion)`;
}

/** Parses the flags; a string is a usage error. */
export function parseCompareArgs(argv: readonly string[]): CompareOptions | string {
  let quick = false;
  let extras = true;
  let pools = false;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") quick = true;
    else if (a === "--no-extras") extras = false;
    else if (a === "--pools") pools = true;
    else if (a === "--only" || a.startsWith("--only=")) {
      const v = a === "--only" ? argv[++i] : a.slice("--only=".length);
      if (!v) return "--only needs a network name";
      only.push(...v.split(",").filter((s) => s.length > 0));
    } else return `unknown argument '${a}'`;
  }
  const known = pools ? [...NETWORKS, ...POOL_NETWORKS] : NETWORKS;
  for (const n of only) if (!known.some((s) => s.name === n)) return `unknown network '${n}'${POOL_NETWORKS.some((s) => s.name === n) ? " (a pool case: add --pools)" : ""}`;
  return { quick, extras, pools, only: only.length ? only : undefined };
}

interface Cell {
  ms?: number;
  /** Samples behind the median. */
  samples: number;
  error?: string;
}

interface Agreement {
  readonly runner: RunnerName;
  readonly reference: RunnerName;
  readonly relErr: number;
}

interface NetworkResult {
  readonly spec: NetworkSpec;
  readonly macs: number;
  readonly cells: Map<RunnerName, Cell>;
  readonly agreement: Agreement[];
  readonly mismatches: string[];
  /** cnnc's algorithm per convolution. */
  readonly cnncNote?: string;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** max |got - want| / max |want| (1e-12 floor). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    diff = d > diff || Number.isNaN(d) ? d : diff;
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

async function benchNetwork(
  spec: NetworkSpec,
  runners: ReadonlyMap<RunnerName, Runner>,
  missing: ReadonlyMap<RunnerName, string>,
  s: Settings,
): Promise<NetworkResult> {
  const cells = new Map<RunnerName, Cell>();
  const prepared = new Map<RunnerName, Prepared>();
  const w = makeWeights(spec);
  const x = makeInput(spec);
  const total = macs(spec);
  for (const name of RUNNERS) {
    const runner = runners.get(name);
    if (!runner) {
      cells.set(name, { samples: 0, error: `not available: ${missing.get(name) ?? "?"}` });
      continue;
    }
    try {
      const t = performance.now();
      prepared.set(name, await runner.prepare(spec, w, x));
      log(`  ${name}: prepared in ${(performance.now() - t).toFixed(0)} ms`);
      cells.set(name, { samples: 0 });
    } catch (e) {
      log(`  ${name}: cannot prepare: ${brief(e, 400)}`);
      cells.set(name, { samples: 0, error: brief(e) });
    }
  }

  const cnncNote = prepared.get("cnnc")?.note;

  // Agreement, before timing: every output against the reference's.
  const outputs = new Map<RunnerName, Float32Array>();
  for (const [name, p] of prepared) {
    try {
      outputs.set(name, await p.output());
    } catch (e) {
      log(`  ${name}: cannot run: ${brief(e, 400)}`);
      cells.set(name, { samples: 0, error: brief(e) });
      prepared.delete(name);
    }
  }
  const agreement: Agreement[] = [];
  const mismatches: string[] = [];
  const reference = REFERENCE_ORDER.find((n) => outputs.has(n));
  const ref = reference ? outputs.get(reference) : undefined;
  if (reference && ref) {
    for (const [name, out] of outputs) {
      if (name === reference) continue;
      if (out.length !== ref.length) {
        mismatches.push(`${name} gives ${out.length} values, ${reference} ${ref.length}`);
        continue;
      }
      const relErr = relativeError(out, ref);
      agreement.push({ runner: name, reference, relErr });
      if (!(relErr <= TOLERANCE)) mismatches.push(`${name} differs from ${reference}: max abs diff / max abs ${reference} = ${relErr.toExponential(1)} > ${TOLERANCE}`);
    }
  } else mismatches.push("no peer output to check against");
  for (const m of mismatches) log(`  WARNING ${spec.name}: ${m}`);

  // Warm-up, then passes with the runners taking turns (bench/passes.ts).
  const timings = await rotatingPasses(new Map([...prepared].map(([name, p]) => [name, () => p.run()])), s, (name, e) => {
    cells.set(name, { samples: 0, error: brief(e) });
    prepared.delete(name);
  });
  for (const [name, t] of timings) {
    if (!prepared.has(name)) continue;
    cells.set(name, { ms: median(t.samples), samples: t.samples.length });
  }
  for (const [name, p] of prepared) {
    try {
      await p.dispose();
    } catch (e) {
      log(`  ${name}: dispose failed: ${brief(e)}`);
    }
  }
  const line = RUNNERS.map((n) => `${n} ${fmtMs(cells.get(n)?.ms)}`).join(", ");
  log(`  ${line}`);
  return { spec, macs: total, cells, agreement, mismatches, cnncNote };
}

// ---------------------------------------------------------------- formatting

function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, digits - 1 - mag);
  return x.toFixed(Math.min(decimals, 6));
}

/** Text for inside a markdown table cell: no pipes, no line breaks. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? "-" : sig(ms);
}

class Footnotes {
  private readonly notes: string[] = [];
  mark(text: string): string {
    let i = this.notes.indexOf(text);
    if (i < 0) {
      this.notes.push(text);
      i = this.notes.length - 1;
    }
    return `[${i + 1}]`;
  }
  lines(): string[] {
    return this.notes.map((n, i) => `[${i + 1}] ${n}`);
  }
}

function cellText(c: Cell | undefined, notes: Footnotes): string {
  if (!c) return "-";
  if (c.error !== undefined) return `fail ${notes.mark(c.error)}`;
  return fmtMs(c.ms);
}

function fasterWebPeer(r: NetworkResult): { name: RunnerName; ms: number } | undefined {
  let best: { name: RunnerName; ms: number } | undefined;
  for (const n of WEB_PEERS) {
    const ms = r.cells.get(n)?.ms;
    if (ms !== undefined && (!best || ms < best.ms)) best = { name: n, ms };
  }
  return best;
}

function mainTable(results: readonly NetworkResult[], peaks: Peaks, notes: Footnotes): string[] {
  const lines = [
    "| network | cnnc ms | cnnc SIMD128-only ms | tfjs-wasm ms | ort-web ms | ort-node ms | cnnc / faster web peer | cnnc SIMD128-only / faster web peer | cnnc GFLOP/s | % of SIMD peak (mul+add / relaxed madd) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    const cnnc = r.cells.get("cnnc")?.ms;
    const peer = fasterWebPeer(r);
    const plain = r.cells.get("cnnc-simd128")?.ms;
    const ratio = cnnc !== undefined && peer ? `${sig(cnnc / peer.ms)}x (${peer.name})` : "-";
    const plainRatio = plain !== undefined && peer ? `${sig(plain / peer.ms)}x` : "-";
    const gflops = cnnc !== undefined && r.macs > 0 ? (2 * r.macs) / (cnnc * 1e6) : undefined;
    const fma = "gflops" in peaks.madd ? ` / ${sig((100 * (gflops ?? 0)) / peaks.madd.gflops, 2)}%` : "";
    const pct = gflops !== undefined ? `${sig((100 * gflops) / peaks.mulAdd.gflops, 2)}%${fma}` : "-";
    const rate = gflops !== undefined ? sig(gflops) : cnnc !== undefined ? `${sig(bytesMoved(r.spec) / (cnnc * 1e6))} GB/s` : "-";
    lines.push(`| ${r.spec.name} | ${RUNNERS.map((n) => cellText(r.cells.get(n), notes)).join(" | ")} | ${ratio} | ${plainRatio} | ${rate} | ${pct} |`);
    for (const m of r.mismatches) lines.push(`| ⚠ ${r.spec.name} | outputs disagree: ${escapeCell(m)} | | | | | | | | |`);
  }
  return lines;
}

/** Bytes a layer without multiply-adds must move at least: its input read once, its output written once. */
function bytesMoved(spec: NetworkSpec): number {
  const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  return 4 * (count(spec.input.shape) + count(outputShape(spec)));
}

function ratioTable(results: readonly NetworkResult[]): string[] {
  const lines = [
    "| network | MMAC | cnnc / tfjs-wasm | cnnc / ort-web | cnnc / ort-node | GFLOP/s tfjs-wasm / ort-web / ort-node | max rel. error vs reference (cnnc / tfjs-wasm / ort-web) | cnnc's algorithm per conv |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of results) {
    const cnnc = r.cells.get("cnnc")?.ms;
    const ratio = (n: RunnerName): string => {
      const ms = r.cells.get(n)?.ms;
      return cnnc !== undefined && ms !== undefined ? `${sig(cnnc / ms)}x` : "-";
    };
    const gf = (n: RunnerName): string => {
      const ms = r.cells.get(n)?.ms;
      if (ms === undefined) return "-";
      return r.macs > 0 ? sig((2 * r.macs) / (ms * 1e6)) : `${sig(bytesMoved(r.spec) / (ms * 1e6))} GB/s`;
    };
    const err = (n: RunnerName): string => {
      const a = r.agreement.find((x) => x.runner === n);
      if (a) return a.relErr.toExponential(1);
      return REFERENCE_ORDER.find((x) => r.cells.get(x)?.error === undefined) === n ? "ref" : "-";
    };
    lines.push(
      `| ${r.spec.name} | ${sig(r.macs / 1e6)} | ${ratio("tfjs-wasm")} | ${ratio("ort-web")} | ${ratio("ort-node")} | ${(["tfjs-wasm", "ort-web", "ort-node"] as const).map(gf).join(" / ")} | ${(["cnnc", "tfjs-wasm", "ort-web"] as const).map(err).join(" / ")} | ${escapeCell(r.cnncNote ?? "-")} |`,
    );
  }
  return lines;
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

function extrasSection(
  size: BundleSize | string | undefined,
  cold: readonly ColdStart[] | string | undefined,
  compiles: readonly CompileTime[] | undefined,
  importMs: number | string | undefined,
): string[] {
  const lines: string[] = [];
  if (size !== undefined) {
    lines.push("### cnnc LeNet bundle size (JS + wasm, without weights, gzip -9 per file)", "");
    if (typeof size === "string") lines.push(`could not write the bundle: ${size}`);
    else {
      lines.push(
        "| part | files | raw | gzipped |",
        "| --- | ---: | ---: | ---: |",
        `| JavaScript (index.js + runtime/*.js) | ${size.jsFiles} | ${kb(size.jsBytes)} | ${kb(size.jsGzip)} |`,
        `| WebAssembly | 1 | ${kb(size.wasmBytes)} | ${kb(size.wasmGzip)} |`,
        `| **total** | ${size.jsFiles + 1} | ${kb(size.jsBytes + size.wasmBytes)} | **${kb(size.jsGzip + size.wasmGzip)}** |`,
        "",
        `Largest JS files (gzipped): ${size.biggest.map((b) => `${b.file} ${kb(b.gzip)}`).join(", ")}.`,
      );
    }
    lines.push("");
  }
  if (cold !== undefined) {
    lines.push("### Cold start: a fresh `node` process, LeNet, import to first result", "");
    if (typeof cold === "string") lines.push(`not measured: ${cold}`);
    else {
      lines.push("| runtime | import -> first result, ms (median) | whole process, ms (median) | runs |", "| --- | ---: | ---: | ---: |");
      for (const c of cold) {
        lines.push(
          c.importToResultMs === undefined
            ? `| ${c.runner} | fail: ${escapeCell(c.error ?? "?")} | | 0 |`
            : `| ${c.runner} | ${sig(c.importToResultMs)} | ${sig(c.processMs ?? NaN)} | ${c.runs}${c.error ? ` (then failed: ${escapeCell(c.error)})` : ""} |`,
        );
      }
    }
    lines.push("");
  }
  if (compiles !== undefined) {
    lines.push("### cnnc compile time", "");
    lines.push("| network | compile(), first call in the process, ms | compile(), warm median, ms | `cnnc compile` (fresh process, writes the bundle), ms |", "| --- | ---: | ---: | ---: |");
    for (const c of compiles) {
      lines.push(
        c.error !== undefined
          ? `| ${c.network} | fail: ${escapeCell(c.error)} | | |`
          : `| ${c.network} | ${sig(c.firstMs ?? NaN)} | ${sig(c.warmMs ?? NaN)} | ${c.cliMs === undefined ? "-" : sig(c.cliMs)} |`,
      );
    }
    lines.push("");
    if (typeof importMs === "number") lines.push(`A fresh process that only imports the compiler (Node's start, binaryen.js, the parser) takes ${sig(importMs)} ms: the floor under \`cnnc compile\`.`, "");
    else if (importMs !== undefined) lines.push(`Importing the compiler in a fresh process failed: ${importMs}`, "");
  }
  return lines;
}

/** " (AVX-512)" / " (AVX2)" from /proc/cpuinfo on Linux, else nothing. */
function vectorIsa(): string {
  try {
    const flags = readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1]?.split(/\s+/) ?? [];
    if (flags.includes("avx512f")) return " (AVX-512)";
    if (flags.includes("avx2")) return " (AVX2)";
    return "";
  } catch {
    return "";
  }
}

async function startRunners(): Promise<{ runners: Map<RunnerName, Runner>; missing: Map<RunnerName, string> }> {
  const runners = new Map<RunnerName, Runner>();
  const missing = new Map<RunnerName, string>();
  const tries: [RunnerName, () => Promise<Runner> | Runner][] = [
    ["cnnc", () => cnncRunner(true)],
    ["cnnc-simd128", () => cnncRunner(false)],
    ["tfjs-wasm", tfjsRunner],
    ["ort-web", () => ortRunner("web")],
    ["ort-node", () => ortRunner("node")],
  ];
  for (const [name, make] of tries) {
    try {
      runners.set(name, await make());
    } catch (e) {
      missing.set(name, brief(e, 300));
      log(`${name}: not available: ${brief(e, 300)}`);
    }
  }
  return { runners, missing };
}

export async function runCompare(argv: readonly string[]): Promise<number> {
  const parsed = parseCompareArgs(argv);
  if (typeof parsed === "string") {
    process.stderr.write(`${parsed}\n${usage()}\n`);
    return 2;
  }
  const s = SETTINGS[parsed.quick ? "quick" : "full"];
  const all = parsed.pools ? [...NETWORKS, ...POOL_NETWORKS] : NETWORKS;
  const nets = parsed.only ? all.filter((n) => parsed.only?.includes(n.name)) : all;
  const started = new Date();
  const loadBefore = os.loadavg()[0];

  const showPeaks = (p: Peaks): string =>
    `f32x4 mul+add ${p.mulAdd.gflops.toFixed(1)} GFLOP/s; relaxed madd ${"gflops" in p.madd ? `${p.madd.gflops.toFixed(1)} GFLOP/s` : p.madd.error}`;
  log("measuring the SIMD peak ...");
  const peaksBefore = measurePeaks(parsed.quick);
  log(`  ${showPeaks(peaksBefore)}`);

  let scratch: Scratch | undefined;
  let compiles: CompileTime[] | undefined;
  let importMs: number | string | undefined;
  if (parsed.extras) {
    scratch = await makeScratch();
    log("timing compile() ...");
    // Before anything else compiles: the first call is a cold compiler.
    compiles = await compileTimes(["lenet", "resnet_block"], s.compileWarm, scratch);
    try {
      importMs = await importCompilerMs(Math.min(3, s.compileWarm));
    } catch (e) {
      importMs = brief(e);
    }
  }

  const { runners, missing } = await startRunners();
  const results: NetworkResult[] = [];
  for (const spec of nets) {
    log(`${spec.name} (${(macs(spec) / 1e6).toFixed(1)} MMAC) ...`);
    results.push(await benchNetwork(spec, runners, missing, s));
  }

  let size: BundleSize | string | undefined;
  let cold: ColdStart[] | string | undefined;
  if (parsed.extras && scratch) {
    log("bundle size and cold start ...");
    try {
      await writeLenetBundle(scratch);
      size = bundleSize(scratch.bundle);
    } catch (e) {
      size = brief(e, 400);
    }
    const available = new Set<string>(runners.keys());
    if (typeof size === "string") available.delete("cnnc");
    try {
      cold = await coldStarts(scratch, new URL("./", import.meta.url), s.coldRuns, available, log);
    } catch (e) {
      cold = brief(e, 400);
    }
    removeScratch(scratch);
  }

  log("measuring the SIMD peak again ...");
  const peaksAfter = measurePeaks(parsed.quick);
  log(`  ${showPeaks(peaksAfter)}`);
  const peaks = higher(peaksBefore, peaksAfter);

  // ------------------------------------------------------------ the report
  const notes = new Footnotes();
  const cpu = `${os.cpus()[0]?.model?.trim() ?? "unknown CPU"}${vectorIsa()}`;
  const load = `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`;
  const out: string[] = [];
  out.push(`## cnnc benchmark${parsed.quick ? " (--quick: fewer, shorter passes; not for quoting)" : ""}`, "");
  out.push(
    `${started.toISOString()} · Node ${process.version} (V8 ${process.versions.v8}) · ${cpu}, ${os.cpus().length} logical cores · ${os.platform()} ${os.arch()} · ${load}`,
    "",
  );
  out.push(
    `SIMD peak, measured (bench/peak.ts, one thread, the better of a measurement before and after the networks): ` +
      `f32x4.mul + f32x4.add **${sig(peaks.mulAdd.gflops)} GFLOP/s** (${peaks.mulAdd.variant} loop, ${peaks.mulAdd.accumulators} accumulators); ` +
      ("gflops" in peaks.madd
        ? `f32x4.relaxed_madd ${sig(peaks.madd.gflops)} GFLOP/s (${peaks.madd.accumulators} accumulators, relaxed SIMD: ${peaks.relaxed}).`
        : `f32x4.relaxed_madd not measured: ${peaks.madd.error}.`),
    "",
  );
  out.push(...mainTable(results, peaks, notes), "");
  const fn = notes.lines();
  if (fn.length) out.push(...fn.map((l) => `${l}  `), "");
  out.push("Ratios to each peer (cnnc ms / peer ms: above 1, cnnc is slower), the peers' GFLOP/s and the output check:", "");
  out.push(...ratioTable(results), "");
  out.push(...extrasSection(size, cold, compiles, importMs));

  out.push("### Notes", "");
  const detail = (n: RunnerName): string => runners.get(n)?.detail ?? `not available: ${missing.get(n) ?? "?"}`;
  out.push(
    `- Runtimes: cnnc ${detail("cnnc")}; cnnc-simd128 ${detail("cnnc-simd128")}; tfjs-wasm: ${detail("tfjs-wasm")}; ort-web: ${detail("ort-web")}; ort-node: ${detail("ort-node")}. ` +
      `Installed: ${["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-wasm", ORT_PACKAGE.web, ORT_PACKAGE.node].map((p) => `${p} ${peerVersion(p)}`).join(", ")}.`,
    `- Batch 1. Time per inference = the median of all timed runs of ${s.passes} passes, after a warm-up (at least ${s.warmRuns} run${s.warmRuns === 1 ? "" : "s"} and ${s.warmMs} ms per runtime); in each pass the runtimes take turns (the order rotates) and each runs as often as fills ${s.passMs} ms (at least once; counted from its previous pass's median).`,
    "- Timed region: input in -> output out as a Float32Array (cnnc `net.run`, tfjs op graph + `dataSync`, ORT `session.run`). Each runtime gets its native layout: cnnc and ORT NCHW; tfjs NHWC with weights transposed to HWIO when the graph is built and the input transposed before timing; transposes at the edges are not timed.",
    `- Same weights everywhere: cnnc's seeded initialisers (He-normal weights, uniform(-0.1, 0.1) biases; separable_blur: \`gaussian(sigma: 2)\` in the source), given to cnnc as safetensors, to tfjs as tensors and to ORT as ONNX initializers. Outputs are checked against ${REFERENCE_ORDER[0]} before timing (max |diff| / max |ref| <= ${TOLERANCE}; ⚠ rows otherwise).`,
    "- GFLOP/s = 2 x multiply-adds of the layers as written (direct convolution, dense; pooling and activations not counted) / time; an algorithm doing fewer operations (Winograd, FFT, separable) can score above the direct count's share of the peak. % of SIMD peak is against the f32x4 mul+add peak above. A pool case (--pools) has no multiply-adds: its cell gives GB/s, 4 bytes x (input + output elements) / time.",
    "- ort-node is native code (AVX2/AVX-512 where the CPU has them), the reference for what the hardware can do, not a WebAssembly peer; 'faster web peer' is the faster of tfjs-wasm and ort-web.",
    "- Cold start: each runtime in a fresh `node` process on a generated script; 'import -> first result' is measured inside the child from just before the first import of the runtime to LeNet's output (the weights read from disk: the bundle's weights.bin, a safetensors file for tfjs, the .onnx model for ORT); 'whole process' adds Node's own start and exit.",
  );
  out.push("");
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
