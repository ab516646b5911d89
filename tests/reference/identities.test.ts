// Identities for the layers onnxruntime lacks, on seeded random configurations, each
// holding in float64 to rounding:
// - tiled convolution with one tile per axis is convolution (same weights, tile axes dropped);
// - tiled convolution with tiles = the output size is the locally connected layer (weights
//   rearranged [O, C, k, j] -> [O, j, C, k]);
// - a locally connected layer whose kernels are all equal is convolution;
// - deconv is conv's transpose: <conv(x), y> == <x, deconv(y)> for random x, y, with the
//   same kernel and geometry (groups, stride, dilation, any padding, bias none);
// - maxout is a max over slices of k consecutive channels, taken here by hand;
// - batchnorm is x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a.

import { describe, expect, it } from "vitest";
import type { ConvOp, DeconvOp, LocalOp, PadSpec, TiledOp } from "../../compiler/ir/ops.js";
import { windowGeometry } from "../../compiler/ir/ops.js";
import { inferShape } from "../../compiler/ir/shapes.js";
import { batchnorm, conv, deconv, local, maxout, tiled } from "../../compiler/reference/index.js";
import { indices, offset, strides, type Tensor, tensor } from "../../compiler/reference/tensor.js";
import { convOp, randomTensor, relativeError, rng, type Rng } from "./helpers.js";

const MAX_SIZE = [0, 14, 9, 6];

function randomPad(r: Rng, d: number): PadSpec {
  switch (r.int(0, 3)) {
    case 0:
      return { kind: "valid" };
    case 1:
      return { kind: "same" };
    case 2:
      return { kind: "full" };
    default:
      return { kind: "explicit", before: Array.from({ length: d }, () => r.int(0, 3)), after: Array.from({ length: d }, () => r.int(0, 3)) };
  }
}

/** A conv-like window on a random input that the shape rule accepts; `out` is its output size. */
function randomWindow(r: Rng) {
  for (;;) {
    const d = r.int(1, 3);
    const kernel = Array.from({ length: d }, () => r.int(1, 3));
    const stride = kernel.map(() => r.int(1, 3));
    const dilation = kernel.map(() => r.int(1, 2));
    const pad = randomPad(r, d);
    const spatial = kernel.map(() => r.int(1, MAX_SIZE[d]));
    const C = r.int(1, 3);
    const filters = r.int(1, 3);
    const geo = windowGeometry(spatial, kernel, stride, dilation, pad);
    const out = geo.out as number[];
    if (!inferShape(convOp({ filters, kernel, stride, dilation, pad }), [[C, ...spatial]]).ok) continue;
    return { d, C, filters, kernel, stride, dilation, pad, spatial, out };
  }
}

const sameTensor = (got: Tensor, want: Tensor, what: string): void => {
  expect(got.shape, what).toEqual(want.shape);
  expect(relativeError(got.data, want.data), what).toBeLessThan(1e-12);
};

/** A tensor of `shape` whose element at index i is src's at map(i). */
function rearrange(shape: readonly number[], src: Tensor, map: (i: number[]) => number[]): Tensor {
  const t = tensor(shape);
  const st = strides(shape);
  const ss = strides(src.shape);
  for (const i of indices(shape)) t.data[offset(i, st)] = src.data[offset(map(i), ss)];
  return t;
}

const describeWindow = (w: ReturnType<typeof randomWindow>) =>
  `x[${w.C},${w.spatial}] k${w.kernel.join("x")} s${w.stride.join("x")} r${w.dilation.join("x")} ${w.pad.kind} -> ${w.filters}x${w.out.join("x")}`;

