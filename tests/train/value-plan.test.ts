// The compiled training steps' memory plans (compiler/train/value-plan.ts): values whose lives
// do not meet share places, in the WebGPU step's batched arena (grad-layout.ts) and in the
// WebAssembly step's per-sample regions with batch norm in training mode (grad-module.ts).
// Checked by simulation, not by re-deriving the lives: the step's nodes run in the kernels'
// order, each write marks its value's places as its own, and every read (and every value the
// trainer reads back after the step) must find its places still its own. Then the saving.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gradLayout } from "../../compiler/backends/wgsl/grad-layout.js";
import { emitTrainingWasm, stepOrder } from "../../compiler/backends/wasm/grad-module.js";
import { loadBinaryen } from "../../compiler/backends/wasm/binaryen.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import { DEFAULT_OPTIMISER } from "../../compiler/train/optim.js";
import type { TrainGraph } from "../../compiler/train/graph.js";
import type { PlanStep } from "../../compiler/train/value-plan.js";

const CASES: [string, Record<string, number>, Record<string, unknown>][] = [
  ["lenet", {}, {}],
  ["residual", { H: 16, W: 16 }, {}],
  ["labeler", { H: 12, W: 10 }, {}],
  ["autoencoder", { H: 12, W: 12 }, { loss: "mse" }],
  ["classifier_variable", { H: 12, W: 12 }, {}],
  ["maxout", {}, {}],
];

function graphOf(name: string, sizes: Record<string, number>, config: Record<string, unknown>): TrainGraph {
  const src = readFileSync(new URL(`../../examples/${name}.cnn`, import.meta.url), "utf8");
  const r = compileTraining(src, { fileName: `${name}.cnn`, backend: "reference", sizes, config });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.graph;
}

/**
 * Runs `steps` over a sample's places (`place(v)`: [from, to), or undefined for a value kept
 * elsewhere): `before` are written first, `after` read last.
 */
function simulate(steps: readonly PlanStep[], place: (v: number) => [number, number] | undefined, span: number, before: readonly number[], after: readonly number[]): void {
  const owner = new Int32Array(span).fill(-1);
  const write = (v: number) => {
    const p = place(v);
    if (p) owner.fill(v, p[0], p[1]);
  };
  const read = (v: number, by: string) => {
    const p = place(v);
    if (!p) return;
    for (let i = p[0]; i < p[1]; i++) if (owner[i] !== v) expect.fail(`${by} reads value ${v}, but place ${i} now holds value ${owner[i]}`);
  };
  before.forEach(write);
  steps.forEach((s, k) => {
    for (const v of s.reads) read(v, `step ${k}`);
    s.writes.forEach(write);
  });
  for (const v of after) read(v, "the trainer");
}

describe("the training steps' memory plans", () => {
  for (const [name, sizes, config] of CASES) {
    it(`WebGPU, ${name}: no value is overwritten before its last read, and less is kept than every value`, () => {
      const tg = graphOf(name, sizes, config);
      const L = gradLayout(tg, 1);
      const loss = tg.nodes.find((n) => n.op.kind === "loss");
      if (!loss) throw new Error("no loss");
      // grad-module.ts's order: the forward, the loss and the correct count, the backward.
      const steps: PlanStep[] = [
        ...tg.forward.nodes.map((n) => ({ reads: n.inputs, writes: [n.output] })),
        { reads: [...loss.inputs, tg.output.value, tg.target], writes: [loss.output, L.correct] },
        ...tg.nodes.filter((n) => n !== loss).map((n) => ({ reads: n.inputs, writes: [n.output] })),
      ];
      const place = (v: number): [number, number] | undefined => (L.fixed.has(v) ? undefined : [L.pre.get(v) as number, (L.pre.get(v) as number) + (L.sizes.get(v) as number)]);
      const inputs = tg.forward.inputs.map((i) => i.value);
      simulate(steps, place, L.perSample, [...inputs, tg.target], [tg.loss, L.correct, tg.output.value, tg.target, ...inputs, ...tg.inputGradients.values()]);
      let every = 1;
      for (const v of tg.values) if (!L.fixed.has(v.id)) every += L.sizes.get(v.id) as number;
      expect(L.perSample).toBeLessThan(0.7 * every);
    });
  }

  for (const [name, sizes, config] of CASES.filter(([n]) => n === "residual" || n === "lenet")) {
    it(`WebAssembly with batch norm in training mode, ${name}: the same for a sample's region`, async () => {
      await loadBinaryen();
      const src = readFileSync(new URL(`../../examples/${name}.cnn`, import.meta.url), "utf8");
      // LeNet has no batch norm: one is added, so that the step keeps every sample's values.
      const source = name === "lenet" ? src.replace("|> relu |> maxpool(2x2, stride: 2)\n", "|> bnx: batchnorm |> relu |> maxpool(2x2, stride: 2)\n") : src;
      const r = compileTraining(source, { fileName: `${name}.cnn`, backend: "wasm", sizes, config: { ...config, batchStatistics: true } });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
      const tg = r.graph;
      const { layout } = emitTrainingWasm(tg, DEFAULT_OPTIMISER);
      if (!layout.samples) throw new Error("not in batch mode");
      const bytes = (v: number) => 4 * (tg.values[v].shape as number[]).reduce((a, b) => a * b, 1);
      const place = (v: number): [number, number] => [layout.values.get(v) as number, (layout.values.get(v) as number) + bytes(v)];
      const inputs = tg.forward.inputs.map((i) => i.value);
      simulate(stepOrder(tg, true), place, layout.samples.stride, [...inputs, tg.target], [tg.loss, tg.output.value, tg.target, ...inputs, ...tg.inputGradients.values()]);
      const every = tg.values.reduce((a, v) => a + bytes(v.id), 0);
      expect(layout.samples.stride).toBeLessThan(0.7 * every);
    });
  }
});
