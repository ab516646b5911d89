// Winograd's matrices, derived from interpolation points (algorithms/winograd.ts), give
// exactly the correlation they stand for, and the whole tiled convolution equals direct
// convolution. Measured (float64): 1-D F(m, r) identities to 1.4e-15; 2-D convolutions to
// 6.4e-16 (F(2x2)) and 2.5e-15 (F(4x4)) of the output's scale; bounds 1e-14. In f32 (every operation rounded) the point set decides the
// error of F(4x4,3x3); the chosen set is measured the most accurate of those tried.
import { describe, expect, it } from "vitest";
import { sandwich, transformKernel, WINOGRAD_POINTS, winogradConv2d, winogradMatrices } from "../../compiler/algorithms/winograd.js";
import { cases, channelsAndGroups, layer, randomPad, relativeError, type Rng } from "./helpers.js";

describe("winograd: matrices derived from points", () => {
  it("F(2,3) from points 0, 1, -1, inf is Lavin and Gray's, up to the sign of the point at infinity", () => {
    const w = winogradMatrices(2, 3);
    const lavin = {
      AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
      G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
      BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    };
    const flip = [1, 1, 1, -1];
    expect(w.G).toEqual(lavin.G);
    expect(w.AT).toEqual(lavin.AT.map((row) => row.map((v, j) => v * flip[j] + 0)));
    expect(w.BT).toEqual(lavin.BT.map((row, j) => row.map((v) => v * flip[j] + 0)));
  });

  it("y = A^T [(G g) ⊙ (B^T d)] is the correlation of d and g, for F(m, r) of any size", () => {
    const points = [0, 1, -1, 0.5, -2, 2, -0.5, 3];
    let worst = 0;
    for (const [m, r] of [[2, 3], [4, 3], [2, 2], [3, 2], [3, 3], [2, 5], [6, 3]]) {
      const w = winogradMatrices(m, r, points.slice(0, m + r - 2));
      worst = Math.max(
        worst,
        cases(20, 100 * m + r, 1e-14, (rng) => {
          const d = Array.from({ length: w.alpha }, () => rng.next() * 2 - 1);
          const g = Array.from({ length: r }, () => rng.next() * 2 - 1);
          const Gg = w.G.map((row) => row.reduce((s, v, k) => s + v * g[k], 0));
          const Bd = w.BT.map((row) => row.reduce((s, v, t) => s + v * d[t], 0));
          const y = w.AT.map((row) => row.reduce((s, v, j) => s + v * Gg[j] * Bd[j], 0));
          const want = Array.from({ length: m }, (_, i) => g.reduce((s, gk, k) => s + d[i + k] * gk, 0));
          return relativeError(y, want);
        }),
      );
    }
    console.log(`winograd 1-D identities: max relative error ${worst.toExponential(2)}`);
  });

  it("the 2-D transforms: U = G g G^T and Y = A^T M A are the sandwiches", () => {
    const w = winogradMatrices(4, 3);
    const g = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const u = transformKernel(w, g);
    expect(Array.from(u)).toEqual(Array.from(sandwich(w.G, g)));
  });
});

function winogradLayer(rng: Rng) {
  const cg = channelsAndGroups(rng, 8, 6);
  return layer(rng, { d: 2, kernel: [3, 3], ...cg, size: [rng.int(3, 14), rng.int(3, 14)], pad: randomPad(rng, [3, 3]), flip: rng.bool() });
}

describe("winograd: the tiled convolution equals direct convolution (float64)", () => {
  for (const m of [2, 4]) {
    it(`F(${m}x${m},3x3) on 100 random layers (bound 1e-14)`, () => {
      const worst = cases(100, 7000 + m, 1e-14, (rng) => {
        const l = winogradLayer(rng);
        return relativeError(winogradConv2d(l.x, l.inShape, l.w, l.op, l.padBefore, l.out, m), l.want);
      });
      console.log(`winograd F(${m}x${m},3x3) float64: max relative error ${worst.toExponential(2)}`);
    });
  }
});

describe("winograd: float32 error by interpolation points", () => {
  it("F(4x4,3x3): points 0, ±1, 1/2, -2 beat 0, ±1, ±2 and 0, ±1, ±1/2 (64 channels, every operation in f32)", () => {
    const sets: Record<string, number[]> = { "0,±1,±2": [0, 1, -1, 2, -2], "0,±1,±1/2": [0, 1, -1, 0.5, -0.5], "0,±1,1/2,-2": [0, 1, -1, 0.5, -2] };
    const saved = WINOGRAD_POINTS[4];
    const errors: Record<string, number> = {};
    try {
      for (const [name, pts] of Object.entries(sets)) {
        (WINOGRAD_POINTS as Record<number, readonly number[]>)[4] = pts;
        errors[name] = cases(20, 9100, 1, (rng) => {
          const l = layer(rng, { d: 2, kernel: [3, 3], channels: 64, groups: 1, filtersPerGroup: 2, size: [8, 8], pad: { kind: "same" }, flip: false }, (n) =>
            Float64Array.from(rng.f32(n, 0.125)),
          );
          return relativeError(winogradConv2d(l.x, l.inShape, l.w, l.op, l.padBefore, l.out, 4, Math.fround), l.want);
        });
      }
    } finally {
      (WINOGRAD_POINTS as Record<number, readonly number[]>)[4] = saved;
    }
    console.log(`winograd F(4x4,3x3) f32 max relative error by points: ${JSON.stringify(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, v.toExponential(2)])))}`);
    expect(saved).toEqual(sets["0,±1,1/2,-2"]);
    expect(errors["0,±1,1/2,-2"]).toBeLessThan(errors["0,±1,±2"]);
    expect(errors["0,±1,1/2,-2"]).toBeLessThan(errors["0,±1,±1/2"]);
  });
});
