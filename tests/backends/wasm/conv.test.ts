// Convolution on the WebAssembly backend equals the reference: 1-D, 2-D and 3-D, every
// padding form, stride, dilation, groups, flip, each bias kind, and a fused relu epilogue.
import { describe, expect, it } from "vitest";
import type { ConvOp, PadSpec } from "../../../compiler/ir/ops.js";
import { inferShape } from "../../../compiler/ir/shapes.js";
import { checkLayer, Rng, TOLERANCE } from "./plan-helper.js";

function conv(rank: number, o: Partial<ConvOp> = {}): ConvOp {
  const ones = Array.from({ length: rank }, () => 1);
  return {
    kind: "conv",
    filters: 2,
    kernel: ones.map(() => 3),
    stride: ones,
    dilation: ones,
    pad: { kind: "valid" },
    groups: 1,
    flip: false,
    bias: "channel",
    ...o,
  };
}

const relu = [{ kind: "activation", fn: "relu", alpha: 0 }] as const;

describe("wasm conv: named cases", () => {
  const cases: [string, number[], ConvOp][] = [
    ["1-D valid", [2, 11], conv(1, { filters: 3 })],
    ["2-D valid", [3, 7, 6], conv(2, { filters: 4 })],
    ["3-D valid", [2, 5, 6, 4], conv(3, { filters: 3, kernel: [2, 3, 2] })],
    ["2-D same stride 1", [2, 6, 7], conv(2, { pad: { kind: "same" } })],
    ["2-D same stride 2 (odd pixel after)", [2, 7, 8], conv(2, { pad: { kind: "same" }, stride: [2, 2] })],
    ["1-D same stride 3", [1, 10], conv(1, { pad: { kind: "same" }, stride: [3], kernel: [4] })],
    ["2-D full", [1, 5, 4], conv(2, { pad: { kind: "full" } })],
    ["2-D explicit asymmetric", [2, 6, 6], conv(2, { pad: { kind: "explicit", before: [2, 0], after: [0, 1] } })],
    ["2-D stride 2 valid", [2, 9, 8], conv(2, { stride: [2, 2] })],
    ["2-D stride (1, 3)", [2, 9, 10], conv(2, { stride: [1, 3] })],
    ["2-D dilation 2", [2, 9, 9], conv(2, { dilation: [2, 2] })],
    ["2-D dilation 2 with same padding", [2, 8, 7], conv(2, { dilation: [2, 3], pad: { kind: "same" } })],
    ["2-D groups 2", [4, 6, 6], conv(2, { filters: 6, groups: 2 })],
    ["2-D depthwise", [3, 6, 5], conv(2, { filters: 3, groups: 3, pad: { kind: "same" } })],
    ["2-D flip", [2, 6, 5], conv(2, { flip: true, kernel: [3, 2] })],
    ["3-D flip, padded", [1, 4, 5, 4], conv(3, { flip: true, kernel: [2, 3, 2], pad: { kind: "full" } })],
    ["2-D bias location", [2, 6, 6], conv(2, { bias: "location", pad: { kind: "explicit", before: [1, 0], after: [0, 2] } })],
    ["2-D bias none", [2, 6, 6], conv(2, { bias: "none" })],
    ["1x1 kernel", [5, 4, 4], conv(2, { kernel: [1, 1], filters: 3 })],
    ["kernel equal to the input", [2, 3, 3], conv(2, { filters: 5 })],
    ["padding larger than the kernel", [1, 3, 3], conv(2, { pad: { kind: "explicit", before: [4, 3], after: [3, 4] } })],
  ];
  cases.forEach(([name, shape, op], i) => {
    it(name, async () => {
      expect(await checkLayer([shape], op, 1000 + i)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it("relu epilogue", async () => {
    expect(await checkLayer([[3, 7, 7]], conv(2, { filters: 4, pad: { kind: "same" } }), 77, relu)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("leaky relu then sigmoid epilogue chain", async () => {
    const epi = [
      { kind: "activation", fn: "leaky_relu", alpha: 0.1 },
      { kind: "activation", fn: "sigmoid", alpha: 0 },
    ] as const;
    expect(await checkLayer([[2, 6, 6]], conv(2), 78, epi)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("a deep reduction (64 channels x 5x5) stays within tolerance", async () => {
    expect(await checkLayer([[64, 9, 9]], conv(2, { filters: 3, kernel: [5, 5] }), 79)).toBeLessThanOrEqual(TOLERANCE);
  });
});

/** A random valid configuration: rank 1..3, every attribute drawn. */
function randomCase(rng: Rng): { shape: number[]; op: ConvOp } {
  for (;;) {
    const rank = rng.int(1, 3);
    const groups = rng.pick([1, 1, 2, 3]);
    const cin = groups * rng.int(1, 2);
    const filters = groups * rng.int(1, 3);
    const axis = () => Array.from({ length: rank });
    const kernel = axis().map(() => rng.int(1, rank === 3 ? 3 : 4));
    const stride = axis().map(() => rng.int(1, 3));
    const dilation = axis().map(() => rng.int(1, 2));
    const spatial = axis().map(() => rng.int(1, rank === 3 ? 6 : rank === 2 ? 9 : 16));
    const pad: PadSpec = rng.pick<PadSpec>([
      { kind: "valid" },
      { kind: "same" },
      { kind: "full" },
      { kind: "explicit", before: axis().map(() => rng.int(0, 3)), after: axis().map(() => rng.int(0, 3)) },
    ]);
    const op = conv(rank, {
      filters,
      groups,
      kernel,
      stride,
      dilation,
      pad,
      flip: rng.bool(),
      bias: rng.pick(["channel", "location", "none"] as const),
    });
    const shape = [cin, ...spatial];
    if (inferShape(op, [shape]).ok) return { shape, op };
  }
}

describe("wasm conv: random configurations", () => {
  for (let seed = 1; seed <= 48; seed++) {
    const { shape, op } = randomCase(new Rng(seed));
    const name = `seed ${seed}: x[${shape}] k${op.kernel.join("x")} s${op.stride.join("x")} r${op.dilation.join("x")} ${op.pad.kind} g${op.groups} ${op.flip ? "flip " : ""}bias ${op.bias}`;
    it(name, async () => {
      const epi = seed % 5 === 0 ? relu : [];
      expect(await checkLayer([shape], op, seed, epi)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
