// The WebGPU training step's tap tables: kept as the tables themselves and joined once (a
// plain array of every entry passed V8's largest array on a 65536x320 input and killed the
// process: fuzz seed 62, case 2456), and refused with a TrainError past what one storage
// buffer holds. Emission only: no device needed.

import { describe, expect, it } from "vitest";
import { GradContext } from "../../compiler/backends/wgsl/grad-kernel.js";
import { gradLayout } from "../../compiler/backends/wgsl/grad-layout.js";
import { TrainError } from "../../compiler/train/autodiff.js";
import { trainGraphOf } from "./helpers.js";

describe("the WebGPU training step's tables", () => {
  const layout = gradLayout(trainGraphOf("network n(x: f32[1, 4, 4]) -> y {\n  y = x |> c: conv(2, 3x3) |> flatten |> fc: dense(3) |> softmax\n}", "cross_entropy"), 0);

  it("are joined in the order asked, each shared by its key", () => {
    const ctx = new GradContext(layout);
    expect(ctx.table("a", () => Int32Array.from([1, 2, 3]))).toBe(0);
    expect(ctx.table("b", () => Int32Array.from([4, 5]))).toBe(3);
    expect(ctx.table("a", () => Int32Array.from([9]))).toBe(0);
    expect([...ctx.tables()]).toEqual([1, 2, 3, 4, 5]);
    expect([...new GradContext(layout).tables()]).toEqual([0]);
  });

  it("past the most one storage buffer holds, refuse with a TrainError that says how much", () => {
    const ctx = new GradContext(layout, 2 ** 18);
    ctx.table("a", () => new Int32Array(2 ** 17));
    expect(() => ctx.table("b", () => new Int32Array(2 ** 17 + 1))).toThrow(TrainError);
    expect(() => ctx.table("c", () => new Int32Array(2 ** 18))).toThrow(/index tables \(the window ops' taps\) would take at least 2 MiB, more than the 1 MiB of one storage buffer; train at a smaller size, or on WebAssembly/);
  });
});
