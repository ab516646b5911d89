// Every example compiled for WebGPU (target all) runs on WebGPU and equals the reference
// interpreter (float64) to 1e-4 relative to max(1, the output's largest magnitude), with
// symbolic sizes bound to 24 as in the WASM examples test.

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../../compiler/index.js";
import { evalDims } from "../../../compiler/ir/dim.js";
import { interpret } from "../../../compiler/reference/interpret.js";
import { initialise } from "../../../compiler/tensors/init.js";
import { testAdapter } from "./plan-helper.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;
const examples = readdirSync("examples").filter((f) => f.endsWith(".cnn"));

describe("examples: WebGPU equals the reference", () => {
  for (const ex of examples) {
    gpuIt(ex, async () => {
      const r = compile(readFileSync(`examples/${ex}`, "utf8"), { fileName: ex, target: "all" });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
      const env: Record<string, number> = Object.fromEntries(r.graph.symbols.map((s) => [s, 24]));
      const inputs = r.graph.inputs.map((io, i) => {
        const shape = evalDims(r.graph.values[io.value].shape, env);
        return { name: io.name, shape, data: initialise({ kind: "uniform", low: -1, high: 1, seed: 100 + i }, shape, 1, 1) };
      });
      const net = await r.load({ backend: "webgpu" });
      try {
        expect(net.backend).toBe("webgpu");
        const got = await net.run(Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, shape: t.shape }])));
        const ref = interpret(r.graph, new Map(inputs.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data) }])));
        for (const [name, want] of ref) {
          const y = got[name];
          expect(y.shape).toEqual([1, ...want.shape]);
          let diff = 0;
          let scale = 0;
          want.data.forEach((v, i) => {
            diff = Math.max(diff, Math.abs(v - y.data[i]));
            scale = Math.max(scale, Math.abs(v));
          });
          expect(diff / Math.max(1, scale), name).toBeLessThan(1e-4);
        }
      } finally {
        net.dispose();
      }
    });
  }
});
