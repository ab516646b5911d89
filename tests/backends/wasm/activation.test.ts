// Activations and softmax on the WebAssembly backend equal the reference.
import { describe, expect, it } from "vitest";
import type { ActivationFn, ActivationOp } from "../../../compiler/ir/ops.js";
import { checkLayer, Rng, TOLERANCE } from "./plan-helper.js";

const act = (fn: ActivationFn, alpha = 0): ActivationOp => ({ kind: "activation", fn, alpha });
const fns: ActivationFn[] = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"];

describe("wasm activation", () => {
  for (const fn of fns) {
    it(`${fn} on [3, 5, 7]`, async () => {
      expect(await checkLayer([[3, 5, 7]], act(fn, 0.2), 1)).toBeLessThanOrEqual(TOLERANCE);
    });
    it(`${fn} on a flat vector`, async () => {
      expect(await checkLayer([[33]], act(fn, 0.01), 2)).toBeLessThanOrEqual(TOLERANCE);
    });
    it(`${fn} on a 3-D volume, as an epilogue after identity`, async () => {
      const epi = [{ kind: "activation", fn, alpha: 0.3 }] as const;
      expect(await checkLayer([[2, 3, 4, 5]], act("identity"), 3, epi)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
  it("leaky relu with a slope above 1", async () => {
    expect(await checkLayer([[4, 4]], act("leaky_relu", 2.5), 4)).toBeLessThanOrEqual(TOLERANCE);
  });
  for (let seed = 1; seed <= 12; seed++) {
    const rng = new Rng(1100 + seed);
    const shape = Array.from({ length: rng.int(1, 4) }, () => rng.int(1, 6));
    const op = act(rng.pick(fns), rng.next());
    it(`random ${seed}: ${op.fn} [${shape}]`, async () => {
      expect(await checkLayer([shape], op, seed)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("wasm softmax", () => {
  const cases: number[][] = [[10], [1], [4, 5, 6], [7, 3], [3, 2, 3, 4], [1, 4, 4]];
  cases.forEach((shape, i) => {
    it(`[${shape}]`, async () => {
      expect(await checkLayer([shape], { kind: "softmax" }, 10 + i)).toBeLessThanOrEqual(TOLERANCE);
    });
  });
  it("large logits do not overflow (the max is subtracted)", async () => {
    // Inputs in [-1000, 1000): exp of them alone would overflow to Infinity.
    expect(await checkLayer([[50, 2]], { kind: "softmax" }, 20, [], 1000)).toBeLessThanOrEqual(TOLERANCE);
  });
  for (let seed = 1; seed <= 12; seed++) {
    const rng = new Rng(1200 + seed);
    const shape = Array.from({ length: rng.int(1, 4) }, () => rng.int(1, 8));
    it(`random ${seed}: [${shape}]`, async () => {
      const epi = seed % 4 === 0 ? ([{ kind: "activation", fn: "tanh", alpha: 0 }] as const) : [];
      expect(await checkLayer([shape], { kind: "softmax" }, seed, epi)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
