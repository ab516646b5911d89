// The pointwise micro-kernel (compiler/backends/wasm/pointwise.ts), direct_simd's variant for
// 1x1 stride-1 unpadded layers of one group: equal to the reference (float64 direct
// convolution) on seeded random layers, 1-D to 3-D, with filter counts that leave partial
// filter blocks, position counts that leave partial vectors and blocks, both bias kinds it
// takes, and every epilogue (a sigmoid goes through the scalar path); and with symbolic sizes,
// one module run at three sizes. Accumulation is f32 over C terms: bound 5e-7 relative to the
// output's largest magnitude, as direct_simd's (measured worst printed by the test).
import { describe, expect, it } from "vitest";
import type { ConvOp } from "../../compiler/ir/ops.js";
import * as D from "../../compiler/ir/dim.js";
import type { Epilogue, Plan } from "../../compiler/plan/plan.js";
import { isPointwise } from "../../compiler/backends/wasm/pointwise.js";
import { PlanBuilder, relativeError, Rng, runWasm } from "../backends/wasm/plan-helper.js";

const BOUND = 5e-7;

interface PointwiseConfig {
  readonly input: number[];
  readonly op: ConvOp;
  readonly epilogue: Epilogue[];
}

function pointwiseConfig(rng: Rng): PointwiseConfig {
  const d = rng.pick([1, 2, 2, 3]);
  const c = rng.int(1, 40);
  const filters = rng.int(1, 13);
  const input = [c, ...Array.from({ length: d }, (_, i) => rng.int(1, i === d - 1 ? 37 : d === 3 ? 5 : 9))];
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel: input.slice(1).map(() => 1),
    stride: input.slice(1).map(() => 1),
    dilation: input.slice(1).map(() => rng.pick([1, 2])),
    pad: rng.pick([{ kind: "valid" }, { kind: "same" }, { kind: "explicit", before: input.slice(1).map(() => 0), after: input.slice(1).map(() => 0) }] as const),
    groups: 1,
    flip: rng.bool(),
    bias: rng.pick(["channel", "none"] as const),
  };
  const fn = rng.pick(["none", "relu", "leaky_relu", "sigmoid"] as const);
  return { input, op, epilogue: fn === "none" ? [] : [{ kind: "activation", fn, alpha: 0.1 }] };
}

function asDirectSimd(plan: Plan): Plan {
  const steps = plan.steps.map((s) => ({ ...s, algorithm: { name: "direct_simd" as const, reason: "test" } }));
  for (const s of steps) if (s.op.kind === "conv" && !isPointwise(s, s.op)) throw new Error("internal error: the test layer is not pointwise");
  return { ...plan, steps };
}

describe("the pointwise micro-kernel (direct_simd on 1x1 layers) equals the reference", () => {
  it(`on 60 random 1x1 layers, 1-D to 3-D, odd filter and position counts (bound ${BOUND})`, async () => {
    let worst = 0;
    for (let seed = 91000; seed < 91060; seed++) {
      const rng = new Rng(seed);
      const c = pointwiseConfig(rng);
      const b = new PlanBuilder();
      b.output("y", b.layer(c.op, [b.input("x", c.input)], rng, c.epilogue));
      const input = rng.f32(c.input.reduce((a, v) => a * v, 1), 2);
      const [got] = await runWasm(asDirectSimd(b.build()), [input]);
      const [want] = b.reference([input]);
      const err = relativeError(got, want);
      if (!(err <= BOUND)) throw new Error(`seed ${seed}: ${JSON.stringify(c)}: relative error ${err}`);
      worst = Math.max(worst, err);
    }
    console.log(`pointwise: max relative error ${worst.toExponential(2)} over 60 layers`);
    expect(worst).toBeLessThanOrEqual(BOUND);
  });

  it("with symbolic sizes: 8 layers, each at 3 input sizes from one module", async () => {
    const { emitWasm } = await import("../../compiler/backends/wasm/module.js");
    const { WasmExecutor } = await import("../../runtime/wasm.js");
    for (let seed = 92000; seed < 92008; seed++) {
      const rng = new Rng(seed);
      const c = pointwiseConfig(rng);
      const d = c.input.length - 1;
      const symbols = ["D", "H", "W"].slice(3 - d);
      const b = new PlanBuilder(symbols);
      b.output("y", b.layer(c.op, [b.input("x", [c.input[0], ...symbols.map((s) => D.sym(s))])], rng, c.epilogue));
      const plan = asDirectSimd(b.build());
      const emitted = emitWasm(plan);
      const exec = await WasmExecutor.create(emitted, emitted.manifest, plan.weightData);
      for (const grow of [0, 5, 2]) {
        const sizes = c.input.slice(1).map((m, i) => m + (i === d - 1 ? 2 * grow + 1 : grow));
        const env = Object.fromEntries(symbols.map((s, i) => [s, sizes[i]]));
        const input = rng.f32(c.input[0] * sizes.reduce((a, v) => a * v, 1), 2);
        const [got] = exec.runSample(env, symbols, [input]);
        const [want] = b.reference([input], env);
        const err = relativeError(got, want);
        if (!(err <= BOUND)) throw new Error(`seed ${seed} at ${sizes.join("x")}: relative error ${err}`);
      }
    }
  });
});
