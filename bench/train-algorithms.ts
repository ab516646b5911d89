// `npm run bench -- --train --algorithms`: each convolution algorithm of the WebAssembly
// training step (im2col GEMM, Winograd F(2x2, 3x3)) timed on one-layer networks of 3x3
// convolutions of several shapes, the layer forced each way, against the cost model's pick
// (compiler/backends/wasm/grad-algorithms.ts); then whole networks, the cost model's picks
// against im2col everywhere. A step here is the forward, an mse loss, both gradients and the
// update, batch 16; the two algorithms take turns over timed rounds and the table gives the
// median of each. One markdown table per part on stdout, progress on stderr.
//
//   npm run bench -- --train --algorithms [--quick]

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { compileTraining, type Trainer } from "../compiler/train/compile-training.js";
import type { TrainAlgorithmSetting } from "../compiler/backends/wasm/grad-algorithms.js";
import type { Batch } from "../compiler/train/trainer.js";

const BATCH = 16;

interface Case {
  readonly name: string;
  readonly source: string;
  readonly input: readonly number[];
  /** Target floats per sample (mse) or classes (cross entropy). */
  readonly target: number;
  readonly classes?: number;
}

const layer = (C: number, O: number, H: number): Case => ({
  name: `3x3 ${C}->${O} at ${H}x${H}`,
  source: `network l(x: f32[${C}, ${H}, ${H}]) -> y {
  y = x |> c: conv(${O}, 3x3, pad: same)
}
train l {
  loss = mse(y)
  optimizer = sgd(lr: 0.001, momentum: 0.9)
  batch = ${BATCH}
}`,
  input: [C, H, H],
  target: O * H * H,
});

const LAYERS: readonly Case[] = [layer(1, 8, 28), layer(3, 16, 32), layer(4, 4, 16), layer(8, 8, 32), layer(16, 16, 8), layer(16, 16, 16), layer(16, 16, 32), layer(32, 32, 16), layer(64, 64, 8)];

const NETWORKS: readonly Case[] = [
  {
    name: "residual (examples/residual.cnn's blocks) at 32x32, batch norm on running statistics",
    source: `block residual(x, c) {
  y = x |> conv(c, 3x3, pad: same) |> relu |> conv(c, 3x3, pad: same)
  return relu(x + y)
}
network resnet(image: f32[3, 32, 32]) -> probs {
  stem = image |> conv(16, 3x3, pad: same) |> relu
  body = stem |> residual(16) |> residual(16) |> maxpool(2) |> bn: batchnorm
  probs = body |> avgpool(out: 1) |> flatten |> fc: dense(10) |> softmax
}
train resnet {
  loss = cross_entropy(probs)
  optimizer = sgd(lr: 0.01, momentum: 0.9)
  batch = ${BATCH}
  batchnorm = running
}`,
    input: [3, 32, 32],
    target: 1,
    classes: 10,
  },
];

/** The residual network in PyTorch, its batch norm on running statistics (eval mode) as in the .cnn's `batchnorm = running`. */
const TORCH_RESIDUAL = `
import time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0)
class Block(nn.Module):
    def __init__(s, c):
        super().__init__(); s.a = nn.Conv2d(c, c, 3, padding=1); s.b = nn.Conv2d(c, c, 3, padding=1)
    def forward(s, x): return F.relu(x + s.b(F.relu(s.a(x))))
class Net(nn.Module):
    def __init__(s):
        super().__init__(); s.stem = nn.Conv2d(3, 16, 3, padding=1); s.b1 = Block(16); s.b2 = Block(16); s.bn = nn.BatchNorm2d(16); s.fc = nn.Linear(16, 10)
    def forward(s, x):
        x = F.max_pool2d(s.b2(s.b1(F.relu(s.stem(x)))), 2); x = s.bn(x)
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
net = Net(); net.bn.eval(); opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x = torch.rand(BATCH, 3, 32, 32); y = torch.randint(0, 10, (BATCH,))
def step():
    opt.zero_grad(); loss = F.cross_entropy(net(x), y); loss.backward(); opt.step()
for _ in range(5): step()
n = 0; w = time.perf_counter()
while time.perf_counter() - w < SECONDS: step(); n += 1
print(torch.__version__, BATCH * n / (time.perf_counter() - w))
`;

/** PyTorch on one CPU thread, when /usr/bin/python3 has it: samples/s and its version, or why not. */
function pytorchResidual(seconds: number): { rate?: number; note: string } {
  const python = "/usr/bin/python3";
  if (!existsSync(python)) return { note: "PyTorch skipped: no /usr/bin/python3" };
  const r = spawnSync(python, ["-c", TORCH_RESIDUAL.replaceAll("BATCH", String(BATCH)).replace("SECONDS", String(seconds))], { encoding: "utf8", timeout: 300_000 });
  const m = /^(\S+) ([\d.e+]+)\s*$/m.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return { note: `PyTorch skipped: ${(r.stderr ?? "").trim().split("\n").pop() ?? "no output"}` };
  return { rate: Number(m[2]), note: `PyTorch ${m[1]}` };
}

