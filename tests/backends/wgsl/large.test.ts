// A genuinely large 3-D volume with the WebGPU defaults: a [1, 336, 336, 336] scan is 152 MB,
// over the 128 MiB maxStorageBufferBindingSize, so no binding may hold it whole. A same-padded
// 3x3x3 convolution (+ relu) and a 2x2x2 max pool run on it as several dispatches over
// sub-ranges of one GPU buffer per activation; checked against direct loops over the formula
// (the reference interpreter's generic loops would take minutes at this size), everywhere
// for the pool and on sampled outputs for the convolution.

import { describe, expect, it } from "vitest";
import type { ConvOp, PoolOp } from "../../../compiler/ir/ops.js";
import { chainPlan, randomData, runOnWebGpu, testAdapter } from "./plan-helper.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;

const N = 336;
const conv: ConvOp = { kind: "conv", filters: 1, kernel: [3, 3, 3], stride: [1, 1, 1], dilation: [1, 1, 1], pad: { kind: "same" }, groups: 1, flip: false, bias: "channel" };
const pool: PoolOp = { kind: "pool", mode: "max", window: [2, 2, 2], stride: [2, 2, 2], dilation: [1, 1, 1], pad: { kind: "valid" }, ceil: false, countPad: false, p: 2, sigma: 1 };

describe("a volume larger than one storage binding", () => {
  gpuIt(`conv 3x3x3 + relu, then maxpool 2x2x2, on [1, ${N}, ${N}, ${N}]`, { timeout: 120_000 }, async () => {
    const { plan } = chainPlan([conv, { kind: "activation", fn: "relu", alpha: 0 }, pool], [1, N, N, N], 2);
    const x = randomData(N * N * N, 77);
    const t0 = Date.now();
    const { output, wgsl } = await runOnWebGpu(plan, [x]);
    const elapsed = Date.now() - t0;
    const m = wgsl.manifest;
    const dispatches = m.commands.filter((c) => c.kind === "dispatch");
    // Every binding within the default limit, and the big steps split.
    for (const c of dispatches) {
      if (c.kind !== "dispatch") continue;
      for (const b of c.bindings) expect(4 * Number(b.size ?? m.buffers[b.buffer].elements)).toBeLessThanOrEqual(128 * 1024 * 1024);
    }
    expect(dispatches.length).toBeGreaterThan(3);

    // The oracle: direct loops in float64 for the sampled conv outputs, then relu and the pool.
    const w = plan.weightData.subarray(0, 27);
    const bias = plan.weightData[plan.steps[0].bias?.offset ?? 0];
    const at = (z: number, y: number, xx: number) => z * N * N + y * N + xx;
    const convAt = (z: number, y: number, xx: number): number => {
      let s = bias;
      for (let a = 0; a < 3; a++)
        for (let b = 0; b < 3; b++)
          for (let c = 0; c < 3; c++) {
            const p = z + a - 1;
            const q = y + b - 1;
            const r = xx + c - 1;
            if (p >= 0 && p < N && q >= 0 && q < N && r >= 0 && r < N) s += x[at(p, q, r)] * w[a * 9 + b * 3 + c];
          }
      return Math.max(s, 0);
    };
    const M = N / 2;
    expect(output.length).toBe(M * M * M);
    let worst = 0;
    let checked = 0;
    // Every output of the first and last planes, and a lattice through the volume.
    for (let k = 0; k < M; k++)
      for (let j = 0; j < M; j++)
        for (let i = 0; i < M; i++) {
          if (!(k === 0 || k === M - 1 || (k % 17 === 0 && j % 5 === 0 && i % 3 === 0))) continue;
          let want = -Infinity;
          for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) for (let c = 0; c < 2; c++) want = Math.max(want, convAt(2 * k + a, 2 * j + b, 2 * i + c));
          worst = Math.max(worst, Math.abs(output[(k * M + j) * M + i] - want));
          checked++;
        }
    expect(checked).toBeGreaterThan(50_000);
    expect(worst).toBeLessThan(1e-4);
    if (process.env.CNNC_PRINT) console.log(`${elapsed} ms on the GPU side, ${dispatches.length} dispatches, ${checked} outputs checked, worst ${worst}`);
  });
});
