// Dense layers on the WebAssembly backend equal the reference: with and without bias, on
// flat and on [C, H, W] inputs (flattened row-major), small and long reductions.
import { describe, expect, it } from "vitest";
import type { DenseOp } from "../../../compiler/ir/ops.js";
import { checkLayer, PlanBuilder, relativeError, Rng, runWasm, TOLERANCE } from "./plan-helper.js";

const dense = (units: number, bias: "channel" | "none"): DenseOp => ({ kind: "dense", units, bias });

describe("wasm dense", () => {
  it("flat input with bias", async () => {
    expect(await checkLayer([[20]], dense(7, "channel"), 1)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("flat input without bias", async () => {
    expect(await checkLayer([[20]], dense(7, "none"), 2)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("[C, H, W] input, flattened", async () => {
    expect(await checkLayer([[3, 4, 5]], dense(10, "channel"), 3)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("a long reduction (4096 inputs)", async () => {
    expect(await checkLayer([[16, 16, 16]], dense(3, "channel"), 4)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("one unit, one input", async () => {
    expect(await checkLayer([[1]], dense(1, "channel"), 5)).toBeLessThanOrEqual(TOLERANCE);
  });
  for (let seed = 1; seed <= 24; seed++) {
    const rng = new Rng(900 + seed);
    const shape = Array.from({ length: rng.int(1, 4) }, () => rng.int(1, 6));
    const op = dense(rng.int(1, 12), rng.pick(["channel", "none"] as const));
    it(`random ${seed}: [${shape}] -> ${op.units}, bias ${op.bias}`, async () => {
      const epi = seed % 3 === 0 ? ([{ kind: "activation", fn: "relu", alpha: 0 }] as const) : [];
      expect(await checkLayer([shape], op, seed, epi)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
  it("two dense layers in a row (an MLP)", async () => {
    const rng = new Rng(6);
    const b = new PlanBuilder();
    const x = b.input("x", [12]);
    const h = b.layer(dense(9, "channel"), [x], rng, [{ kind: "activation", fn: "sigmoid", alpha: 0 }]);
    b.output("y", b.layer(dense(4, "none"), [h], rng));
    const input = rng.f32(12);
    const [got] = await runWasm(b.build(), [input]);
    expect(relativeError(got, b.reference([input])[0])).toBeLessThanOrEqual(TOLERANCE);
  });
});