describe("tiled with one tile per axis equals conv", () => {
  for (let n = 0; n < 32; n++) {
    const seed = 50000 + n;
    const r = rng(seed);
    const w = randomWindow(r);
    const withBias = r.bool();
    const ones = w.kernel.map(() => 1);
    const name = `#${seed} ${describeWindow(w)}${withBias ? " bias" : ""}`;
    it(name, () => {
      const x = randomTensor(r, [w.C, ...w.spatial]);
      const weight = randomTensor(r, [w.filters, w.C, ...w.kernel, ...ones]);
      const bias = withBias ? randomTensor(r, [w.filters, ...ones]) : undefined;
      const op: TiledOp = { kind: "tiled", filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, tiles: ones, bias: withBias ? "tiled" : "none" };
      const cop: ConvOp = convOp({ filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, bias: withBias ? "channel" : "none" });
      // The same numbers: dropping trailing size-1 axes does not move any element.
      const convWeight = tensor([w.filters, w.C, ...w.kernel], weight.data);
      const convBias = bias && tensor([w.filters], bias.data);
      sameTensor(tiled(x, op, weight, bias), conv(x, cop, convWeight, convBias), name);
    });
  }
});

describe("tiled with tiles = the output size equals local", () => {
  for (let n = 0; n < 32; n++) {
    const seed = 51000 + n;
    const r = rng(seed);
    const w = randomWindow(r);
    const withBias = r.bool();
    const name = `#${seed} ${describeWindow(w)}${withBias ? " bias" : ""}`;
    it(name, () => {
      const d = w.d;
      const x = randomTensor(r, [w.C, ...w.spatial]);
      const tw = randomTensor(r, [w.filters, w.C, ...w.kernel, ...w.out]);
      const tb = withBias ? randomTensor(r, [w.filters, ...w.out]) : undefined;
      const top: TiledOp = { kind: "tiled", filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, tiles: w.out, bias: withBias ? "tiled" : "none" };
      const lop: LocalOp = { kind: "local", filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, bias: withBias ? "location" : "none" };
      // local W[o, j, c, k] = tiled W[o, c, k, j]; the bias [O, j] is the same tensor.
      const lw = rearrange([w.filters, ...w.out, w.C, ...w.kernel], tw, (i) => [i[0], i[d + 1], ...i.slice(d + 2), ...i.slice(1, d + 1)]);
      sameTensor(tiled(x, top, tw, tb), local(x, lop, lw, tb), name);
    });
  }
});

describe("local with every kernel equal equals conv", () => {
  for (let n = 0; n < 32; n++) {
    const seed = 52000 + n;
    const r = rng(seed);
    const w = randomWindow(r);
    const withBias = r.bool();
    const name = `#${seed} ${describeWindow(w)}${withBias ? " bias" : ""}`;
    it(name, () => {
      const d = w.d;
      const x = randomTensor(r, [w.C, ...w.spatial]);
      const k = randomTensor(r, [w.filters, w.C, ...w.kernel]);
      const b = withBias ? randomTensor(r, [w.filters, ...w.out]) : undefined;
      const lop: LocalOp = { kind: "local", filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, bias: withBias ? "location" : "none" };
      const cop = convOp({ filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, bias: withBias ? "location" : "none" });
      // W[o, j, c, k] = K[o, c, k] for every output position j.
      const lw = rearrange([w.filters, ...w.out, w.C, ...w.kernel], k, (i) => [i[0], ...i.slice(d + 1)]);
      sameTensor(local(x, lop, lw, b), conv(x, cop, k, b), name);
    });
  }
});

