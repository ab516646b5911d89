// What fusion (issue 5) buys on the WebAssembly backend: each network compiled twice, with
// fusion (the default: conv + relu + pool as one kernel, the pre-pool activations never
// written) and with `--no-fuse` (every layer its own kernel), then timed per inference.
// The two variants alternate run by run after a warm-up, so that a frequency change or a
// noisy neighbour hits both alike; the table gives the median of each and their ratio.
// Networks: examples/lenet.cnn, and a VGG-like block on a 3x224x224 image (conv 64 3x3
// same + relu, conv 64 3x3 same + relu, maxpool 2), where the fused block never stores the
// 64x224x224 output of the second convolution. By default each convolution gets the
// algorithm the cost model picks, so a pool is fused only into a convolution that runs direct
// anyway (fuse.ts) and the others keep theirs (relu and residual adds still fuse: one pass
// over memory fewer). `--direct` pins every convolution to the direct algorithm, where every
// pool fuses: the book's conv -> detector -> pool as one kernel, measured on its own.
//
//   npx tsc -p tsconfig.bench.json && node dist/bench/fusion.js [--runs N] [--direct]

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { compile, type CompileSuccess } from "../compiler/index.js";
import { evalDims } from "../compiler/ir/dim.js";
import type { Network } from "../runtime/session.js";

const VGG_BLOCK = `// A VGG block: two 3x3 convolutions and a 2x2 max pool.
network vgg_block(image: f32[3, 224, 224]) -> features {
  features = image |> conv1: conv(64, 3x3, pad: same) |> relu
                   |> conv2: conv(64, 3x3, pad: same) |> relu |> maxpool(2)
}
`;

interface Bench {
  readonly name: string;
  readonly source: string;
  /** Timed runs per variant (the VGG block takes seconds per inference on one core). */
  readonly runs: number;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function compileVariant(b: Bench, fuse: boolean, direct: boolean): CompileSuccess {
  const probe = compile(b.source, { fileName: `${b.name}.cnn`, fuse });
  if (!probe.ok) throw new Error(`${b.name}: ${probe.diagnostics.map((d) => d.message).join("\n")}`);
  if (!direct) return probe;
  const convs = probe.source.nodes.filter((n) => n.op.kind === "conv").map((n) => [n.layer, "direct"] as const);
  const r = compile(b.source, { fileName: `${b.name}.cnn`, fuse, algorithms: Object.fromEntries(convs) });
  if (!r.ok) throw new Error(`${b.name}: ${r.diagnostics.map((d) => d.message).join("\n")}`);
  return r;
}

function inputsOf(r: CompileSuccess): Record<string, { data: Float32Array; shape: number[] }> {
  let seed = 1;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Object.fromEntries(
    r.plan.inputs.map((io) => {
      const shape = evalDims(io.shape, {});
      const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1);
      return [io.name, { data, shape }];
    }),
  );
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function time(net: Network, inputs: Record<string, { data: Float32Array; shape: number[] }>): Promise<number> {
  const t0 = performance.now();
  await net.run(inputs);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const runsOption = option("--runs");
  const direct = process.argv.includes("--direct");
  const benches: Bench[] = [
    { name: "lenet", source: readFileSync("examples/lenet.cnn", "utf8"), runs: runsOption ? Number(runsOption) : 300 },
    // Direct, the block takes seconds per inference; with the chosen algorithms about 0.1 s.
    { name: "vgg_block 3x224x224", source: VGG_BLOCK, runs: runsOption ? Number(runsOption) : direct ? 5 : 31 },
  ];
  const rows: string[] = [];
  for (const b of benches) {
    const fused = compileVariant(b, true, direct);
    const unfused = compileVariant(b, false, direct);
    const inputs = inputsOf(fused);
    const nets = { fused: await fused.load({ backend: "wasm" }), unfused: await unfused.load({ backend: "wasm" }) };
    // Warm-up: compile tiers, page in the memory.
    const warm = Math.max(2, Math.ceil(b.runs / 10));
    for (let i = 0; i < warm; i++) {
      await time(nets.fused, inputs);
      await time(nets.unfused, inputs);
    }
    const times = { fused: [] as number[], unfused: [] as number[] };
    for (let i = 0; i < b.runs; i++) {
      // Alternate which goes first, so neither always runs on a cache the other just warmed.
      const order = i % 2 ? (["unfused", "fused"] as const) : (["fused", "unfused"] as const);
      for (const v of order) times[v].push(await time(nets[v], inputs));
    }
    nets.fused.dispose();
    nets.unfused.dispose();
    const f = median(times.fused);
    const u = median(times.unfused);
    const bytes = (r: CompileSuccess) => (4 * Number(evalDims([r.plan.arenaElements], {})[0])) / 1024;
    rows.push(
      `| ${b.name} | ${fused.plan.steps.length} / ${unfused.plan.steps.length} | ${bytes(fused).toFixed(0)} / ${bytes(unfused).toFixed(0)} | ${f.toFixed(3)} | ${u.toFixed(3)} | ${(u / f).toFixed(2)}x | ${b.runs} |`,
    );
    process.stderr.write(`${b.name}: done\n`);
  }
  console.log(`WebAssembly backend, median ms per inference (one sample), ${direct ? "every convolution direct" : "the algorithms the cost model picks"}\n`);
  console.log("| network | kernels fused / unfused | arena KiB fused / unfused | fused ms | unfused ms | speed-up | runs |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
