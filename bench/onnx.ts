// Imported ONNX models: cnnc (the .onnx file imported, compiled to WebAssembly, one thread)
// against onnxruntime-web (its WebAssembly build, one thread, full graph optimisation) on the
// same file, in one run: tests/onnx/fixtures' torchvision-style models (small ResNet,
// MobileNet v2 and v3-small, SqueezeNet). Runs alternate after a warm-up so that a noisy
// neighbour hits both alike; the table gives medians and agreement (max relative difference).
//
//   npm run bench -- --onnx [--runs N]

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { compile, formatDiagnostics } from "../compiler/index.js";
import { loadOrt, sessionOptions } from "./peers/ort.js";
import { repoDir } from "./peers/resolve.js";

const MODELS: Readonly<Record<string, readonly number[]>> = {
  "resnet_small.onnx": [1, 3, 32, 32],
  "mobilenet_v2.onnx": [1, 3, 32, 32],
  "mobilenet_v3_small.onnx": [1, 3, 32, 32],
  "squeezenet_small.onnx": [1, 3, 47, 47],
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function main(argv: readonly string[]): Promise<number> {
  const i = argv.indexOf("--runs");
  const runs = i >= 0 ? Number(argv[i + 1]) : 20;
  const ort = loadOrt("web", false);
  const rows: string[][] = [["model", "cnnc wasm (ms)", "onnxruntime-web (ms)", "ratio", "max rel diff"]];
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
    const tc: number[] = [];
    const to: number[] = [];
    for (let k = 0; k < runs; k++) {
      let t = performance.now();
      await runCnnc();
      tc.push(performance.now() - t);
      t = performance.now();
      await runOrt();
      to.push(performance.now() - t);
    }
    net.dispose();
    await session.release();
    const [mc, mo] = [median(tc), median(to)];
    rows.push([file.replace(/\.onnx$/, ""), mc.toFixed(2), mo.toFixed(2), (mc / mo).toFixed(2), (diff / Math.max(1e-6, scale)).toExponential(1)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) process.stdout.write(`${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ")}\n`);
  process.stdout.write(`(${runs} alternating runs after one warm-up, medians; batch 1, one thread each)\n`);
  return 0;
}
