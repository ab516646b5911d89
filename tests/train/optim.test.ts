// The optimisers, schedules and gradient clipping against PyTorch 1.13 (fixtures/optim.py made
// optim.json): seven steps of fixed gradients on two tensors, every configuration.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { applyUpdate, DEFAULT_OPTIMISER, newState, type OptimiserConfig } from "../../compiler/train/optim.js";

interface Fixture {
  w0: number[][];
  grads: number[][][];
  cases: { config: Partial<OptimiserConfig>; result: number[][] }[];
}
const fx = JSON.parse(readFileSync(new URL("./fixtures/optim.json", import.meta.url), "utf8")) as Fixture;

describe("optimisers against PyTorch", () => {
  for (const c of fx.cases) {
    it(`${c.config.kind} ${JSON.stringify(c.config)}`, () => {
      const config: OptimiserConfig = { ...DEFAULT_OPTIMISER, ...c.config };
      const state = newState();
      const ws = fx.w0.map((w) => ({ shape: [w.length], data: Float64Array.from(w) }));
      for (const gs of fx.grads) {
        const params = new Map(ws.map((w, i) => [`p${i}`, { weight: w, grad: { shape: w.shape, data: Float64Array.from(gs[i]) } }]));
        applyUpdate(config, state, params);
      }
      ws.forEach((w, i) => c.result[i].forEach((v, k) => expect(w.data[k]).toBeCloseTo(v, 12)));
    });
  }
});
