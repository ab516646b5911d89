// The WebGPU training step's memory plan (compiler/backends/wgsl/grad-layout.ts planBatched):
// values whose lives do not meet share places in the batched arena. Checked by simulation,
// not by re-deriving the lives: the step's nodes run in the kernels' order, each write marks
// its value's places as its own, and every read (and every value the trainer reads back at
// the end) must find its places still its own. Then the plan's saving on the examples.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gradLayout } from "../../compiler/backends/wgsl/grad-layout.js";
import { compileTraining } from "../../compiler/train/compile-training.js";
import type { TrainGraph } from "../../compiler/train/graph.js";

const CASES: [string, Record<string, number>, Record<string, unknown>][] = [
  ["lenet", {}, {}],
  ["residual", { H: 16, W: 16 }, {}],
  ["labeler", { H: 12, W: 10 }, {}],
  ["autoencoder", { H: 12, W: 12 }, { loss: "mse" }],
  ["classifier_variable", { H: 12, W: 10 }, {}],
  ["maxout", {}, {}],
];

function graphOf(name: string, sizes: Record<string, number>, config: Record<string, unknown>): TrainGraph {
  const src = readFileSync(new URL(`../../examples/${name}.cnn`, import.meta.url), "utf8");
  const r = compileTraining(src, { fileName: `${name}.cnn`, backend: "reference", sizes, config });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.graph;
}

describe("the WebGPU training step's memory plan", () => {
  for (const [name, sizes, config] of CASES) {
    it(`${name}: no value is overwritten before its last read, and the plan keeps less than every value`, () => {
      const tg = graphOf(name, sizes, config);
      const L = gradLayout(tg, 1);
      const owner = new Int32Array(L.perSample).fill(-1);
      const place = (v: number): [number, number] | undefined => {
        if (L.fixed.has(v)) return undefined;
        const at = L.pre.get(v) as number;
        return [at, at + (L.sizes.get(v) as number)];
      };
      const write = (v: number) => {
        const p = place(v);
        if (p) owner.fill(v, p[0], p[1]);
      };
      const read = (v: number, by: string) => {
        const p = place(v);
        if (!p) return;
        for (let i = p[0]; i < p[1]; i++) if (owner[i] !== v) expect.fail(`${by} reads value ${v}, but place ${i} now holds value ${owner[i]}`);
      };
      // Before the step: the batch's images and targets.
      for (const i of tg.forward.inputs) write(i.value);
      write(tg.target);
      for (const n of tg.forward.nodes) {
        for (const v of n.inputs) read(v, `forward ${n.layer}`);
        write(n.output);
      }
      const loss = tg.nodes.find((n) => n.op.kind === "loss");
      if (!loss) throw new Error("no loss");
      for (const v of loss.inputs) read(v, "the loss");
      write(loss.output);
      read(tg.output.value, "the correct count");
      write(L.correct);
      for (const n of tg.nodes) {
        if (n === loss) continue;
        for (const v of n.inputs) read(v, `${n.op.kind} of ${n.layer}`);
        write(n.output);
      }
      // Read back after the step (and again by a failed step's report: the input).
      for (const v of [tg.loss, L.correct, tg.output.value, tg.target, ...tg.forward.inputs.map((i) => i.value), ...tg.inputGradients.values()]) read(v, "the trainer");
      let every = 1;
      for (const v of tg.values) if (!L.fixed.has(v.id)) every += L.sizes.get(v.id) as number;
      expect(L.perSample).toBeLessThan(0.7 * every);
    });
  }
});
