// Imported ONNX models: cnnc (the .onnx file imported, compiled to WebAssembly, one thread)
// against onnxruntime-web (its WebAssembly build, one thread, full graph optimisation) on the
// same file, in one run: tests/onnx/fixtures' torchvision-style models (small ResNet,
// MobileNet v2 and v3-small, SqueezeNet). Timed as the main comparison times (bench/passes.ts):
// a warm-up, then passes in which the two take turns (the order rotating), each filling about
// 250 ms per pass; the table gives the median of all runs, the spread of the per-pass medians
// (lowest-highest), the ratio of the medians and its spread over the passes (each pass's
// cnnc / onnxruntime-web, both measured at the same moment), and agreement.
//
//   npm run bench -- --onnx [--quick] [--passes N]

import { readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compile, formatDiagnostics } from "../compiler/index.js";
import { median, PASSES, rotatingPasses } from "./passes.js";
import { loadOrt, sessionOptions } from "./peers/ort.js";
import { repoDir } from "./peers/resolve.js";
import { brief } from "./peers/runner.js";

const MODELS: Readonly<Record<string, readonly number[]>> = {
  "resnet_small.onnx": [1, 3, 32, 32],
  "mobilenet_v2.onnx": [1, 3, 32, 32],
  "mobilenet_v3_small.onnx": [1, 3, 32, 32],
  "squeezenet_small.onnx": [1, 3, 47, 47],
};

const fmt = (x: number): string => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
const range = (xs: readonly number[]): string => `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;

export async function main(argv: readonly string[]): Promise<number> {
  const i = argv.indexOf("--passes");
  const base = PASSES[argv.includes("--quick") ? "quick" : "full"];
  const passes = i >= 0 ? Number(argv[i + 1]) : base.passes;
  if (!Number.isInteger(passes) || passes < 1) {
    process.stderr.write("--passes needs a whole number of passes, 1 or more\n");
    return 1;
  }
  const settings = { ...base, passes };
  const ort = loadOrt("web", false);
  const rows: string[][] = [["model", "cnnc wasm ms", "(pass medians)", "ort-web ms", "(pass medians)", "cnnc / ort", "(per pass)", "runs", "max rel diff"]];
  for (const [file, shape] of Object.entries(MODELS)) {
    const bytes = new Uint8Array(readFileSync(path.join(repoDir(), "tests/onnx/fixtures", file)));
    const r = compile(bytes, { format: "onnx", fileName: file, target: "wasm" });
    if (!r.ok) {
      process.stderr.write(`${formatDiagnostics(r.diagnostics)}\n`);
      return 1;
    }
    const net = await r.load({ backend: "wasm", threads: 1 });
    const session = await ort.InferenceSession.create(bytes, sessionOptions("web"));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, k) => Math.sin(k * 0.37));
    const inName = r.graph.inputs[0].name;
    const outName = r.graph.outputs[0].name;
    const runCnnc = async () => (await net.run({ [inName]: { data, shape: [...shape] } }))[outName].data;
    const runOrt = async () => (await session.run({ input: new ort.Tensor("float32", data, shape) })).output.data as Float32Array;
    const a = await runCnnc();
    const b = await runOrt();
    let diff = 0;
    let scale = 0;
    b.forEach((v, k) => {
      diff = Math.max(diff, Math.abs(v - a[k]));
      scale = Math.max(scale, Math.abs(v));
    });
    let failed = false;
    const t = await rotatingPasses(new Map<string, () => Promise<unknown>>([["cnnc", runCnnc], ["ort", runOrt]]), settings, (who, e) => {
      process.stderr.write(`${file}: ${who} failed: ${brief(e, 400)}\n`);
      failed = true;
    });
    net.dispose();
    await session.release();
    const tc = t.get("cnnc");
    const to = t.get("ort");
    if (failed || !tc || !to) return 1;
    const [mc, mo] = [median(tc.samples), median(to.samples)];
    const ratios = tc.passMedians.map((c, k) => c / to.passMedians[k]);
    rows.push([
      file.replace(/\.onnx$/, ""), fmt(mc), range(tc.passMedians), fmt(mo), range(to.passMedians),
      (mc / mo).toFixed(2), `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
      `${tc.samples.length}/${to.samples.length}`, (diff / Math.max(1e-6, scale)).toExponential(1),
    ]);
    process.stderr.write(`${file}: cnnc ${fmt(mc)} ms, ort-web ${fmt(mo)} ms\n`);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) process.stdout.write(`${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ")}\n`);
  const [l1, l5, l15] = os.loadavg();
  process.stdout.write(
    `(batch 1, one thread each; after a warm-up of at least ${settings.warmRuns} runs and ${settings.warmMs} ms, ${settings.passes} passes in which the two take turns, each filling ~${settings.passMs} ms; ms = median of all runs, pass medians = lowest-highest of the per-pass medians, per pass = lowest-highest of each pass's ratio; runs = cnnc/ort; load average ${l1.toFixed(2)} ${l5.toFixed(2)} ${l15.toFixed(2)})\n`,
  );
  return 0;
}