function data(c: Case, count: number): Batch[] {
  let s = 7;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const n = c.input.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => ({
    count: BATCH,
    images: Float32Array.from({ length: BATCH * n }, next),
    labels: Float64Array.from({ length: BATCH * c.target }, () => (c.classes ? Math.floor(next() * c.classes) : next() - 0.5)),
  }));
}

async function load(c: Case, convAlgorithm: TrainAlgorithmSetting): Promise<Trainer> {
  const r = compileTraining(c.source, { fileName: "bench.cnn", backend: "wasm" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return r.load({ convAlgorithm });
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Samples per second of each trainer, taking turns over `rounds` rounds of at least `seconds`
 * each, after a warm-up of as long: V8 first runs a module on its baseline compiler and moves
 * each function to the optimising one once it has run a while, and the Winograd kernels'
 * large unrolled bodies take longest to get there (with `--no-liftoff` the first steps run as
 * fast as the later ones).
 */
async function race(trainers: readonly Trainer[], batches: readonly Batch[], rounds: number, seconds: number): Promise<number[]> {
  const run = async (t: Trainer): Promise<number> => {
    const start = performance.now();
    let steps = 0;
    while (performance.now() - start < seconds * 1000) await t.step(batches[steps++ % batches.length]);
    return (steps * BATCH) / ((performance.now() - start) / 1000);
  };
  for (const t of trainers) await run(t);
  const rates: number[][] = trainers.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, t] of trainers.entries()) rates[i].push(await run(t));
  return rates.map(median);
}

export async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const rounds = quick ? 1 : 5;
  const seconds = quick ? 0.2 : 0.6;
  const progress = (s: string) => process.stderr.write(`${s}\n`);
  const f = (n: number) => n.toFixed(n < 100 ? 1 : 0);
  const lines = ["| layer | im2col GEMM samples/s | Winograd samples/s | Winograd / GEMM | cost model's pick | pick within 10% of the faster |", "|---|---:|---:|---:|---|---|"];
  let misses = 0;
  for (const c of LAYERS) {
    progress(`${c.name}: ${rounds} rounds of ${seconds} s each way`);
    const [gemm, wino, auto] = [await load(c, "gemm"), await load(c, "winograd"), await load(c, "auto")];
    const pick = auto.algorithms?.[0]?.algorithm ?? "gemm";
    const [g, w] = await race([gemm, wino], data(c, 4), rounds, seconds);
    const picked = pick === "winograd" ? w : g;
    const ok = picked >= 0.9 * Math.max(g, w);
    if (!ok) misses++;
    lines.push(`| ${c.name} | ${f(g)} | ${f(w)} | ${(w / g).toFixed(2)} | ${pick} | ${ok ? "yes" : "**no**"} |`);
    for (const t of [gemm, wino, auto]) t.dispose();
  }
  process.stdout.write(`## Convolution algorithms in the WebAssembly training step (one 3x3 layer, mse, batch ${BATCH}, one thread)\n\n${lines.join("\n")}\n\n`);
  const net = ["| network | im2col GEMM everywhere, samples/s | cost model's picks, samples/s | ratio | PyTorch, 1 thread, samples/s | picks |", "|---|---:|---:|---:|---:|---|"];
  for (const c of NETWORKS) {
    progress(`${c.name}: ${rounds} rounds of ${seconds} s each way`);
    const [gemm, auto] = [await load(c, "gemm"), await load(c, "auto")];
    const [g, a] = await race([gemm, auto], data(c, 4), rounds, seconds);
    const picks = (auto.algorithms ?? []).map((p) => `${p.layer}: ${p.algorithm}`).join(", ");
    progress("the same network in PyTorch");
    const torch = pytorchResidual(rounds * seconds);
    net.push(`| ${c.name} | ${f(g)} | ${f(a)} | ${(a / g).toFixed(2)} | ${torch.rate === undefined ? torch.note : `${f(torch.rate)} (${torch.note})`} | ${picks} |`);
    gemm.dispose();
    auto.dispose();
  }
  process.stdout.write(`## Whole networks\n\n${net.join("\n")}\n\n`);
  process.stdout.write(`Medians of ${rounds} rounds of ${seconds} s, the trainers taking turns after a warm-up as long. ${misses ? `${misses} pick(s) more than 10% slower than the faster algorithm.` : "Every pick within 10% of the faster algorithm."}\n`);
  return 0;
}
