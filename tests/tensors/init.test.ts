import { describe, expect, it } from "vitest";
import { Random } from "../../compiler/tensors/random.js";
import { fans, initialise, type InitSpec } from "../../compiler/tensors/init.js";

function stats(a: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of a) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / a.length;
  let sq = 0;
  for (const v of a) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / a.length), min, max };
}

describe("Random (xoshiro128** seeded by splitmix32)", () => {
  it("matches the C reference implementation's stream", () => {
    // From the reference C code (prng.di.unimi.it) with the state filled by splitmix32 as documented.
    const first5 = (seed: number) => {
      const r = new Random(seed);
      return Array.from({ length: 5 }, () => r.nextUint32());
    };
    expect(first5(0)).toEqual([1789933344, 44971166, 2521387044, 3848737593, 1138324114]);
    expect(first5(1)).toEqual([393288148, 2174103013, 3814759091, 2092745082, 1865176206]);
    expect(first5(4000000000)).toEqual([1261332347, 568451630, 4248113073, 2124763824, 1639625983]);
  });

  it("uniform is in [0, 1) and normal is standard", () => {
    const r = new Random(3);
    const u = Float64Array.from({ length: 100000 }, () => r.uniform());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const n = Float32Array.from({ length: 100000 }, () => r.normal());
    const s = stats(n);
    expect(Math.abs(s.mean)).toBeLessThan(0.02);
    expect(Math.abs(s.std - 1)).toBeLessThan(0.02);
  });

  it("takes any number as a seed, deterministically", () => {
    for (const seed of [-1, 2 ** 40, 0.5, NaN]) {
      expect(new Random(seed).uniform()).toBe(new Random(seed).uniform());
    }
    expect(new Random(2 ** 40).uniform()).not.toBe(new Random(0).uniform());
  });
});

describe("initialisers", () => {
  const N = 100000;
  const shape = [N];

  it("are deterministic: same seed same numbers, different seed different", () => {
    const specs: Exclude<InitSpec, { kind: "zeros" }>[] = [
      { kind: "he", seed: 1 },
      { kind: "glorot", seed: 1 },
      { kind: "uniform", low: -1, high: 2, seed: 1 },
      { kind: "normal", mean: 3, std: 0.5, seed: 1 },
    ];
    for (const spec of specs) {
      const a = initialise(spec, [4, 3, 3, 3], 27, 36);
      const b = initialise(spec, [4, 3, 3, 3], 27, 36);
      const c = initialise({ ...spec, seed: 2 }, [4, 3, 3, 3], 27, 36);
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(Array.from(a)).not.toEqual(Array.from(c));
    }
  });

  it("pins the numbers, so that default weights never change between versions", () => {
    // Checked against an independent Python implementation of the same stream and Box-Muller.
    expect(Array.from(initialise({ kind: "he", seed: 1 }, [4], 2, 2))).toEqual(
      Array.from(Float32Array.from([0.33449313044548035, -0.2831752300262451, -0.021594852209091187, -1.0671508312225342])),
    );
  });

  it("he: normal(0, sqrt(2 / fanIn))", () => {
    const s = stats(initialise({ kind: "he", seed: 5 }, shape, 50, 10));
    expect(Math.abs(s.mean)).toBeLessThan(0.005);
    expect(s.std).toBeCloseTo(Math.sqrt(2 / 50), 2);
  });

  it("glorot: uniform(-l, l), l = sqrt(6 / (fanIn + fanOut))", () => {
    const l = Math.sqrt(6 / (20 + 40));
    const s = stats(initialise({ kind: "glorot", seed: 5 }, shape, 20, 40));
    expect(s.min).toBeGreaterThanOrEqual(-l);
    expect(s.max).toBeLessThanOrEqual(l);
    expect(Math.abs(s.mean)).toBeLessThan(0.005);
    expect(s.std).toBeCloseTo(l / Math.sqrt(3), 2);
  });

  it("uniform(a, b) and normal(mean, std)", () => {
    const u = stats(initialise({ kind: "uniform", low: 2, high: 4, seed: 9 }, shape, 1, 1));
    expect(u.min).toBeGreaterThanOrEqual(2);
    expect(u.max).toBeLessThanOrEqual(4);
    expect(u.mean).toBeCloseTo(3, 1);
    expect(u.std).toBeCloseTo(2 / Math.sqrt(12), 2);
    const n = stats(initialise({ kind: "normal", mean: -1, std: 0.25, seed: 9 }, shape, 1, 1));
    expect(n.mean).toBeCloseTo(-1, 2);
    expect(n.std).toBeCloseTo(0.25, 2);
  });

  it("zeros, and empty weights", () => {
    expect(Array.from(initialise({ kind: "zeros" }, [2, 2], 4, 4))).toEqual([0, 0, 0, 0]);
    expect(initialise({ kind: "he", seed: 1 }, [0, 3], 0, 0).length).toBe(0);
  });

  it("fans follow PyTorch", () => {
    expect(fans("conv", [16, 3, 5, 5])).toEqual({ fanIn: 75, fanOut: 400 });
    expect(fans("conv", [8, 1, 3, 3, 3])).toEqual({ fanIn: 27, fanOut: 216 });
    expect(fans("conv", [4, 2, 7])).toEqual({ fanIn: 14, fanOut: 28 });
    expect(fans("dense", [10, 84])).toEqual({ fanIn: 84, fanOut: 10 });
  });
});
