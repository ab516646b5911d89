// Memory planning: buffers whose lifetimes do not overlap share space, elementwise steps run
// in place, and the planned network computes what the unplanned one does.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { evalDim } from "../../compiler/ir/dim.js";
import { initialise } from "../../compiler/tensors/init.js";

const examples = ["lenet.cnn", "residual.cnn", "labeler.cnn", "autoencoder.cnn"];

describe("memory planning", () => {
  for (const ex of examples) {
    it(`${ex}: a smaller arena, the same outputs`, async () => {
      const src = readFileSync(`examples/${ex}`, "utf8");
      const planned = compile(src, { fileName: ex });
      const plain = compile(src, { fileName: ex, planMemory: false });
      if (!planned.ok || !plain.ok) throw new Error("compile failed");
      const env = { H: 16, W: 12 };
      const a = evalDim(planned.plan.arenaElements, env);
      const b = evalDim(plain.plan.arenaElements, env);
      expect(a).toBeLessThan(b);
      expect(evalDim(planned.plan.unplannedElements, env)).toBe(b);
      const g = planned.graph;
      const io = g.inputs[0];
      const shape = g.values[io.value].shape.map((d) => evalDim(d, env));
      const data = initialise({ kind: "uniform", low: -1, high: 1, seed: 5 }, shape, 1, 1);
      const ya = await (await planned.load()).run({ [io.name]: { data, shape } });
      const yb = await (await plain.load()).run({ [io.name]: { data, shape } });
      for (const k of Object.keys(yb)) expect(Array.from(ya[k].data)).toEqual(Array.from(yb[k].data));
    });
  }
});
