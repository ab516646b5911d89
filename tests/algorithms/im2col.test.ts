// im2col + GEMM (algorithms/im2col.ts) equals direct convolution for every stride,
// dilation, padding, group count, flip and dimension. Measured (float64): exactly equal on
// all 100 (the same products summed in the same order); bound 1e-15.
import { describe, expect, it } from "vitest";
import { gemmConv, im2col, weightMatrix } from "../../compiler/algorithms/im2col.js";
import { cases, channelsAndGroups, layer, randomPad, relativeError, Rng } from "./helpers.js";

describe("im2col: convolution as per-group matrix products", () => {
  it("equals direct convolution on 100 random 1-D to 3-D layers (bound 1e-15)", () => {
    const worst = cases(100, 200, 1e-15, (rng) => {
      const d = rng.pick([1, 2, 2, 3]);
      const kernel = Array.from({ length: d }, () => rng.int(1, d === 3 ? 3 : 5));
      const stride = kernel.map(() => rng.pick([1, 1, 2, 3]));
      const dilation = kernel.map(() => rng.pick([1, 1, 2]));
      const size = kernel.map((k, i) => (k - 1) * dilation[i] + 1 + rng.int(0, d === 3 ? 5 : 12));
      const l = layer(rng, { d, kernel, stride, dilation, ...channelsAndGroups(rng, 6, 4), size, pad: randomPad(rng, kernel), flip: rng.bool() });
      return relativeError(gemmConv(l.x, l.inShape, l.w, l.op, l.padBefore, l.out), l.want);
    });
    console.log(`im2col + GEMM float64: max relative error ${worst.toExponential(2)}`);
  });

  it("B's column p is the receptive field of output p (zero in the padding); A's rows are the filters", () => {
    const rng = new Rng(1);
    const l = layer(rng, { d: 2, kernel: [2, 2], channels: 1, groups: 1, filtersPerGroup: 1, size: [2, 3], pad: { kind: "explicit", before: [1, 0], after: [0, 0] }, flip: true });
    const B = im2col(l.x, l.inShape, l.op, l.padBefore, l.out, 0);
    const x = l.x;
    // Output (0, 0) sees rows -1..0, cols 0..1: the first row is padding.
    expect([B[0 * 4], B[1 * 4], B[2 * 4], B[3 * 4]]).toEqual([0, 0, x[0], x[1]]);
    expect(Array.from(weightMatrix(l.w, l.op, 1, 0))).toEqual(Array.from(l.w).reverse());
  });
});
