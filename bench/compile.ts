// `npm run bench -- --compile`: where compile time goes, per phase (analyse, passes, plan,
// WebAssembly IR build and binaryen optimisation, plain and relaxed-SIMD builds), the minimum
// of several in-process runs after a warm-up, for a few example networks. With `--levels`,
// also what each binaryen optimisation setting gives: compile time, .wasm size, and the run
// time of the network (min and median of --run-count runs, default 200): the measurements behind module.ts's DEFAULT_OPTIMIZE.
//
//   npm run bench -- --compile [--runs N] [--levels [--settings -O3,custom] [--run-count N]] [--only lenet,residual]

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DEFAULT_OPTIMIZE, type WasmOptimize } from "../compiler/backends/wasm/module.js";
import { compile, type CompileOptions } from "../compiler/index.js";

const NETS = ["lenet", "classifier_fixed", "residual", "edges"];

const SETTINGS: Readonly<Record<string, WasmOptimize>> = {
  "-O0": { level: 0 },
  "-O1": { level: 1 },
  "-O2": { level: 2 },
  "-O3": { level: 3 },
  "-O4": { level: 4 },
  // What cnnc ships (module.ts): passes for what our emitter leaves.
  custom: DEFAULT_OPTIMIZE,
};

function source(net: string): string {
  return readFileSync(fileURLToPath(new URL(`../../examples/${net}.cnn`, import.meta.url)), "utf8");
}

function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Per phase, the minimum over runs (ms). */
function phases(src: string, options: CompileOptions, runs: number): Map<string, number> {
  const best = new Map<string, number>();
  for (let r = 0; r <= runs; r++) {
    const timings = new Map<string, number>();
    const t0 = performance.now();
    const res = compile(src, { ...options, timings });
    timings.set("total", performance.now() - t0);
    if (!res.ok) throw new Error(`does not compile: ${res.diagnostics.map((d) => d.message).join("; ")}`);
    if (r === 0) continue; // warm-up
    for (const [k, v] of timings) best.set(k, Math.min(best.get(k) ?? Infinity, v));
  }
  return best;
}

async function runTime(src: string, optimize: WasmOptimize, runs: number): Promise<{ ms: number; min: number; size: number; relaxed: number; compileMs: number }> {
  const t0 = performance.now();
  const r = compile(src, { wasmOptimize: optimize });
  const compileMs = performance.now() - t0;
  if (!r.ok) throw new Error("does not compile");
  const net = await r.load({ backend: "wasm" });
  const inputs = Object.fromEntries(
    net.inputs.map((i) => {
      const shape = i.shape.map((d) => (typeof d === "number" ? d : 32));
      return [i.name, { data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape }];
    }),
  );
  await net.run(inputs);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await net.run(inputs);
    times.push(performance.now() - s);
  }
  net.dispose?.();
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], min: times[0], size: r.artifacts.wasm?.byteLength ?? 0, relaxed: r.artifacts.wasmRelaxed?.byteLength ?? 0, compileMs };
}

export async function main(argv: readonly string[]): Promise<number> {
  const runs = Number(arg(argv, "--runs") ?? "5");
  const nets = (arg(argv, "--only") ?? NETS.join(",")).split(",");
  const out: string[] = [`# compile time per phase (ms, minimum of ${runs} runs after a warm-up, in process)`, ""];
  const names = ["analyse", "passes", "plan", "wasm build", "wasm optimise", "wasm build (relaxed)", "wasm optimise (relaxed)", "total"];
  out.push(`| network | ${names.join(" | ")} |`, `|${" --- |".repeat(names.length + 1)}`);
  for (const net of nets) {
    const p = phases(source(net), {}, runs);
    out.push(`| ${net} | ${names.map((n) => (p.has(n) ? p.get(n)!.toFixed(1) : "-")).join(" | ")} |`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
  if (!argv.includes("--levels")) return 0;
  const lines = ["", "# binaryen settings: compile ms (both builds), .wasm bytes (plain / relaxed), run ms (min and median of --run-count runs)", "", "| network | setting | compile ms | bytes | relaxed bytes | run ms min | run ms median |", "| --- | --- | --- | --- | --- | --- | --- |"];
  for (const net of nets) {
    const chosen = (arg(argv, "--settings") ?? Object.keys(SETTINGS).join(",")).split(",");
    for (const [name, how] of Object.entries(SETTINGS).filter(([n]) => chosen.includes(n))) {
      const r = await runTime(source(net), how, Number(arg(argv, "--run-count") ?? "200"));
      lines.push(`| ${net} | ${name} | ${r.compileMs.toFixed(0)} | ${r.size} | ${r.relaxed} | ${r.min.toFixed(3)} | ${r.ms.toFixed(3)} |`);
      process.stderr.write(`${lines[lines.length - 1]}\n`);
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
