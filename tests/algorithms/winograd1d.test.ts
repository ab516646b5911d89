// 1-D Winograd over a polyphase split (algorithms/winograd1d.ts): the plan's virtual channels
// cover every tap exactly once, the whole convolution equals direct convolution (the
// reference, compiler/reference) in float64 on random layers of every stride, kernel size and
// padding it takes, and in f32 (every operation rounded) each F(4, R)'s interpolation points
// are the most accurate of the sets tried. Measured: float64 to 2.2e-15 of the output's scale
// (bound 1e-14); f32 with 32-64 virtual channels 2.2e-6 at most (F(4,5)), inside the 2-D
// F(4x4,3x3)'s 2.7e-6 on its 64-channel layers (winograd.test.ts); the WASM kernel's bound is
// in tests/backends/wasm/algorithms.test.ts.
import { describe, expect, it } from "vitest";
import type { ConvOp } from "../../compiler/ir/ops.js";
import { WINOGRAD1D_POINTS, winograd1dApplies, winograd1dConv, winograd1dPlan } from "../../compiler/algorithms/winograd1d.js";
import { cases, layer, randomPad, relativeError, type Rng } from "./helpers.js";

const op1d = (kernel: number, stride: number, extra: Partial<ConvOp> = {}): ConvOp => ({
  kind: "conv",
  filters: 4,
  kernel: [kernel],
  stride: [stride],
  dilation: [1],
  pad: { kind: "valid" },
  groups: 1,
  flip: false,
  bias: "none",
  ...extra,
});

describe("winograd1d: the polyphase plan", () => {
  it("every tap k < r is one virtual channel's tap, once (strides 1 to 4, kernels up to 10 per phase)", () => {
    for (let s = 1; s <= 4; s++)
      for (let r = s + 1; r <= Math.min(10 * s, 20); r++) {
        const p = winograd1dPlan(op1d(r, s));
        const seen = new Map<number, number>();
        p.offsets.forEach((off) => {
          for (let jj = 0; jj < p.R; jj++) seen.set(off + s * jj, (seen.get(off + s * jj) ?? 0) + 1);
        });
        for (let k = 0; k < r; k++) expect(seen.get(k), `s=${s} r=${r} k=${k}`).toBe(1);
        expect(p.R).toBeLessThanOrEqual(5);
      }
  });

  it("audio1d's conv2 (9 taps, stride 2): two phases of 5 taps (the odd one padded), F(4,5) on 8 points", () => {
    const p = winograd1dPlan(op1d(9, 2));
    expect([p.phases, p.chunks, p.R, p.w.alpha]).toEqual([2, 1, 5, 8]);
    expect(p.offsets).toEqual([0, 1]);
  });

  it("refuses 2-D layers, dilation, groups, strides past 4 and kernels no wider than the stride", () => {
    expect(winograd1dApplies(op1d(9, 2))).toBeUndefined();
    expect(winograd1dApplies({ ...op1d(3, 1), kernel: [3, 3], stride: [1, 1], dilation: [1, 1] })).toMatch(/1-D layers/);
    expect(winograd1dApplies(op1d(3, 1, { dilation: [2] }))).toMatch(/dilation 1/);
    expect(winograd1dApplies(op1d(3, 1, { groups: 2 }))).toMatch(/2 groups/);
    expect(winograd1dApplies(op1d(9, 5))).toMatch(/stride 5/);
    expect(winograd1dApplies(op1d(2, 2))).toMatch(/no wider than its stride/);
    expect(winograd1dApplies(op1d(11, 1))).toMatch(/at most 10 taps/);
  });
});

function layer1d(rng: Rng, stride: number, kernel: number) {
  return layer(rng, {
    d: 1,
    kernel: [kernel],
    stride: [stride],
    channels: rng.pick([1, 2, 3, 5, 6, 7, 9, 16]),
    groups: 1,
    filtersPerGroup: rng.int(1, 7),
    size: [kernel + rng.int(0, 45)],
    pad: randomPad(rng, [kernel]),
    flip: rng.bool(),
  });
}

