// Rank-1 detection (algorithms/separable.ts) finds the factors of outer products in 2-D and
// 3-D, refuses kernels that are not (within the stated tolerance, 1e-6 of the slice's norm),
// and the composed 1-D passes equal direct convolution. Measured (float64): factors
// reproduce rank-1 slices to 4e-16; convolutions to 2e-15 of the output's scale.
import { describe, expect, it } from "vitest";
import { pass1d, rankOneFactors, SEPARABLE_TOLERANCE, separableConv, separableFactors } from "../../compiler/algorithms/separable.js";
import { namedKernel } from "../../compiler/tensors/kernels.js";
import { cases, channelsAndGroups, layer, randomPad, relativeError, type Rng } from "./helpers.js";

function outer(us: readonly ArrayLike<number>[]): Float64Array {
  const n = us.reduce((a, u) => a * u.length, 1);
  const out = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    let rest = e;
    let p = 1;
    for (let i = us.length - 1; i >= 0; i--) {
      p *= us[i][rest % us[i].length];
      rest = Math.floor(rest / us[i].length);
    }
    out[e] = p;
  }
  return out;
}

const randomVector = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.next() * 2 - 1);

describe("separable: rank-1 detection", () => {
  it("finds the factors of 100 random outer products (2-D and 3-D)", () => {
    const worst = cases(100, 300, 5e-15, (rng) => {
      const shape = Array.from({ length: rng.pick([2, 3]) }, () => rng.int(1, 9));
      const k = outer(shape.map((n) => randomVector(rng, n)));
      const f = rankOneFactors(k, shape);
      if (!f) throw new Error(`rank 1 not found for ${shape}`);
      return relativeError(outer(f), k);
    });
    console.log(`separable factors: max relative error ${worst.toExponential(2)}`);
  });

  it("refuses sums of two outer products and random kernels, accepts noise under the tolerance", () => {
    cases(100, 500, 0, (rng) => {
      const shape = Array.from({ length: rng.pick([2, 3]) }, () => rng.int(2, 7));
      const a = outer(shape.map((n) => randomVector(rng, n)));
      const b = outer(shape.map((n) => randomVector(rng, n)));
      const norm = Math.hypot(...a);
      const bNorm = Math.hypot(...b);
      // 100x the tolerance: clearly rank 2. A tenth of it: rank 1 for all purposes.
      const far = a.map((v, i) => v + (b[i] / bNorm) * norm * 100 * SEPARABLE_TOLERANCE);
      const near = a.map((v, i) => v + (b[i] / bNorm) * norm * 0.1 * SEPARABLE_TOLERANCE);
      expect(rankOneFactors(far, shape)).toBeUndefined();
      expect(rankOneFactors(near, shape)).toBeDefined();
      expect(rankOneFactors(randomVector(rng, a.length), shape)).toBeUndefined();
      return 0;
    });
  });

  it("refuses a large random kernel (it stops iterating once the residual stops falling) and still finds a noisy outer product", () => {
    // Fuzzer seed 33 case 8328: a random 1001x1001x7 kernel took 29 s to refuse (100 sweeps).
    const rng = { state: 7, next() { this.state = (this.state * 1103515245 + 12345) % 2147483648; return this.state / 2147483648; } };
    const shape = [201, 201, 7];
    const random = Float64Array.from({ length: 201 * 201 * 7 }, () => rng.next() * 2 - 1);
    expect(rankOneFactors(random, shape)).toBeUndefined();
    const a = outer(shape.map((n) => Float64Array.from({ length: n }, () => rng.next() * 2 - 1)));
    const norm = (v: Float64Array) => Math.sqrt(v.reduce((t, x) => t + x * x, 0));
    const aNorm = norm(a);
    const rNorm = norm(random);
    const near = a.map((v, i) => v + (random[i] / rNorm) * aNorm * 0.3 * SEPARABLE_TOLERANCE);
    expect(rankOneFactors(near, shape)).toBeDefined();
  });

  it("Gaussians are separable in 2-D and 3-D (also as f32), Sobel is, a Gabor at an angle is not", () => {
    for (const size of [[9, 9], [5, 7], [3, 3, 3]]) {
      const g = namedKernel("gaussian", { sigma: 2 }, size);
      if (!g.ok) throw new Error(g.error);
      expect(rankOneFactors(g.value, size)).toBeDefined();
      expect(rankOneFactors(Float32Array.from(g.value), size)).toBeDefined();
    }
    const sobel = namedKernel("sobel_x", {}, [3, 3]);
    if (!sobel.ok) throw new Error(sobel.error);
    expect(rankOneFactors(sobel.value, [3, 3])).toBeDefined();
    const gabor = namedKernel("gabor", { sigma: 2, lambda: 4, theta: 0.7 }, [7, 7]);
    if (!gabor.ok) throw new Error(gabor.error);
    expect(rankOneFactors(gabor.value, [7, 7])).toBeUndefined();
  });

  it("a 1-D kernel has nothing to separate; one full-rank slice makes the layer not separable", () => {
    const op = { kind: "conv", filters: 2, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: { kind: "valid" }, groups: 1, flip: false, bias: "none" } as const;
    const w = new Float64Array(18);
    w.set(outer([[1, 2, 3], [1, 0, -1]]));
    w.set([1, 0, 0, 0, 1, 0, 0, 0, 1], 9);
    const r = separableFactors(op, w, 1);
    expect("reason" in r && r.reason).toContain("kernel slice [1, 0]");
    expect("reason" in separableFactors({ ...op, kernel: [3] }, [1, 2, 3], 1)).toBe(true);
  });

  it("a 1-D pass is the 1-D correlation with stride, dilation and padding", () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7]);
    const y = pass1d(x, [7], 0, [1, 10], 2, 2, 1, 3);
    // positions j*2 + k*2 - 1: j=0: x[-1]*1 + x[1]*10; j=1: x[1] + x[3]*10; j=2: x[3] + x[5]*10
    expect(Array.from(y.data)).toEqual([20, 2 + 40, 4 + 60]);
  });
});

describe("separable: composed 1-D passes equal direct convolution (float64)", () => {
  it("on 100 random 2-D and 3-D layers with rank-1 slices (bound 5e-15)", () => {
    const worst = cases(100, 600, 5e-15, (rng) => {
      const d = rng.pick([2, 2, 3]);
      const kernel = Array.from({ length: d }, () => rng.int(1, d === 2 ? 9 : 4));
      const stride = kernel.map(() => rng.pick([1, 1, 2, 3]));
      const dilation = kernel.map(() => rng.pick([1, 1, 2]));
      const size = kernel.map((k, i) => (k - 1) * dilation[i] + 1 + rng.int(0, d === 2 ? 20 : 5));
      const cg = channelsAndGroups(rng, 4, 3);
      const vol = kernel.reduce((a, b) => a * b, 1);
      const l = layer(rng, { d, kernel, stride, dilation, ...cg, size, pad: randomPad(rng, kernel), flip: rng.bool() }, (n) => {
        const w = new Float64Array(n);
        for (let s = 0; s < n / vol; s++) w.set(outer(kernel.map((k) => randomVector(rng, k))), s * vol);
        return w;
      });
      const f = separableFactors(l.op, l.w, l.inShape[0]);
      if ("reason" in f) throw new Error(f.reason);
      return relativeError(separableConv(l.x, l.inShape, f.factors, l.op, l.padBefore, [l.op.filters, ...l.out]), l.want);
    });
    console.log(`separable convolution float64: max relative error ${worst.toExponential(2)}`);
  });
});
