// The FFT (algorithms/fft.ts: iterative mixed-radix, 2^a 3^b 5^c) equals the DFT by its
// definition, and tiled overlap-save FFT convolution equals direct convolution in 1-D, 2-D
// and 3-D. Measured (float64): transforms to 2.9e-16 * sqrt(n) of the largest value (bound
// 2e-15); whole convolutions to 7.2e-16 of the output's scale (bound 5e-15).
import { describe, expect, it } from "vitest";
import { chooseFftTiling, fft, fftConv, fftNd, fftTileSizes, isFftSize, kernelSpectrum } from "../../compiler/algorithms/fft.js";
import { effectiveKernel } from "../../compiler/ir/ops.js";
import { cases, channelsAndGroups, layer, randomPad, relativeError, Rng } from "./helpers.js";

function dft(re: number[], im: number[], sign: number): [number[], number[]] {
  const n = re.length;
  const or: number[] = [];
  const oi: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const a = (sign * 2 * Math.PI * ((j * k) % n)) / n;
      sr += re[j] * Math.cos(a) - im[j] * Math.sin(a);
      si += re[j] * Math.sin(a) + im[j] * Math.cos(a);
    }
    or.push(sr);
    oi.push(si);
  }
  return [or, oi];
}

describe("fft: the transform", () => {
  const sizes = Array.from({ length: 128 }, (_, i) => i + 1).filter(isFftSize);

  it(`equals the DFT for every 2^a 3^b 5^c size up to 128 (${sizes.length} sizes), both directions`, () => {
    const rng = new Rng(42);
    let worst = 0;
    for (const n of sizes) for (const sign of [-1, 1] as const) {
      const re = Array.from({ length: n }, () => rng.next() * 2 - 1);
      const im = Array.from({ length: n }, () => rng.next() * 2 - 1);
      const [wr, wi] = dft(re, im, sign);
      const gr = Float64Array.from(re);
      const gi = Float64Array.from(im);
      fft(gr, gi, n, sign);
      const e = Math.max(relativeError(gr, wr), relativeError(gi, wi)) / Math.sqrt(n);
      expect(e).toBeLessThan(2e-15);
      worst = Math.max(worst, e);
    }
    console.log(`fft vs DFT: max error / sqrt(n) ${worst.toExponential(2)}`);
  });

  it("inverse after forward gives the input back (times the size), in 1-D to 3-D", () => {
    const rng = new Rng(7);
    for (const shape of [[12], [8, 20], [4, 6, 10], [60, 8]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const re = Float64Array.from({ length: n }, () => rng.next());
      const im = Float64Array.from({ length: n }, () => rng.next());
      const r2 = re.slice();
      const i2 = im.slice();
      fftNd(r2, i2, shape, -1);
      fftNd(r2, i2, shape, 1);
      expect(relativeError(r2.map((v) => v / n), re)).toBeLessThan(1e-14);
      expect(relativeError(i2.map((v) => v / n), im)).toBeLessThan(1e-14);
    }
  });

  it("tiles are FFT sizes, multiples of 4, and leave at least one output", () => {
    expect(fftTileSizes(64)).toEqual([4, 8, 12, 16, 20, 24, 32, 36, 40, 48, 60, 64]);
    const t = chooseFftTiling([15, 15], 1, 8, [256, 256]);
    t.n.forEach((n, i) => {
      expect(isFftSize(n) && n % 4 === 0).toBe(true);
      expect(t.t[i]).toBe(n - 15 + 1);
    });
  });

  it("a 1-D tile is at most 512 points: past that its unrolled kernel took binaryen minutes (a 65-tap layer over 2048 picked 768)", () => {
    for (const k of [9, 33, 65, 129, 201]) expect(chooseFftTiling([k], 4, 8, [2048]).n[0]).toBeLessThanOrEqual(512);
  });
});

describe("fft: overlap-save convolution equals direct convolution (float64)", () => {
  it("on 100 random 1-D, 2-D and 3-D layers (bound 5e-15)", () => {
    const worst = cases(100, 8100, 5e-15, (rng) => {
      const d = rng.pick([1, 2, 2, 3]);
      const kernel = Array.from({ length: d }, () => rng.int(1, d === 1 ? 21 : d === 2 ? 11 : 4));
      const dilation = kernel.map(() => rng.pick([1, 1, 2]));
      const size = kernel.map((k, i) => effectiveKernel(k, dilation[i]) + rng.int(0, d === 1 ? 80 : d === 2 ? 24 : 6));
      const l = layer(rng, { d, kernel, dilation, ...channelsAndGroups(rng, 4, 3), size, pad: randomPad(rng, kernel), flip: rng.bool() });
      const kEff = kernel.map((k, i) => effectiveKernel(k, dilation[i]));
      const tiling = chooseFftTiling(kEff, l.inShape[0] / l.op.groups, l.op.filters / l.op.groups, l.out);
      return relativeError(fftConv(l.x, l.inShape, l.w, l.op, l.padBefore, [l.op.filters, ...l.out], tiling), l.want);
    });
    console.log(`fft convolution float64: max relative error ${worst.toExponential(2)}`);
  });
});

describe("fft: a kernel's spectrum by direct sums over its taps equals the FFT of the padded kernel", () => {
  it("on 60 random 1-D (up to 60 taps), 2-D and 3-D kernels, dilated and flipped (bound 1e-13)", () => {
    const worst = cases(60, 8200, 1e-13, (rng) => {
      const d = rng.pick([1, 2, 3]);
      // 1-D kernels up to 60 taps: past a few, the spectrum is taken by FFT instead of sums.
      const kernel = Array.from({ length: d }, () => rng.int(1, d === 3 ? 4 : d === 2 ? 7 : 60));
      const dilation = kernel.map(() => rng.pick([1, 1, 2, 3]));
      const n = kernel.map((k, i) => rng.pick(fftTileSizes(d === 1 ? 256 : 64).filter((s) => s >= effectiveKernel(k, dilation[i]))));
      const flip = rng.bool();
      const kVol = kernel.reduce((a, b) => a * b, 1);
      const w = Array.from({ length: 2 * kVol }, () => 2 * rng.next() - 1);
      // The definition: the kernel placed (dilated, flipped) in the zero tile, conj(FFT) / N.
      const points = n.reduce((a, b) => a * b, 1);
      const re = new Float64Array(points);
      const im = new Float64Array(points);
      for (let e = 0; e < kVol; e++) {
        let rest = e;
        let at = 0;
        let src = 0;
        for (let i = d - 1, dst = 1, s = 1; i >= 0; dst *= n[i], s *= kernel[i], i--) {
          const k = rest % kernel[i];
          rest = Math.floor(rest / kernel[i]);
          at += k * dilation[i] * dst;
          src += (flip ? kernel[i] - 1 - k : k) * s;
        }
        re[at] = w[kVol + src];
      }
      fftNd(re, im, n, -1);
      const [gotRe, gotIm] = kernelSpectrum(w, kVol, kernel, dilation, flip, n);
      const want = [...re.map((v) => v / points), ...im.map((v) => -v / points)];
      return relativeError([...gotRe, ...gotIm], want);
    });
    console.log(`kernel spectrum by taps: max relative error ${worst.toExponential(2)}`);
  });
});
