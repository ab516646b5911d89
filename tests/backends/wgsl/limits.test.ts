// Networks that need more than a WebGPU limit allows still run: compiled against an
// artificially low maxStorageBufferBindingSize (so the tensors stay small and the test fast),
// steps are split into dispatches over sub-ranges, and conv / dense reductions into chunks
// accumulated in the output; every binding stays within the limit and the result equals the
// reference. Where splitting cannot help, the error names the layer and the limit. Long
// dispatches are folded onto a 3-D grid (tested with a tiny per-dimension limit).

import { describe, expect, it } from "vitest";
import { emitWgsl, GpuLimitError } from "../../../compiler/backends/wgsl/module.js";
import type { ConvOp, Op, PoolOp } from "../../../compiler/ir/ops.js";
import { chainPlan, executorFor, oneStepPlan, randomData, referenceOf, relError, runOnWebGpu, testAdapter } from "./plan-helper.js";
import type { WebGpuManifest } from "../../../runtime/manifest.js";

const adapter = await testAdapter();
const gpuIt = adapter || process.env.CI ? it : it.skip;
const TOLERANCE = 1e-4;

const conv = (filters: number, kernel: number[], pad: ConvOp["pad"] = { kind: "same" }, groups = 1): ConvOp => ({
  kind: "conv",
  filters,
  kernel,
  stride: kernel.map(() => 1),
  dilation: kernel.map(() => 1),
  pad,
  groups,
  flip: false,
  bias: "channel",
});
const pool = (mode: PoolOp["mode"], window: number[], pad: PoolOp["pad"] = { kind: "valid" }): PoolOp => ({
  kind: "pool",
  mode,
  window,
  stride: window,
  dilation: window.map(() => 1),
  pad,
  ceil: true,
  countPad: false,
  p: 2,
  sigma: 1,
});

/** Every dispatch's every binding, in bytes, is within `limit`. */
function bindingsWithin(m: WebGpuManifest, limit: number): boolean {
  return m.commands.every(
    (c) =>
      c.kind !== "dispatch" ||
      c.bindings.every((b) => {
        const size = b.size ?? m.buffers[b.buffer].elements;
        return typeof size === "number" && 4 * size <= limit;
      }),
  );
}

const dispatches = (m: WebGpuManifest) => m.commands.filter((c) => c.kind === "dispatch").length;

