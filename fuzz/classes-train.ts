// The fuzzer's training class: a mutated example compiled for training, then one optimiser
// step on the compiled WebAssembly step and on the reference trainer from the same weights and
// the same random batch. Besides the usual (no throw, clean diagnostics), the two must agree:
// the loss and every weight after the step within float32 tolerance, or both refuse the step.
// The WebGPU step's kernels are emitted too (no device: its code generation only). Networks
// too large for the float64 reference to step in a few seconds are compiled but not stepped.
// A disagreement counts only where the reference itself is stable: a step whose gradient
// turns on the sign of rounding noise (a relu or a max at a kink: batch norm of one sample
// followed by a global average is exactly beta, plus noise) differs between float32 and
// float64 by nature, and the reference run again on images changed by one part in 10^6
// then differs from itself as much.

import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { emitTrainingWgsl } from "../compiler/backends/wgsl/grad-module.js";
import { TrainError } from "../compiler/train/autodiff.js";
import { compileTraining, type Trainer } from "../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER } from "../compiler/train/optim.js";
import type { TrainGraph } from "../compiler/train/graph.js";
import type { Batch } from "../compiler/train/trainer.js";
import { readSafetensors } from "../compiler/tensors/safetensors.js";
import type { InputClass } from "./classes.js";
import { messageProblems, type Outcome } from "./outcomes.js";
import { mutateSource } from "./mutate-source.js";
import { int, pick, type Rng, rng } from "./random.js";

/** Elements of every value of one sample (forward and backward) past which no step is run. */
const MOST_ELEMENTS = 300_000;
/** Weights past which no step is run. */
const MOST_WEIGHTS = 300_000;

let corpus: { name: string; text: string }[] | undefined;
function programs(): { name: string; text: string }[] {
  const dir = path.resolve("examples");
  corpus ??= readdirSync(dir)
    .filter((f) => f.endsWith(".cnn"))
    .sort()
    .map((f) => ({ name: f, text: readFileSync(path.join(dir, f), "utf8") }));
  return corpus;
}

/** One seeded batch for the graph: images in [-1, 1), class labels or real targets. */
function batchFor(tg: TrainGraph, seed: number, count: number): Batch {
  const next = rng(seed);
  const n = (tg.values[tg.forward.inputs[0].value].shape as number[]).reduce((a, b) => a * b, 1);
  const t = tg.targetShape.reduce((a, b) => a * b, 1);
  const classes = tg.values[tg.output.value].shape[0] as number;
  const labelled = tg.lossKind === "softmax_cross_entropy" || tg.lossKind === "cross_entropy";
  const images = Float32Array.from({ length: count * n }, () => next() * 2 - 1);
  const labels = Float64Array.from({ length: count * t }, () => (labelled ? Math.floor(next() * classes) : Math.fround(next() * 2 - 1)));
  return { count, images, labels };
}

const size = (shape: readonly unknown[]) => (shape as number[]).reduce((a, b) => a * b, 1);

async function stepOf(t: Trainer, b: Batch): Promise<{ loss: number } | { refused: string }> {
  try {
    return await t.step(b);
  } catch (e) {
    if (e instanceof TrainError) return { refused: e.message };
    throw e;
  }
}

/** The largest difference over the largest reference magnitude (at least 1e-3); a NaN on either side counts as infinite. */
function relative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    num = Number.isNaN(d) ? Infinity : Math.max(num, d);
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-3);
}

type Compiled = Extract<ReturnType<typeof compileTraining>, { ok: true }>;

/** How a step (its result and the weights after it) differs from the reference's on the same batch. */
async function differences(ref: Compiled, b: Batch, step: { loss: number } | { refused: string }, weights: Uint8Array, who: string): Promise<string[]> {
  const a = await ref.load();
  const sa = await stepOf(a, b);
  if ("refused" in sa || "refused" in step) {
    // A step that overflows is refused by both; one refusal alone is a disagreement.
    return "refused" in sa && "refused" in step ? [] : [`only one trainer refused the step: reference ${JSON.stringify(sa)}, ${who} ${JSON.stringify(step)}`];
  }
  const out: string[] = [];
  if (Math.abs(sa.loss - step.loss) > 1e-3 * Math.max(1, Math.abs(sa.loss))) out.push(`losses differ: reference ${sa.loss}, ${who} ${step.loss}`);
  const want = readSafetensors(a.weights(), "reference");
  const got = readSafetensors(weights, who);
  if (!want.ok || !got.ok) return [...out, "a trainer's weights do not read back"];
  for (const [name, t] of want.value) {
    const g = got.value.get(name);
    if (!g) out.push(`${who} has no weight ${name}`);
    else if (relative(g.data, t.data) > 1e-3) out.push(`${name} differs after one step: relative error ${relative(g.data, t.data)}`);
  }
  return out;
}

