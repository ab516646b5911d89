// The module as a whole: symbolic plans (one compiled module, input sizes bound at run time,
// the same executor reused across sizes, larger and smaller, so memory grows), the manifest's
// layout, and the exported ABI.
import { describe, expect, it } from "vitest";
import binaryen from "binaryen";
import * as D from "../../../compiler/ir/dim.js";
import type { ConvOp, PoolOp } from "../../../compiler/ir/ops.js";
import { emitWasm, stepFunctionName } from "../../../compiler/backends/wasm/module.js";
import { WasmExecutor } from "../../../runtime/wasm.js";
import { PlanBuilder, relativeError, Rng, TOLERANCE } from "./plan-helper.js";

const H = D.sym("H");
const W = D.sym("W");

const conv = (o: Partial<ConvOp>): ConvOp => ({
  kind: "conv",
  filters: 4,
  kernel: [3, 3],
  stride: [1, 1],
  dilation: [1, 1],
  pad: { kind: "same" },
  groups: 1,
  flip: false,
  bias: "channel",
  ...o,
});

const pool = (o: Partial<PoolOp>): PoolOp => ({
  kind: "pool",
  mode: "max",
  window: [2, 2],
  stride: [2, 2],
  dilation: [1, 1],
  pad: { kind: "valid" },
  ceil: false,
  countPad: false,
  p: 2,
  sigma: 1,
  ...o,
});

const relu = [{ kind: "activation", fn: "relu", alpha: 0 }] as const;

