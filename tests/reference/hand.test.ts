// Small cases whose answers can be checked by eye (the only hand-typed numbers in these
// tests), plus the book's figure 9.6 edge detector against a direct loop written here.

import { describe, expect, it } from "vitest";
import { activation, adaptivePool, binary, concat, conv, dense, flatten, pool, reshape, softmax, tensor } from "../../compiler/reference/index.js";
import { convOp, flipKernel, poolOp, randomTensor, rng } from "./helpers.js";

const values = (t: { data: Float64Array }): number[] => Array.from(t.data);

describe("convolution by hand", () => {
  it("figure 9.6: the two-element difference [-1, 1] finds vertical edges", () => {
    const H = 280;
    const W = 320;
    const x = randomTensor(rng(96), [1, H, W], 0, 1);
    const y = conv(x, convOp({ filters: 1, kernel: [1, 2] }), tensor([1, 1, 1, 2], [-1, 1]), undefined);
    expect(y.shape).toEqual([1, H, W - 1]);
    let mismatches = 0;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W - 1; j++) {
        if (y.data[i * (W - 1) + j] !== x.data[i * W + j + 1] - x.data[i * W + j]) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it("1-D convolution with stride 2 keeps every second output", () => {
    const x = tensor([1, 7], [1, 2, 3, 4, 5, 6, 7]);
    const w = tensor([1, 1, 3], [1, 2, 3]);
    const y = conv(x, convOp({ filters: 1, kernel: [3], stride: [2] }), w, undefined);
    expect(y.shape).toEqual([1, 3]);
    expect(values(y)).toEqual([14, 26, 38]);
    const dense1 = conv(x, convOp({ filters: 1, kernel: [3] }), w, undefined);
    expect(values(dense1).filter((_, i) => i % 2 === 0)).toEqual(values(y));
  });

  it("true convolution (flip) equals cross-correlation with the flipped kernel", () => {
    const r = rng(3);
    const x = randomTensor(r, [2, 6, 7]);
    const w = randomTensor(r, [3, 2, 3, 3]);
    // Flipped by hand here, independently of the helper: w'[o, c, a, b] = w[o, c, 2-a, 2-b].
    const manual = tensor(w.shape);
    for (let o = 0; o < 3; o++)
      for (let c = 0; c < 2; c++)
        for (let a = 0; a < 3; a++)
          for (let b = 0; b < 3; b++) manual.data[((o * 2 + c) * 3 + a) * 3 + b] = w.data[((o * 2 + c) * 3 + (2 - a)) * 3 + (2 - b)];
    expect(values(flipKernel(w))).toEqual(values(manual));
    const op = convOp({ filters: 3, kernel: [3, 3], pad: { kind: "same" } });
    const flipped = conv(x, { ...op, flip: true }, w, undefined);
    const correlated = conv(x, op, manual, undefined);
    expect(values(flipped)).toEqual(values(correlated));
    expect(values(flipped)).not.toEqual(values(conv(x, op, w, undefined)));
  });

  it("bias per channel and per location", () => {
    const x = tensor([1, 2, 2], [1, 2, 3, 4]);
    const w = tensor([2, 1, 1, 1], [1, 10]);
    const perChannel = conv(x, convOp({ filters: 2, kernel: [1, 1], bias: "channel" }), w, tensor([2], [100, 200]));
    expect(values(perChannel)).toEqual([101, 102, 103, 104, 210, 220, 230, 240]);
    const perLocation = conv(x, convOp({ filters: 2, kernel: [1, 1], bias: "location" }), w, tensor([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]));
    expect(values(perLocation)).toEqual([2, 4, 6, 8, 15, 26, 37, 48]);
  });

  it("groups: each output channel sees only its group's input channels", () => {
    const x = tensor([2, 1], [3, 5]);
    const w = tensor([2, 1, 1], [1, 1]);
    const y = conv(x, convOp({ filters: 2, kernel: [1], groups: 2 }), w, undefined);
    expect(values(y)).toEqual([3, 5]);
  });
});

describe("pooling by hand", () => {
  it("2x2 max pool", () => {
    const x = tensor([1, 4, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const y = pool(x, poolOp({ mode: "max", window: [2, 2] }));
    expect(y.shape).toEqual([1, 2, 2]);
    expect(values(y)).toEqual([6, 8, 14, 16]);
  });

  it("ceil keeps the last, partial window; padding never counts unless asked", () => {
    const x = tensor([1, 5], [1, 2, 3, 4, 5]);
    expect(values(pool(x, poolOp({ mode: "max", window: [2] })))).toEqual([2, 4]);
    expect(values(pool(x, poolOp({ mode: "max", window: [2], ceil: true })))).toEqual([2, 4, 5]);
    expect(values(pool(x, poolOp({ mode: "avg", window: [2], ceil: true })))).toEqual([1.5, 3.5, 5]);
    // The overhang past the (zero) padding is never counted, even with countPad (PyTorch).
    expect(values(pool(x, poolOp({ mode: "avg", window: [2], ceil: true, countPad: true })))).toEqual([1.5, 3.5, 5]);
    const padded = { kind: "explicit", before: [1], after: [1] } as const;
    expect(values(pool(x, poolOp({ mode: "avg", window: [2], pad: padded })))).toEqual([1, 2.5, 4.5]);
    expect(values(pool(x, poolOp({ mode: "avg", window: [2], pad: padded, countPad: true })))).toEqual([0.5, 2.5, 4.5]);
    // A ceil window that would start in the trailing padding is dropped: still 3 outputs.
    expect(values(pool(x, poolOp({ mode: "avg", window: [2], pad: padded, ceil: true, countPad: true })))).toEqual([0.5, 2.5, 4.5]);
    // Window 3, stride 2, padding 1 on [1..6]: the ceil window reads 6, padding, overhang;
    // countPad divides by 2 there (6 and the padding), not by 3.
    const x6 = tensor([1, 6], [1, 2, 3, 4, 5, 6]);
    const w3 = { mode: "avg", window: [3], stride: [2], pad: padded } as const;
    expect(values(pool(x6, poolOp(w3)))).toEqual([1.5, 3, 5]);
    expect(values(pool(x6, poolOp({ ...w3, ceil: true })))).toEqual([1.5, 3, 5, 6]);
    expect(values(pool(x6, poolOp({ ...w3, countPad: true })))).toEqual([1, 3, 5]);
    expect(values(pool(x6, poolOp({ ...w3, ceil: true, countPad: true })))).toEqual([1, 3, 5, 3]);
    // A negative input: padding never wins the max.
    expect(values(pool(tensor([1, 2], [-3, -1]), poolOp({ mode: "max", window: [2], pad: padded })))).toEqual([-3, -1]);
  });

  it("lp and gauss pooling", () => {
    const x = tensor([1, 2], [3, -4]);
    expect(values(pool(x, poolOp({ mode: "lp", window: [2], p: 2 })))).toEqual([5]);
    // Window 3 centred at offset 1: weights e^-0.5, 1, e^-0.5 (sigma 1).
    const g = pool(tensor([1, 3], [1, 2, 4]), poolOp({ mode: "gauss", window: [3], sigma: 1 }));
    const e = Math.exp(-0.5);
    expect(g.data[0]).toBeCloseTo((e * 1 + 2 + e * 4) / (2 * e + 1), 14);
    // With padding, only the real elements' weights normalise.
    const gp = pool(tensor([1, 2], [1, 2]), poolOp({ mode: "gauss", window: [3], stride: [1], pad: { kind: "same" } }));
    expect(gp.data[0]).toBeCloseTo((1 + e * 2) / (1 + e), 14);
  });

  it("a window with no real element gives 0", () => {
    const x = tensor([1, 1], [7]);
    const op = poolOp({ mode: "max", window: [2], stride: [1], dilation: [3], pad: { kind: "explicit", before: [2], after: [2] } });
    expect(values(pool(x, op))).toEqual([0, 0]);
    expect(values(pool(x, { ...op, mode: "avg", countPad: true }))).toEqual([0, 0]);
  });

  it("adaptive pooling: region i of n over m spans [floor(i*m/n), ceil((i+1)*m/n))", () => {
    const x = tensor([1, 5], [1, 2, 3, 4, 5]);
    expect(values(adaptivePool(x, { kind: "adaptive_pool", mode: "max", out: [3] }))).toEqual([2, 4, 5]);
    expect(values(adaptivePool(x, { kind: "adaptive_pool", mode: "avg", out: [3] }))).toEqual([1.5, 3, 4.5]);
    expect(values(adaptivePool(x, { kind: "adaptive_pool", mode: "avg", out: [1] }))).toEqual([3]);
  });
});

describe("other layers by hand", () => {
  it("softmax over channels sums to 1 at every position, even for large inputs", () => {
    const x = randomTensor(rng(5), [5, 3, 4], -500, 500);
    const y = softmax(x);
    for (let p = 0; p < 12; p++) {
      let sum = 0;
      for (let c = 0; c < 5; c++) {
        const v = y.data[c * 12 + p];
        expect(Number.isFinite(v) && v >= 0).toBe(true);
        sum += v;
      }
      expect(sum).toBeCloseTo(1, 12);
    }
    expect(values(softmax(tensor([2], [0, 0])))).toEqual([0.5, 0.5]);
  });

  it("activations", () => {
    const x = tensor([4], [-2, -0.5, 0, 3]);
    expect(values(activation(x, { kind: "activation", fn: "relu", alpha: 0 }))).toEqual([0, 0, 0, 3]);
    expect(values(activation(x, { kind: "activation", fn: "leaky_relu", alpha: 0.1 }))).toEqual([-0.2, -0.05, 0, 3]);
    expect(values(activation(x, { kind: "activation", fn: "identity", alpha: 0 }))).toEqual([-2, -0.5, 0, 3]);
    expect(activation(x, { kind: "activation", fn: "sigmoid", alpha: 0 }).data[2]).toBe(0.5);
    expect(activation(tensor([1], [-1000]), { kind: "activation", fn: "sigmoid", alpha: 0 }).data[0]).toBe(0);
  });

  it("broadcasting aligns channels first: [C] and [C, 1, 1] repeat over [C, H, W]", () => {
    const a = tensor([2, 1, 2], [1, 2, 3, 4]);
    expect(values(binary("add", a, tensor([2], [10, 20])))).toEqual([11, 12, 23, 24]);
    expect(values(binary("mul", tensor([2, 1, 1], [10, 20]), a))).toEqual([10, 20, 60, 80]);
    expect(values(binary("add", a, tensor([1], [1])))).toEqual([2, 3, 4, 5]);
    expect(values(binary("add", tensor([1, 1, 2], [1, 2]), tensor([2, 1, 1], [10, 20])))).toEqual([11, 12, 21, 22]);
    expect(() => binary("add", a, tensor([3], [1, 2, 3]))).toThrow();
  });

  it("concat, flatten, reshape, dense", () => {
    const a = tensor([1, 2], [1, 2]);
    const b = tensor([2, 2], [3, 4, 5, 6]);
    const c = concat([a, b]);
    expect(c.shape).toEqual([3, 2]);
    expect(values(c)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(flatten(c).shape).toEqual([6]);
    expect(reshape(c, [2, 3]).shape).toEqual([2, 3]);
    expect(() => reshape(c, [4])).toThrow();
    const y = dense(c, { kind: "dense", units: 2, bias: "channel" }, tensor([2, 6], [1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), tensor([2], [0.5, -1]));
    expect(values(y)).toEqual([1.5, 20]);
  });
});
