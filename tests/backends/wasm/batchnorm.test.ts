// Batch normalisation and maxout on the WebAssembly backend equal the reference: flat,
// 1-D to 3-D inputs, several eps, a fused epilogue, and both on symbolic sizes.
import { describe, expect, it } from "vitest";
import * as D from "../../../compiler/ir/dim.js";
import type { BatchNormOp, MaxoutOp } from "../../../compiler/ir/ops.js";
import { checkLayer, PlanBuilder, relativeError, Rng, runWasm, TOLERANCE } from "./plan-helper.js";

const relu = [{ kind: "activation", fn: "relu", alpha: 0 }] as const;
const shapeOf = (rng: Rng, channels: number) => [channels, ...Array.from({ length: rng.int(0, 3) }, () => rng.int(1, 7))];

describe("wasm batchnorm", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rng = new Rng(3400 + seed);
    const shape = shapeOf(rng, rng.int(1, 6));
    const op: BatchNormOp = { kind: "batchnorm", eps: rng.pick([1e-5, 1e-3, 0.1]) };
    it(`seed ${seed}: x[${shape}] eps ${op.eps}`, async () => {
      expect(await checkLayer([shape], op, seed, seed % 3 === 0 ? relu : [], 3)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("wasm maxout", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rng = new Rng(3500 + seed);
    const k = rng.int(1, 4);
    const shape = shapeOf(rng, k * rng.int(1, 4));
    const op: MaxoutOp = { kind: "maxout", k };
    it(`seed ${seed}: x[${shape}] k ${k}`, async () => {
      expect(await checkLayer([shape], op, seed, seed % 3 === 0 ? relu : [])).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("wasm batchnorm and maxout on symbolic sizes", () => {
  it("batchnorm then maxout(2) on [6, H, W] at three sizes", async () => {
    const rng = new Rng(31);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [6, D.sym("H"), D.sym("W")]);
    const n = b.layer({ kind: "batchnorm", eps: 1e-5 }, [x], rng);
    b.output("y", b.layer({ kind: "maxout", k: 2 }, [n], rng, relu));
    const plan = b.build("bn");
    for (const [h, w] of [[3, 4], [9, 1], [6, 7]]) {
      const env = { H: h, W: w };
      const input = rng.f32(6 * h * w, 3);
      const [got] = await runWasm(plan, [input], env);
      const [want] = b.reference([input], env);
      expect(relativeError(got, want), `${h}x${w}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});