export const training: InputClass = {
  name: "train",
  weight: 6,
  make(r: Rng) {
    const p = pick(r, programs());
    const side = pick(r, ["4", "6", "8", "12"]);
    return { text: mutateSource(r, p.text), how: `H=${side},W=${side},D=${pick(r, ["2", "4"])} batch ${1 + int(r, 4)} seed ${1 + int(r, 1e6)} from ${p.name}` };
  },
  async run(input): Promise<Outcome> {
    const [sizeText, , count, , seed] = input.how.split(" ");
    const sizes = Object.fromEntries(sizeText.split(",").map((kv) => [kv.split("=")[0], Number(kv.split("=")[1])]));
    const problems: string[] = [];
    // Plain SGD (the default optimiser: no momentum) for the comparison: Adam divides each gradient by its own size, so a gradient
    // that is exactly 0 in exact arithmetic (a bias just before training-mode batch norm) but
    // float32 rounding noise on the compiled step takes a full step there, and only 1e-11 on
    // the float64 reference. The optimisers themselves are held to the reference in
    // tests/train/wasm.test.ts.
    const sgd = DEFAULT_OPTIMISER;
    const compileFor = (backend: "wasm" | "reference") => {
      const r = compileTraining(input.text, { fileName: "fuzz.cnn", backend, sizes, config: { optimiser: sgd } });
      for (const d of r.diagnostics) problems.push(...messageProblems(d.message, "a training diagnostic", input.text));
      return r;
    };
    let wasm: ReturnType<typeof compileTraining>;
    try {
      wasm = compileFor("wasm");
    } catch (e) {
      return { outcome: "diagnostic", problems: [`compileTraining() threw ${(e as Error).stack ?? String(e)}`] };
    }
    if (!wasm.ok) return { outcome: "diagnostic", problems };
    const tg = wasm.graph;
    try {
      emitTrainingWgsl(tg, wasm.config.optimiser);
    } catch (e) {
      // A TrainError is the step refusing, with its reason (tables too big for a storage buffer).
      if (!(e instanceof TrainError)) problems.push(`the WebGPU training step's emission threw ${(e as Error).stack ?? String(e)}`);
    }
    if (tg.values.reduce((a, v) => a + size(v.shape), 0) > MOST_ELEMENTS || tg.forward.weights.reduce((a, w) => a + size(w.shape), 0) > MOST_WEIGHTS) return { outcome: "ok", problems };
    const ref = compileFor("reference");
    if (!ref.ok) return { outcome: "diagnostic", problems: [...problems, "compiles for WebAssembly training but not for the reference"] };
    const b = batchFor(tg, Number(seed), Number(count));
    try {
      // The convolution algorithm from the seed: the cost model's picks, or each one forced
      // wherever it applies (Winograd on every 3x3 stride-1 layer, whatever its channels).
      const w = await wasm.load({ convAlgorithm: (["auto", "gemm", "winograd"] as const)[Number(seed) % 3] });
      const sw = await stepOf(w, b);
      const got = w.weights();
      w.dispose();
      const disagree = await differences(ref, b, sw, got, "wasm");
      if (disagree.length) {
        // Stable? The reference on the images changed by one part in 10^6, twice.
        const nudged = (k: number) => ({ ...b, images: b.images.map((v, i) => v * (1 + 1e-6 * Math.sin(i * 12.9898 + k))) });
        let stable = true;
        for (const k of [1, 2]) {
          const r = await ref.load();
          const s2 = await stepOf(r, nudged(k));
          if ((await differences(ref, b, s2, r.weights(), "the nudged reference")).length) stable = false;
        }
        if (stable) problems.push(...disagree);
      }
    } catch (e) {
      problems.push(`a training step threw ${(e as Error).stack ?? String(e)}`);
    }
    return { outcome: "ok", problems };
  },
};