describe("splitting for maxStorageBufferBindingSize", () => {
  const small: { name: string; op: Op; shapes: number[][]; limit: number }[] = [
    // One output's input rows span every channel's plane: the channels are chunked (split-K).
    { name: "conv 3x3 over 3 channels of 20x20", op: conv(4, [3, 3]), shapes: [[3, 20, 20]], limit: 2048 },
    { name: "grouped conv", op: conv(4, [3, 3], { kind: "same" }, 2), shapes: [[4, 16, 16]], limit: 2048 },
    { name: "conv 3-D", op: conv(2, [3, 3, 3]), shapes: [[2, 8, 9, 10]], limit: 2048 },
    { name: "relu", op: { kind: "activation", fn: "relu", alpha: 0 }, shapes: [[4, 30, 30]], limit: 2048 },
    { name: "maxpool ceil", op: pool("max", [2, 2]), shapes: [[2, 41, 39]], limit: 2048 },
    { name: "gausspool with padding", op: { ...pool("gauss", [3, 3], { kind: "same" }), stride: [1, 1] }, shapes: [[2, 30, 30]], limit: 2048 },
    { name: "adaptive avg", op: { kind: "adaptive_pool", mode: "avg", out: [7, 5] }, shapes: [[3, 28, 20]], limit: 2048 },
    { name: "dense over 2000 inputs (cooperative, split-K)", op: { kind: "dense", units: 10, bias: "channel" }, shapes: [[2000]], limit: 1024 },
    { name: "dense short rows, many units", op: { kind: "dense", units: 300, bias: "channel" }, shapes: [[40]], limit: 2048 },
    { name: "softmax", op: { kind: "softmax" }, shapes: [[2, 400]], limit: 2048 },
    { name: "broadcast add", op: { kind: "add" }, shapes: [[3, 20, 20], [3, 1, 20]], limit: 2048 },
    { name: "concat", op: { kind: "concat" }, shapes: [[2, 20, 20], [3, 20, 20]], limit: 2048 },
    // A locally connected layer's weight (a kernel per output) is the big tensor here.
    { name: "local (weight over the limit)", op: { kind: "local", filters: 3, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: { kind: "valid" }, bias: "location" }, shapes: [[2, 12, 12]], limit: 2048 },
    { name: "tiled", op: { kind: "tiled", filters: 3, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: { kind: "same" }, tiles: [2, 3], bias: "tiled" }, shapes: [[3, 16, 16]], limit: 2048 },
    { name: "deconv stride 2", op: { kind: "deconv", filters: 2, kernel: [3, 3], stride: [2, 2], dilation: [1, 1], pad: { kind: "valid" }, groups: 1, out: [25, 25], bias: "channel" }, shapes: [[3, 12, 12]], limit: 2048 },
    { name: "batchnorm", op: { kind: "batchnorm", eps: 1e-5 }, shapes: [[3, 20, 20]], limit: 2048 },
    { name: "maxout", op: { kind: "maxout", k: 2 }, shapes: [[4, 20, 20]], limit: 2048 },
  ];
  gpuIt("conv with a fused residual add, split", async () => {
    const shapes = [[3, 20, 20], [4, 20, 20]];
    const s = oneStepPlan(conv(4, [3, 3]), shapes, { seed: 4, epilogue: [{ kind: "add", input: 1 }, { kind: "activation", fn: "relu", alpha: 0 }] });
    const inputs = shapes.map((shape, k) => ({ shape, data: randomData(shape.reduce((a, b) => a * b, 1), 60 + k) }));
    const { output, wgsl } = await runOnWebGpu(s.plan, inputs.map((i) => i.data), {}, { limits: { maxStorageBufferBindingSize: 2048 } });
    expect(bindingsWithin(wgsl.manifest, 2048)).toBe(true);
    expect(relError(output, referenceOf(s, inputs).data)).toBeLessThan(TOLERANCE);
  });

  for (const c of small) {
    gpuIt(c.name, async () => {
      const s = oneStepPlan(c.op, c.shapes, { seed: 3 });
      const inputs = c.shapes.map((shape, k) => ({ shape, data: randomData(shape.reduce((a, b) => a * b, 1), 40 + k) }));
      const want = referenceOf(s, inputs);
      const { output, wgsl } = await runOnWebGpu(s.plan, inputs.map((i) => i.data), {}, { limits: { maxStorageBufferBindingSize: c.limit } });
      expect(dispatches(wgsl.manifest)).toBeGreaterThan(c.op.kind === "concat" ? 2 : 1);
      expect(bindingsWithin(wgsl.manifest, c.limit)).toBe(true);
      expect(wgsl.manifest.limits.maxStorageBufferBindingSize).toBeLessThanOrEqual(c.limit);
      expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
    });
  }

  gpuIt("a whole network (conv, relu, pool, dense, softmax) whose activations exceed the binding limit", async () => {
    const ops: Op[] = [
      conv(6, [3, 3]),
      { kind: "activation", fn: "relu", alpha: 0 },
      pool("max", [2, 2]),
      conv(8, [3, 3], { kind: "valid" }),
      { kind: "adaptive_pool", mode: "avg", out: [4, 4] },
      { kind: "dense", units: 10, bias: "channel" },
      { kind: "softmax" },
    ];
    const { plan, reference } = chainPlan(ops, [3, 32, 32], 5);
    const x = randomData(3 * 32 * 32, 9);
    const limit = 4096;
    const { output, wgsl } = await runOnWebGpu(plan, [x], {}, { limits: { maxStorageBufferBindingSize: limit } });
    expect(bindingsWithin(wgsl.manifest, limit)).toBe(true);
    expect(dispatches(wgsl.manifest)).toBeGreaterThan(ops.length);
    expect(relError(output, reference(x).data)).toBeLessThan(TOLERANCE);
  });

  it("names the layer and the limit when one output needs more than a binding", () => {
    // One output reads two rows of a 600-wide channel (602 floats): over 512, whatever the split.
    const s = oneStepPlan(conv(2, [3, 3]), [[1, 8, 600]]);
    let error: unknown;
    try {
      emitWgsl(s.plan, { limits: { maxStorageBufferBindingSize: 2048 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GpuLimitError);
    expect((error as Error).message).toBe(
      "layer layer: one conv output reads 2.4 KiB through one storage binding, over maxStorageBufferBindingSize (2 KiB); splitting the layer cannot help",
    );
    expect((error as GpuLimitError).limit).toBe("maxStorageBufferBindingSize");
  });

  it("does not split what fits, and says what the network needs", () => {
    const s = oneStepPlan(conv(4, [3, 3]), [[3, 20, 20]]);
    const { manifest } = emitWgsl(s.plan);
    expect(dispatches(manifest)).toBe(1);
    expect(manifest.commands[0].kind === "dispatch" && manifest.commands[0].bindings.every((b) => b.offset === undefined)).toBe(true);
    expect(manifest.limits).toEqual({
      maxStorageBuffersPerShaderStage: 4,
      maxStorageBufferBindingSize: 4 * 4 * 400,
      maxComputeWorkgroupsPerDimension: 65535,
      maxComputeWorkgroupStorageSize: 0,
      maxComputeInvocationsPerWorkgroup: 64,
    });
  });
});

describe("symbolic sizes past a binding", () => {
  gpuIt("are checked when the sizes are bound, naming the layer and the limit", async () => {
    const T = { op: "sym", name: "T" } as const;
    const s = oneStepPlan({ kind: "activation", fn: "relu", alpha: 0 }, [[2, T]], { symbols: ["T"], env: { T: 100 } });
    const { exec } = await executorFor(s.plan, {}, { maxStorageBufferBindingSize: 4096 });
    try {
      // 2 x 100 floats fit in 4 KiB; 2 x 1000 do not, and cannot have been split at compile time.
      const [y] = await exec.runSample({ T: 100 }, [randomData(200, 1)]);
      expect(y.length).toBe(200);
      await expect(exec.runSample({ T: 1000 }, [randomData(2000, 1)])).rejects.toThrow(
        "layer layer: its activation kernel needs a 7.8 KiB storage binding for these input sizes, over this device's maxStorageBufferBindingSize (4 KiB); with fixed input sizes cnnc splits such a layer at compile time",
      );
      // And the executor still runs sizes that fit.
      const [again] = await exec.runSample({ T: 50 }, [randomData(100, 2)]);
      expect(again.length).toBe(100);
    } finally {
      exec.dispose();
    }
  });
});

describe("dispatch grid", () => {
  gpuIt("folds a long dispatch onto x, y and z under a small per-dimension limit", async () => {
    const s = oneStepPlan({ kind: "activation", fn: "sigmoid", alpha: 0 }, [[5, 1000]]);
    const x = randomData(5000, 2, 3);
    const want = referenceOf(s, [{ shape: [5, 1000], data: x }]);
    // 5000 / 256 = 20 workgroups on a 4 x 4 x 2 grid.
    const { output } = await runOnWebGpu(s.plan, [x], {}, {}, { maxWorkgroupsPerDimension: 4 });
    expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
  });

  gpuIt("a cooperative dense layer (a workgroup per unit) on a folded grid", async () => {
    const s = oneStepPlan({ kind: "dense", units: 37, bias: "channel" }, [[300]]);
    const x = randomData(300, 5);
    const want = referenceOf(s, [{ shape: [300], data: x }]);
    const { output } = await runOnWebGpu(s.plan, [x], {}, {}, { maxWorkgroupsPerDimension: 5 });
    expect(relError(output, want.data)).toBeLessThan(TOLERANCE);
  });
});
