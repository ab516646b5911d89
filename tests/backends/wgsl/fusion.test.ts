// Fusion on the WebGPU backend (issue 5): random convolution-like producers with a fused
// activation, residual add and pool (see ../fusion-cases.ts), compiled through the real
// pipeline for WebGPU with fusion on, equal the reference interpreter run on the UNFUSED graph
// to 1e-4 of max(1, the output's largest magnitude) (f32 accumulation, as the other WebGPU
// tests). And fused steps split for maxStorageBufferBindingSize: the windows of a range of
// pooled outputs bind only the input, weights and residual elements they read.
import { describe, expect, it } from "vitest";
import type { WebGpuManifest } from "../../../runtime/manifest.js";
import { type Case, type Producer, runCase, runRandomCases } from "../fusion-cases.js";
import { testAdapter } from "./plan-helper.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;
const TOLERANCE = 1e-4;

const PRODUCERS: readonly Producer[] = ["conv", "local", "tiled", "deconv", "dense"];
const CASES = 12;

function bindingsWithin(m: WebGpuManifest, bytes: number): boolean {
  return m.commands.every(
    (c) =>
      c.kind !== "dispatch" ||
      c.bindings.every((b) => {
        const size = b.size ?? m.buffers[b.buffer].elements;
        return typeof size === "number" && 4 * size <= bytes;
      }),
  );
}

describe("webgpu fusion: fused producers equal the unfused reference", () => {
  PRODUCERS.forEach((kind, k) => {
    gpuIt(`${kind}: ${CASES} random configurations with fused activation, residual add and pool`, { timeout: 180_000 }, async () => {
      await runRandomCases(
        kind,
        CASES,
        70 + k,
        (c, r, seed) => {
          expect(r.errorMax1, `${c.description} (seed ${seed})`).toBeLessThan(TOLERANCE);
        },
        "webgpu",
      );
    });
  });

  gpuIt("an overlapping dilated gauss pool and a 3-D ceil-mode avg pool counting padding", async () => {
    const cases: Case[] = [
      {
        description: "gauss",
        input: [2, 12, 11],
        producer: "conv(3, 3x3, pad: same)",
        flatten: false,
        pre: "leaky_relu(0.2)",
        add: "left",
        pool: "gausspool(3x3, stride: 1, dilation: 2, pad: 2, sigma: 1.3)",
        after: "sigmoid",
      },
      {
        description: "3-D avg",
        input: [4, 7, 6, 5],
        producer: "conv(6, [3, 2, 3], stride: [1, 2, 1], pad: [[1, 1], [0, 1], [2, 0]], groups: 2)",
        flatten: false,
        add: "right",
        post: "relu",
        pool: "avgpool([2, 2, 3], stride: [2, 1, 2], pad: [[1, 0], [1, 1], [1, 1]], ceil: true, count_pad: true)",
        after: "tanh",
      },
    ];
    for (const [k, c] of cases.entries()) {
      const r = await runCase(c, 90 + k, "webgpu");
      expect(r?.fused.plan.steps.length, c.description).toBe(1);
      expect(r?.errorMax1, c.description).toBeLessThan(TOLERANCE);
    }
  });
});

describe("webgpu fusion: splitting a fused step for maxStorageBufferBindingSize", () => {
  const limit = 4096;
  // Each stays one fused kernel, split over ranges of pooled outputs.
  const cases: Case[] = [
    {
      description: "conv + residual + relu + maxpool ceil",
      input: [1, 48, 46],
      producer: "conv(4, 3x3, pad: same)",
      flatten: false,
      add: "right",
      post: "relu",
      pool: "maxpool(2, ceil: true)",
    },
    {
      description: "local (weights over the limit) + avgpool with padding",
      input: [2, 14, 14],
      producer: "local(3, 3x3, pad: same)",
      flatten: false,
      pre: "tanh",
      pool: "avgpool(3, stride: 2, pad: 1)",
    },
    {
      description: "deconv stride 2 + residual + l2pool",
      input: [3, 12, 12],
      producer: "deconv(2, 3x3, stride: 2, size: [25, 25])",
      flatten: false,
      add: "left",
      pool: "l2pool(2)",
      after: "sigmoid",
    },
  ];
  for (const [k, c] of cases.entries()) {
    gpuIt(c.description, async () => {
      const r = await runCase(c, 110 + k, "webgpu", { webgpuLimits: { maxStorageBufferBindingSize: limit } });
      if (!r) throw new Error("the case does not compile");
      const m = r.fused.artifacts.manifest.webgpu;
      if (!m) throw new Error("no WebGPU manifest");
      expect(r.fused.plan.steps.length).toBe(1);
      expect(m.buffers.filter((b) => b.kind === "scratch")).toEqual([]);
      expect(m.commands.filter((cmd) => cmd.kind === "dispatch").length).toBeGreaterThan(1);
      expect(bindingsWithin(m, limit)).toBe(true);
      expect(r.errorMax1).toBeLessThan(TOLERANCE);
    });
  }

  gpuIt("where one pooled output's windows read more than a binding holds, the step runs unfused through scratch", async () => {
    // Every output reads all 3 channels' planes (6 KiB), over the limit: only a split channel sum fits.
    const c: Case = {
      description: "conv over 3 channels + residual + relu + maxpool",
      input: [3, 24, 22],
      producer: "conv(4, 3x3, pad: same)",
      flatten: false,
      add: "right",
      post: "relu",
      pool: "maxpool(2, ceil: true)",
      after: "sigmoid",
    };
    const r = await runCase(c, 120, "webgpu", { webgpuLimits: { maxStorageBufferBindingSize: limit } });
    if (!r) throw new Error("the case does not compile");
    const m = r.fused.artifacts.manifest.webgpu;
    if (!m) throw new Error("no WebGPU manifest");
    expect(r.fused.plan.steps.length).toBe(1);
    expect(m.buffers.filter((b) => b.kind === "scratch").map((b) => [b.layer, b.elements])).toEqual([["p", 4 * 24 * 22]]);
    expect(bindingsWithin(m, limit)).toBe(true);
    expect(r.errorMax1).toBeLessThan(TOLERANCE);
  });
});