describe("winograd1d: the tiled convolution equals direct convolution (float64)", () => {
  for (const stride of [1, 2, 3, 4])
    it(`stride ${stride}: every kernel size ${stride + 1}..${Math.min(10, 10 * stride)}, 8 random layers each (bound 1e-14)`, () => {
      let worst = 0;
      for (let kernel = stride + 1; kernel <= Math.min(10, 10 * stride); kernel++) {
        worst = Math.max(
          worst,
          cases(8, 40000 + 100 * stride + 10 * kernel, 1e-14, (rng) => {
            const l = layer1d(rng, stride, kernel);
            return relativeError(winograd1dConv(l.x, l.inShape, l.w, l.op, l.padBefore[0], l.out[0]), l.want);
          }),
        );
      }
      console.log(`winograd1d stride ${stride} float64: max relative error ${worst.toExponential(2)}`);
    });
});

describe("winograd1d: float32 error by interpolation points", () => {
  // The candidates tried per R (4 + R - 2 finite points); the chosen set (WINOGRAD1D_POINTS) is
  // the one with the smallest max error over a stride-2 layer (2R - 1 taps: 2 phases, 32
  // channels -> 64 virtual) and a stride-1 one (R taps, 64 channels).
  const CANDIDATES: Record<number, number[][]> = {
    2: [[0, 1, -1, 0.5], [0, 1, -1, 2], [0, 1, -1, -0.5], [0, 1, -1, -2]],
    3: [[0, 1, -1, 0.5, -2], [0, 1, -1, 2, -2], [0, 1, -1, 0.5, -0.5], [0, 1, -1, 2, -0.5]],
    4: [[0, 1, -1, 0.5, -0.5, 2], [0, 1, -1, 0.5, -0.5, -2], [0, 1, -1, 2, -2, 0.5], [0, 1, -1, 2, -2, -0.5]],
    5: [[0, 1, -1, 0.5, -0.5, 2, -2], [0, 1, -1, 0.5, -0.5, 2, 0.25], [0, 1, -1, 0.5, -0.5, 2, 3], [0, 1, -1, 0.5, -2, 2, -0.25]],
  };
  const error = (R: number): number => {
    const one = (kernel: number, stride: number, channels: number) =>
      cases(10, 9100 + kernel, 1, (rng) => {
        const l = layer(rng, { d: 1, kernel: [kernel], stride: [stride], channels, groups: 1, filtersPerGroup: 2, size: [64], pad: { kind: "same" }, flip: false }, (n) =>
          Float64Array.from(rng.f32(n, 0.125)),
        );
        return relativeError(winograd1dConv(l.x, l.inShape, l.w, l.op, l.padBefore[0], l.out[0], Math.fround), l.want);
      });
    return Math.max(one(2 * R - 1, 2, 32), one(R, 1, 64));
  };
  for (const R of [2, 3, 4, 5])
    it(`F(4,${R}): the chosen points are the most accurate of ${CANDIDATES[R].length} sets, and within 3e-6`, () => {
      const saved = WINOGRAD1D_POINTS[R];
      const errors: [string, number][] = [];
      try {
        for (const pts of CANDIDATES[R]) {
          (WINOGRAD1D_POINTS as Record<number, readonly number[]>)[R] = pts;
          errors.push([pts.join(","), error(R)]);
        }
      } finally {
        (WINOGRAD1D_POINTS as Record<number, readonly number[]>)[R] = saved;
      }
      console.log(`winograd1d F(4,${R}) f32 max relative error by points: ${errors.map(([k, e]) => `${k}: ${e.toExponential(2)}`).join("; ")}`);
      const chosen = errors.find(([k]) => k === saved.join(","));
      expect(chosen).toBeDefined();
      const best = Math.min(...errors.map(([, e]) => e));
      expect(chosen?.[1]).toBe(best);
      expect(best).toBeLessThan(3e-6);
    });
});
