// Every example, on every backend, equals the reference interpreter (float64) to 1e-5
// relative to the output's largest magnitude.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";

const examples = readdirSync("examples").filter((f) => f.endsWith(".cnn"));

describe("examples: wasm equals the reference", () => {
  for (const ex of examples) {
    it(ex, async () => {
      const r = compile(readFileSync(`examples/${ex}`, "utf8"), { fileName: ex });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
      const env: Record<string, number> = Object.fromEntries(r.graph.symbols.map((s) => [s, 24]));
      const inputs = r.graph.inputs.map((io, i) => {
        const shape = evalDims(r.graph.values[io.value].shape, env);
        return { name: io.name, shape, data: initialise({ kind: "uniform", low: -1, high: 1, seed: 100 + i }, shape, 1, 1) };
      });
      const net = await r.load({ backend: "wasm" });
      const got = await net.run(Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, shape: t.shape }])));
      const ref = interpret(r.source, new Map(inputs.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data) }])));
      for (const [name, want] of ref) {
        const y = got[name];
        expect(y.shape).toEqual([1, ...want.shape]);
        let diff = 0;
        let scale = 0;
        want.data.forEach((v, i) => {
          diff = Math.max(diff, Math.abs(v - y.data[i]));
          scale = Math.max(scale, Math.abs(v));
        });
        expect(diff / Math.max(scale, 1e-30)).toBeLessThan(1e-5);
      }
    });
  }
});
