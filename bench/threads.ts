// What threads buy (issue 6's target: two threads >= 1.7x one thread on vgg_block). Each
// network is compiled once and loaded twice, `load({ threads: 1 })` and `load({ threads: 2 })`
// (more with --n N), the variants alternating run by run after a warm-up so that a noisy
// neighbour hits both alike; the table gives each one's median and the speedup. The outputs
// must agree: the split never changes summation order, so they are bit-identical.
//
//   npm run bench -- --threads [--quick] [--n N] [--only vgg_block,resnet_block]

import { performance } from "node:perf_hooks";
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

export async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const n = Number(option(argv, "--n") ?? 2);
  const names = (option(argv, "--only") ?? "vgg_block,resnet_block").split(",");
  const runs = quick ? 5 : 15;
  const rows: string[] = [];
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
      }
      const [one, many] = times.map(median);
      rows.push(`| ${name} | ${one.toFixed(1)} | ${many.toFixed(1)} | ${(one / many).toFixed(2)}x | ${same ? "bit-identical" : "DIFFERENT"} | ${nets[1].description} |`);
    } finally {
      nets.forEach((net) => net.dispose());
    }
  }
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
