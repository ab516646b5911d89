// direct_simd with a fused pool (backends/wasm/direct-simd.ts): random convolutions (1-D to
// 3-D, stride, dilation, padding, groups, flip, bias) followed by ReLU-like activations and a
// max or average pool whose windows tile the output (stride = window, 1 or 2 on the last
// axis, up to 3 on the others and at most 4 rows in all), compiled through the real pipeline with direct_simd asked for,
// are one kernel that equals the reference interpreter on the unfused graph. The kernel
// accumulates in f32: bound 5e-7 relative to the output's largest magnitude (measured worst
// 2.0e-7 over the 100 cases); the pools it cannot do stay a step of their own.
import { describe, expect, it } from "vitest";
import { type Case, runCase } from "../fusion-cases.js";
import { Rng } from "./plan-helper.js";
import { MAX_POOL_ROWS } from "../../../compiler/backends/wasm/direct-simd.js";

const CASES = 100;
const BOUND = 5e-7;
const list = (xs: readonly number[]) => `[${xs.join(", ")}]`;

function pooledCase(rng: Rng): Case {
  const rank = rng.pick([1, 2, 2, 3]);
  // The leading axes' windows span at most MAX_POOL_ROWS rows (the kernel convolves each in code).
  let window: number[];
  do window = Array.from({ length: rank }, (_, i) => (i === rank - 1 ? rng.pick([1, 2, 2]) : rng.int(1, 3)));
  while (window.slice(0, -1).reduce((a, b) => a * b, 1) > MAX_POOL_ROWS);
  const kernel = Array.from({ length: rank }, () => rng.int(1, rank === 1 ? 7 : 3));
  const stride = Array.from({ length: rank }, () => rng.pick([1, 1, 2]));
  const dilation = Array.from({ length: rank }, () => rng.pick([1, 1, 1, 2]));
  const depthwise = rng.next() < 0.3;
  const groups = depthwise ? rng.int(1, 6) : rng.pick([1, 1, 2]);
  const channels = depthwise ? groups : groups * rng.int(1, 3);
  const filters = depthwise ? groups : groups * rng.int(1, 6);
  const input = [channels, ...Array.from({ length: rank }, (_, i) => rng.int(2, i === rank - 1 ? (rank === 1 ? 60 : 30) : rank === 3 ? 7 : 12) + (kernel[i] - 1) * dilation[i])];
  const pad = rng.pick(["valid", "same", "[[1, 0]]"]);
  const args = [`${filters}`, list(kernel), `stride: ${list(stride)}`, `dilation: ${list(dilation)}`, `pad: ${pad === "[[1, 0]]" ? `[${kernel.map(() => "[1, 0]").join(", ")}]` : pad}`];
  args.push(`groups: ${groups}`, `bias: ${rng.pick(["channel", "channel", "none"])}`);
  if (rng.bool()) args.push("flip: true");
  const act = () => rng.pick([undefined, "relu", "relu", "leaky_relu(0.1)"]);
  const c: Case = {
    description: "",
    input,
    producer: `conv(${args.join(", ")})`,
    flatten: false,
    pre: act(),
    pool: `${rng.pick(["max", "max", "avg"])}pool(${list(window)}, stride: ${list(window)})`,
    after: rng.pick([undefined, "relu"]),
  };
  return { ...c, description: `${list(input)}: ${c.producer} |> ${c.pre ?? "-"} |> ${c.pool} |> ${c.after ?? "-"}` };
}

describe("direct_simd with a fused pool", () => {
  it(`${CASES} random convolutions with a tiling max or avg pool are one kernel equal to the unfused reference (bound ${BOUND})`, async () => {
    let worst = 0;
    let done = 0;
    for (let seed = 7000; done < CASES; seed++) {
      const c = pooledCase(new Rng(seed));
      const r = await runCase(c, seed, "wasm", { algorithms: { p: "direct_simd" } });
      if (!r) continue;
      const steps = r.fused.plan.steps;
      expect(steps.map((s) => [s.op.kind, s.algorithm?.name, s.pool?.op.mode]), c.description).toEqual([["conv", "direct_simd", c.pool?.slice(0, 3)]]);
      expect(r.error, `${c.description} (seed ${seed})`).toBeLessThanOrEqual(BOUND);
      worst = Math.max(worst, r.error);
      done++;
    }
    console.log(`direct_simd + pool: max relative error ${worst.toExponential(2)} over ${CASES} layers`);
  }, 120_000);

  it("a pool it cannot compute (overlapping windows, lp, wider than 2 on the last axis, more than 4 rows) stays apart", async () => {
    const cases: [number[], string][] = [
      [[2, 40], "maxpool(3, stride: 2)"],
      [[2, 40], "lppool(2, p: 2)"],
      [[2, 40], "maxpool(4)"],
      [[1, 6, 6, 8], "maxpool([3, 3, 1], stride: [3, 3, 1])"],
    ];
    for (const [input, pool] of cases) {
      const c: Case = { description: pool, input, producer: input.length === 2 ? "conv(4, 3)" : "conv(4, [3, 3, 3], pad: same)", flatten: false, pre: "relu", pool };
      const r = await runCase(c, 1, "wasm", { algorithms: { p: "direct_simd" } });
      expect(r?.fused.plan.steps.map((s) => [s.op.kind, s.algorithm?.name ?? "-"])).toEqual([
        ["conv", "direct_simd"],
        ["pool", "-"],
      ]);
      expect(r?.error).toBeLessThanOrEqual(BOUND);
    }
  });
});