describe("deconv is conv's transpose: <conv(x), y> == <x, deconv(y)>", () => {
  const dot = (a: Tensor, b: Tensor): number => a.data.reduce((s, v, i) => s + v * b.data[i], 0);
  for (let n = 0; n < 40; n++) {
    const seed = 53000 + n;
    const r = rng(seed);
    let c: { cop: ConvOp; dop: DeconvOp; C: number; spatial: number[]; out: number[] } | undefined;
    while (!c) {
      const w = randomWindow(r);
      const groups = r.pick([1, 1, 2, 3]);
      const C = groups * r.int(1, 2);
      const O = groups * r.int(1, 3);
      const cop = convOp({ filters: O, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, groups });
      if (!inferShape(cop, [[C, ...w.spatial]]).ok) continue;
      // The deconv maps conv's output (O channels) back to conv's input (C channels, size spatial).
      const dop: DeconvOp = { kind: "deconv", filters: C, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, groups, out: w.spatial, bias: "none" };
      c = { cop, dop, C, spatial: w.spatial, out: w.out };
    }
    const { cop, dop } = c;
    const name = `#${seed} x[${c.C},${c.spatial}] y[${cop.filters},${c.out}] k${cop.kernel.join("x")} s${cop.stride.join("x")} r${cop.dilation.join("x")} ${cop.pad.kind} g${cop.groups}`;
    it(name, () => {
      const x = randomTensor(r, [c.C, ...c.spatial]);
      const y = randomTensor(r, [cop.filters, ...c.out]);
      // conv's weight [O, C/g, k] is the deconv's [C_in = O, O_deconv/g = C/g, k]: the same tensor.
      const K = randomTensor(r, [cop.filters, c.C / cop.groups, ...cop.kernel]);
      const left = dot(conv(x, cop, K, undefined), y);
      const dy = deconv(y, dop, K, undefined);
      expect(dy.shape).toEqual(x.shape);
      const right = dot(x, dy);
      expect(Math.abs(left - right), `${left} vs ${right}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(left)));
    });
  }
});

describe("maxout equals a max over channel slices taken by hand", () => {
  for (let n = 0; n < 32; n++) {
    const seed = 54000 + n;
    const r = rng(seed);
    const k = r.int(1, 4);
    const shape = [k * r.int(1, 4), ...Array.from({ length: r.int(0, 3) }, () => r.int(1, 6))];
    const name = `#${seed} x[${shape}] k ${k}`;
    it(name, () => {
      const x = randomTensor(r, shape, -5, 5);
      const per = x.data.length / shape[0];
      // Slice i of output channel c' is input channel c'*k + i; fold the slices with max.
      const slices = (c: number): Float64Array[] => Array.from({ length: k }, (_, i) => x.data.slice((c * k + i) * per, (c * k + i + 1) * per));
      const want = new Float64Array(x.data.length / k);
      for (let c = 0; c < shape[0] / k; c++) {
        const s = slices(c);
        for (let p = 0; p < per; p++) want[c * per + p] = s.reduce((m, t) => (t[p] > m ? t[p] : m), s[0][p]);
      }
      const got = maxout(x, { kind: "maxout", k });
      expect(got.shape).toEqual([shape[0] / k, ...shape.slice(1)]);
      expect(Array.from(got.data)).toEqual(Array.from(want));
    });
  }
});

describe("batchnorm equals x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a", () => {
  for (let n = 0; n < 32; n++) {
    const seed = 55000 + n;
    const r = rng(seed);
    const C = r.int(1, 6);
    const shape = [C, ...Array.from({ length: r.int(0, 3) }, () => r.int(1, 6))];
    const eps = r.pick([1e-5, 1e-3, 0.5]);
    const name = `#${seed} x[${shape}] eps ${eps}`;
    it(name, () => {
      const x = randomTensor(r, shape, -4, 4);
      const gamma = randomTensor(r, [C], -2, 2);
      const beta = randomTensor(r, [C]);
      const mean = randomTensor(r, [C]);
      const variance = randomTensor(r, [C], 0, 3);
      const per = x.data.length / C;
      const want = tensor(shape);
      for (let c = 0; c < C; c++) {
        const a = gamma.data[c] / Math.sqrt(variance.data[c] + eps);
        const b = beta.data[c] - mean.data[c] * a;
        for (let p = 0; p < per; p++) want.data[c * per + p] = x.data[c * per + p] * a + b;
      }
      sameTensor(batchnorm(x, { kind: "batchnorm", eps }, { gamma, beta, mean, variance }), want, name);
    });
  }
});
