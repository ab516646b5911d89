// `npm run bench`: one entry point for the project's benchmarks. By default it runs the
// comparison with the peers (bench/compare.ts: cnnc against TensorFlow.js wasm, ONNX Runtime
// Web and ONNX Runtime Node on the issue-6 networks, one markdown report on stdout).
// `--fusion` runs bench/fusion.ts (what fusion buys) and `--algorithms` bench/algorithms.ts
// (the per-layer algorithm choices); those modules are loaded only when asked for and only
// if they exist, so either part builds and runs without the other.
//
//   npm run bench [-- [--quick] [--only lenet,resnet_block] [--no-extras]]
//   npm run bench -- --fusion [--runs N] [--direct]
//   npm run bench -- --algorithms
//   npm run bench -- --threads [--quick] [--n N]     (bench/threads.ts: 1 vs N threads)
//   npm run bench -- --compile [--runs N] [--levels] (bench/compile.ts: compile time per phase)
//   npm run bench -- --onnx [--quick] [--passes N]   (bench/onnx.ts: imported .onnx models vs onnxruntime-web)
//   npm run bench -- --steps [--only NAME,..]        (bench/steps.ts: time per step, the bound for two threads)
//   npm run bench -- --pools [--quick]               (the comparison plus the pool cases)
//   npm run bench -- --webgpu [--quick] [--only ..]  (bench/webgpu.ts: WGSL bundles vs tfjs and ORT WebGPU in Chromium)
//   npm run bench -- --train [--steps N] [--quick]   (bench/train.ts: LeNet training step samples/s;
//                     --bn-threads [--rounds N]: with batch norm, 1 thread against 2)
//   npm run bench -- --train --algorithms            (bench/train-algorithms.ts: the step's conv algorithms)

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runCompare, usage } from "./compare.js";

/** Other parts' entry modules, by flag. A module may export `main(argv)`; otherwise importing it runs it. */
const PARTS: Readonly<Record<string, string>> = {
  "--fusion": "./fusion.js",
  "--algorithms": "./algorithms.js",
  "--threads": "./threads.js",
  "--compile": "./compile.js",
  "--onnx": "./onnx.js",
  // Before --steps: `--train --steps N` is the training bench's step count, not the steps bench.
  "--train": "./train.js",
  "--steps": "./steps.js",
  "--webgpu": "./webgpu.js",
};

async function runPart(flag: string, file: string, argv: readonly string[]): Promise<number> {
  const url = new URL(file, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    process.stderr.write(`${flag}: ${file.replace(/\.js$/, ".ts")} is not in this checkout (or not built)\n`);
    return 2;
  }
  const mod: unknown = await import(url.href);
  const main = (mod as { main?: unknown } | null)?.main;
  if (typeof main === "function") {
    const code: unknown = await (main as (argv: readonly string[]) => unknown)(argv);
    return typeof code === "number" ? code : 0;
  }
  return 0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  // The first part flag named picks the part: `--train --steps N` is the training bench with
  // its own --steps option, not the --steps part.
  const flag = argv.find((a) => Object.hasOwn(PARTS, a));
  if (flag !== undefined) return runPart(flag, PARTS[flag], argv.filter((_, i) => i !== argv.indexOf(flag)));
  return runCompare(argv);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