async function runAtSizes(b: PlanBuilder, sizes: [number, number][], seed: number): Promise<void> {
  const plan = b.build("symbolic");
  const emitted = emitWasm(plan);
  const { manifest } = emitted;
  expect(typeof manifest.memoryBytes).not.toBe("number");
  const exec = await WasmExecutor.create(emitted, manifest, plan.weightData);
  const rng = new Rng(seed);
  for (const [h, w] of sizes) {
    const env = { H: h, W: w };
    const inputs = b.inputNames.map((_, i) => rng.f32(D.evalDims(b.shapes[i], env).reduce((p, d) => p * d, 1)));
    const got = exec.runSample(env, plan.symbols, inputs);
    const want = b.reference(inputs, env);
    want.forEach((y, i) => {
      expect(got[i].length, `output ${i} at ${h}x${w}`).toBe(y.length);
      expect(relativeError(got[i], y), `output ${i} at ${h}x${w}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }
}

describe("wasm: symbolic input sizes", () => {
  it("conv + pool on [3, H, W] at three sizes", async () => {
    const rng = new Rng(1);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [3, H, W]);
    const c = b.layer(conv({}), [x], rng, relu);
    b.output("y", b.layer(pool({}), [c], rng));
    await runAtSizes(b, [[8, 8], [13, 21], [5, 6]], 2);
  });

  it("strided same conv, ceil pool with padding, avg countPad: sizes that need floor/ceil at run time", async () => {
    const rng = new Rng(3);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [2, H, W]);
    const c1 = b.layer(conv({ stride: [2, 2], kernel: [3, 4], filters: 3 }), [x], rng, relu);
    const p1 = b.layer(pool({ mode: "avg", window: [3, 3], stride: [2, 2], ceil: true, countPad: true, pad: { kind: "explicit", before: [1, 0], after: [1, 1] } }), [c1], rng);
    const c2 = b.layer(conv({ dilation: [2, 1], pad: { kind: "full" }, groups: 1, filters: 2 }), [p1], rng);
    const g = b.layer(pool({ mode: "gauss", window: [3, 3], stride: [1, 2], pad: { kind: "same" }, sigma: 1.5 }), [c2], rng);
    b.output("y", g);
    b.output("features", c1);
    await runAtSizes(b, [[17, 23], [9, 9], [30, 12]], 4);
  });

  it("a classifier: conv, pool, adaptive pool, dense, softmax", async () => {
    const rng = new Rng(5);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [1, H, W]);
    const c = b.layer(conv({ filters: 4 }), [x], rng, relu);
    const p = b.layer(pool({ ceil: true }), [c], rng);
    const a = b.layer({ kind: "adaptive_pool", mode: "avg", out: [3, 3] }, [p], rng);
    const d = b.layer({ kind: "dense", units: 5, bias: "channel" }, [a], rng);
    b.output("probs", b.layer({ kind: "softmax" }, [d], rng));
    await runAtSizes(b, [[12, 12], [27, 19], [6, 7]], 6);
  });

  it("a residual add, a broadcast mul and a concat on symbolic sizes", async () => {
    const rng = new Rng(7);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [2, H, W]);
    const scale = b.input("scale", [2]);
    const t = b.layer({ kind: "activation", fn: "tanh", alpha: 0 }, [x], rng);
    const s = b.layer({ kind: "add" }, [t, x], rng, relu);
    const g = b.layer({ kind: "mul" }, [s, scale], rng);
    b.output("y", b.layer({ kind: "concat" }, [g, t, x], rng));
    await runAtSizes(b, [[4, 9], [11, 3], [7, 7]], 8);
  });
});

describe("wasm: module layout and ABI", () => {
  const rng = new Rng(9);
  const b = new PlanBuilder();
  const x = b.input("x", [2, 6, 6]);
  const c = b.layer(conv({}), [x], rng);
  b.output("y", b.layer(pool({ mode: "gauss", window: [3, 3], stride: [1, 1], pad: { kind: "same" } }), [c], rng));
  const plan = b.build("static");
  const emitted = emitWasm(plan);
  const { binary, manifest } = emitted;

  it("a static network's manifest has only constant sizes", () => {
    expect(manifest.file).toBe("model.wasm");
    expect(typeof manifest.memoryBytes).toBe("number");
    expect(manifest.weightsOffset % 64).toBe(0);
    expect(manifest.weightsOffset).toBeGreaterThanOrEqual(1024 + 9 * 8); // past the gauss table
    for (const io of [...manifest.inputs, ...manifest.outputs]) {
      expect(typeof io.offset).toBe("number");
      expect((io.offset as number) % 16).toBe(0);
      expect(io.offset as number).toBeGreaterThanOrEqual(manifest.weightsOffset + 4 * plan.weightData.length);
    }
    const out = plan.buffers[plan.outputs[0].buffer];
    expect(manifest.memoryBytes as number).toBeGreaterThanOrEqual((manifest.outputs[0].offset as number) + 4 * (out.elements as number));
  });

  it("exports memory, run and step, imports only env math and env.memory, names a function per step", () => {
    const mod = new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
    expect(WebAssembly.Module.exports(mod).map((e) => `${e.kind} ${e.name}`).sort()).toEqual(["function run", "function step", "memory memory"]);
    for (const imp of WebAssembly.Module.imports(mod)) {
      expect(imp.module).toBe("env");
      expect(imp.kind === "memory" ? imp.name === "memory" : ["exp", "tanh", "pow", "log"].includes(imp.name)).toBe(true);
    }
    expect(WebAssembly.Module.imports(mod).filter((i) => i.kind === "memory")).toHaveLength(1);
    const text = binaryen.readBinary(binary).emitText();
    for (const step of plan.steps) expect(text).toContain(`(func $${stepFunctionName(step)}`);
  });

  it("function names never carry raw layer text", () => {
    const step = { ...plan.steps[0], layer: 'conv"1 (x)\n; drop' };
    expect(stepFunctionName(step)).toMatch(/^step0_conv_[A-Za-z0-9_]+$/);
  });

  it("an executor runs the same sample twice with the same result", async () => {
    const exec = await WasmExecutor.create(emitted, manifest, plan.weightData);
    const input = new Rng(10).f32(72);
    const first = exec.runSample({}, [], [input]);
    const second = exec.runSample({}, [], [input]);
    expect(Array.from(second[0])).toEqual(Array.from(first[0]));
    expect(relativeError(first[0], b.reference([input])[0])).toBeLessThanOrEqual(TOLERANCE);
  });

  it("rejects inputs of the wrong length", async () => {
    const exec = await WasmExecutor.create(emitted, manifest, plan.weightData);
    expect(() => exec.runSample({}, [], [new Float32Array(5)])).toThrow(/expected 72/);
  });
});
