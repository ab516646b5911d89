// What threads buy (issue 6's target: two threads >= 1.7x one thread on vgg_block). Each
// network is compiled once and loaded twice, `load({ threads: 1 })` and `load({ threads: 2 })`
// (more with --n N), the variants alternating run by run after a warm-up so that a noisy
// neighbour hits both alike; the table gives each one's median and the speedup. The outputs
// must agree: the split never changes summation order, so they are bit-identical. A control
// row says what the machine itself allows at that moment: a SIMD loop bound by vector
// multiply-add throughput (as bench/peak.ts's, 10 independent f32x4 accumulators), on one
// worker vs split over n workers, timed alternating with the networks. Where two vCPUs are
// one physical core's two hyperthreads, or others use the cores, this control shows it: no
// split of SIMD-bound kernels can beat it.
//
//   npm run bench -- --threads [--quick] [--n N] [--only vgg_block,resnet_block]

import binaryen from "binaryen";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { compile, formatDiagnostics } from "../compiler/index.js";
import type { Network } from "../runtime/session.js";
import { findNetwork, input, weights } from "./networks.js";
import { safetensorsFor } from "./peers/cnnc.js";

function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const ACCUMULATORS = 10;

/** `run(n)`: n iterations of acc = acc * 0.5 + 1 on ACCUMULATORS f32x4 accumulators. */
function simdLoop(): Uint8Array {
  const accs = Array.from({ length: ACCUMULATORS }, (_, i) => i);
  const wat = `(module (func (export "run") (param $n i32) (result f32)
  ${accs.map((i) => `(local $a${i} v128)`).join(" ")} (local $i i32)
  ${accs.map((i) => `(local.set $a${i} (f32x4.splat (f32.const ${i + 1})))`).join(" ")}
  (loop $l
    ${accs.map((i) => `(local.set $a${i} (f32x4.add (f32x4.mul (local.get $a${i}) (f32x4.splat (f32.const 0.5))) (f32x4.splat (f32.const 1))))`).join(" ")}
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
  (f32x4.extract_lane 0 ${accs.slice(1).reduce((e, i) => `(f32x4.add ${e} (local.get $a${i}))`, "(local.get $a0)")})))`;
  const m = binaryen.parseText(wat);
  try {
    m.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** The SIMD loop on each of a set of workers: the control. */
class Control {
  private readonly workers: Worker[];

  constructor(n: number) {
    const src = `const { parentPort, workerData } = require("node:worker_threads");
const run = new WebAssembly.Instance(new WebAssembly.Module(workerData)).exports.run;
parentPort.on("message", (n) => parentPort.postMessage(run(n)));`;
    const bytes = simdLoop();
    this.workers = Array.from({ length: n }, () => new Worker(src, { eval: true, workerData: bytes }));
  }

  /** ms to run `iterations` split over the first `k` workers. */
  async time(iterations: number, k: number): Promise<number> {
    const t = performance.now();
    await Promise.all(
      this.workers.slice(0, k).map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once("message", () => resolve());
            w.postMessage(Math.floor(iterations / k));
          }),
      ),
    );
    return performance.now() - t;
  }

  dispose(): void {
    this.workers.forEach((w) => void w.terminate());
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const n = Number(option(argv, "--n") ?? 2);
  const names = (option(argv, "--only") ?? "vgg_block,resnet_block").split(",");
  const runs = quick ? 5 : 15;
  const rows: string[] = [];
  const control = new Control(n);
  const controlTimes: number[][] = [[], []];
  const controlPass = async () => {
    controlTimes[0].push(await control.time(2e7, 1));
    controlTimes[1].push(await control.time(2e7, n));
  };
  for (const name of names) {
    const spec = findNetwork(name);
    if (!spec) throw new Error(`no network ${name}`);
    const r = compile(spec.source, { fileName: `${name}.cnn`, weights: safetensorsFor(weights(spec)) });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics));
    const feeds = { [spec.input.name]: { data: input(spec), shape: [1, ...spec.input.shape] } };
    const nets: Network[] = [await r.load({ backend: "wasm", threads: 1 }), await r.load({ backend: "wasm", threads: n })];
    try {
      const outs = await Promise.all(nets.map(async (net) => (await net.run(feeds))[spec.output].data));
      const same = outs[0].every((v, i) => Object.is(v, outs[1][i]));
      const times: number[][] = [[], []];
      for (let i = 0; i < 2; i++) for (const net of nets) await net.run(feeds);
      for (let i = 0; i < runs; i++) {
        for (let v = 0; v < 2; v++) {
          const t = performance.now();
          await nets[v].run(feeds);
          times[v].push(performance.now() - t);
        }
        await controlPass();
      }
      const [one, many] = times.map(median);
      rows.push(`| ${name} | ${one.toFixed(1)} | ${many.toFixed(1)} | ${(one / many).toFixed(2)}x | ${same ? "bit-identical" : "DIFFERENT"} | ${nets[1].description} |`);
    } finally {
      nets.forEach((net) => net.dispose());
    }
  }
  control.dispose();
  const [c1, cn] = controlTimes.map(median);
  rows.push(`| control: a SIMD multiply-add loop | ${c1.toFixed(1)} | ${cn.toFixed(1)} | ${(c1 / cn).toFixed(2)}x | - | what the machine allowed meanwhile |`);
  const out = [
    `## threads: 1 vs ${n}${quick ? " (--quick)" : ""}`,
    "",
    `Median ms per inference over ${runs} alternating runs each, after warm-up; ${new Date().toISOString().slice(0, 10)}.`,
    "",
    `| network | 1 thread (ms) | ${n} threads (ms) | speedup | outputs | ${n}-thread load |`,
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ];
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
