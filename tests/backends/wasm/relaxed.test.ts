// The relaxed-SIMD build: a network whose kernels do vector multiply-adds ships a second module
// with f32x4.relaxed_madd; the runtime runs it where the engine validates relaxed SIMD and the
// plain build elsewhere, and both equal the reference. Node 20 has relaxed SIMD behind a V8
// flag: this file sets it part-way, in its own worker process (vitest's forks pool), to see both.
import v8 from "node:v8";
import binaryen from "binaryen";
import { describe, expect, it } from "vitest";
import { compile } from "../../../compiler/index.js";
import type { AlgorithmName } from "../../../compiler/ir/graph.js";
import { interpret } from "../../../compiler/reference/interpret.js";
import { initialise } from "../../../compiler/tensors/init.js";
import { hasRelaxedSimd } from "../../../runtime/wasm.js";

/** A 3x3 layer (Winograd and GEMM apply), a 9x9 one (FFT) and a Gaussian blur (separable). */
const SOURCE = `
network n(x: f32[4, 20, 22]) -> y {
  a = x |> c3: conv(8, 3x3, pad: same) |> relu
  b = a |> c9: conv(6, 9x9, pad: same) |> tanh
  y = b |> blur: depthwise(5x5, weight: gaussian(sigma: 1.2), bias: none)
}
`;

const CASES: [string, Record<string, AlgorithmName>][] = [
  ["gemm", { c3: "gemm", c9: "gemm", blur: "gemm" }],
  ["winograd2, fft, separable", { c3: "winograd2", c9: "fft", blur: "separable" }],
  ["winograd4, fft, separable", { c3: "winograd4", c9: "fft", blur: "separable" }],
];

function relaxedOps(wasm: Uint8Array): number {
  const m = binaryen.readBinary(wasm);
  try {
    m.setFeatures(binaryen.Features.All);
    return (m.emitText().match(/f32x4\.relaxed_madd/g) ?? []).length;
  } finally {
    m.dispose();
  }
}

async function maxError(algorithms: Record<string, AlgorithmName>, relaxedSimd = true): Promise<{ error: number; description: string }> {
  const r = compile(SOURCE, { fileName: "n.cnn", algorithms });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const shape = [4, 20, 22];
  const data = initialise({ kind: "uniform", low: -1, high: 1, seed: 7 }, shape, 1, 1);
  const net = await r.load({ backend: "wasm", relaxedSimd });
  const got = (await net.run({ x: { data, shape } })).y.data;
  const want = interpret(r.source, new Map([["x", { shape, data: Float64Array.from(data) }]])).get("y");
  if (!want) throw new Error("no output y");
  let diff = 0;
  let scale = 0;
  want.data.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - got[i]));
    scale = Math.max(scale, Math.abs(v));
  });
  return { error: diff / scale, description: net.description };
}

describe("relaxed SIMD", () => {
  it("the relaxed build has relaxed_madd where the plain build has mul + add, and no more", () => {
    const r = compile(SOURCE, { fileName: "n.cnn", algorithms: { c3: "gemm" } });
    if (!r.ok) throw new Error("does not compile");
    const { wasm, wasmRelaxed } = r.artifacts;
    if (!wasm || !wasmRelaxed) throw new Error("expected both builds");
    expect(relaxedOps(wasm)).toBe(0);
    expect(relaxedOps(wasmRelaxed)).toBeGreaterThan(0);
    expect(r.artifacts.manifest.wasm?.relaxedFile).toBe("model.relaxed.wasm");
  });

  it("a network without vector multiply-adds has one build", () => {
    const r = compile("network p(x: f32[3, 16, 16]) -> y { y = x |> maxpool(2x2) |> relu |> avgpool(out: 1) }", { fileName: "p.cnn" });
    if (!r.ok) throw new Error("does not compile");
    expect(r.artifacts.wasmRelaxed).toBeUndefined();
    expect(r.artifacts.manifest.wasm?.relaxedFile).toBeUndefined();
  });

  it("load({ relaxedSimd: false }) runs the plain build, which equals the reference", async () => {
    for (const [, algorithms] of CASES) {
      const { error, description } = await maxError(algorithms, false);
      expect(description).not.toContain("relaxed");
      expect(error).toBeLessThan(1e-5);
    }
  });

  // Node 20 ships relaxed SIMD off: the plain build runs until the flag goes on (for the rest
  // of this worker process). Later Node versions ship it on.
  it("without relaxed SIMD in the engine, the plain build runs", async () => {
    if (hasRelaxedSimd()) return;
    const { error, description } = await maxError(CASES[0][1]);
    expect(description).not.toContain("relaxed");
    expect(error).toBeLessThan(1e-5);
  });

  it("with relaxed SIMD, the relaxed build runs and equals the reference (measured 5.6e-7)", async () => {
    v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
    expect(hasRelaxedSimd()).toBe(true);
    for (const [, algorithms] of CASES) {
      const { error, description } = await maxError(algorithms);
      expect(description).toContain("relaxed SIMD");
      expect(error).toBeLessThan(1e-5);
    }
  });
});
