// Seeded random convolution layers per algorithm (what each algorithm applies to), shared by
// the WASM and WGSL algorithm tests so both backends are checked on the same layers.
import type { ConvOp, PadSpec } from "../../compiler/ir/ops.js";
import type { Epilogue } from "../../compiler/plan/plan.js";
import type { Rng } from "./wasm/plan-helper.js";

export interface Config {
  readonly input: number[];
  readonly op: ConvOp;
  readonly epilogue: Epilogue[];
  /** Separable layers get rank-1 slices. */
  readonly rankOne?: boolean;
}

/** Replaces each kernel slice of `w` by an outer product of random vectors (rank 1). */
export function makeRankOne(w: { data: Float32Array }, k: readonly number[], rng: Rng): void {
  const vol = k.reduce((a, v) => a * v, 1);
  for (let s = 0; s < w.data.length / vol; s++) {
    const us = k.map((n) => rng.f32(n));
    for (let e = 0; e < vol; e++) {
      let rest = e;
      let p = 1;
      for (let i = k.length - 1; i >= 0; i--) {
        p *= us[i][rest % k[i]];
        rest = Math.floor(rest / k[i]);
      }
      w.data[s * vol + e] = Math.fround(p);
    }
  }
}

function randomPad(rng: Rng, d: number, k: readonly number[]): PadSpec {
  const kind = rng.pick(["valid", "same", "full", "explicit"] as const);
  if (kind !== "explicit") return { kind };
  return { kind, before: k.map(() => rng.int(0, 2)), after: Array.from({ length: d }, () => rng.int(0, 2)) };
}

function randomEpilogue(rng: Rng): Epilogue[] {
  const fn = rng.pick(["none", "relu", "leaky_relu", "sigmoid"] as const);
  return fn === "none" ? [] : [{ kind: "activation", fn, alpha: 0.1 }];
}

function groupsFor(rng: Rng, c: number, o: number): number {
  const gs = [1, 2, 3, 4, c].filter((g) => c % g === 0 && o % g === 0);
  return rng.pick(gs);
}

const spatial = (rng: Rng, d: number, lo: number, hi: number) => Array.from({ length: d }, () => rng.int(lo, hi));

/** Any convolution: 1-D to 3-D, any stride, dilation, padding, groups. */
export function gemmConfig(rng: Rng): Config {
  const d = rng.pick([1, 2, 2, 2, 3]);
  const kernel = Array.from({ length: d }, () => rng.int(1, d === 3 ? 3 : 5));
  const stride = Array.from({ length: d }, () => rng.pick([1, 1, 2, 3]));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 2]));
  const c = rng.int(1, 6);
  const filters0 = rng.int(1, 9);
  const groups = groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const m = spatial(rng, d, 1, d === 1 ? 40 : d === 2 ? 14 : 6).map((v, i) => v + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride,
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng) };
}

/** 3x3, stride 1, dilation 1, 2-D: channels, groups, padding and sizes vary (small, with boundary tiles). */
export function winogradConfig(rng: Rng): Config {
  const c = rng.int(1, 12);
  const filters0 = rng.int(1, 10);
  const groups = groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel: [3, 3],
    stride: [1, 1],
    dilation: [1, 1],
    pad: randomPad(rng, 2, [3, 3]),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, rng.int(3, 20), rng.int(3, 24)], op, epilogue: randomEpilogue(rng) };
}

/** 2-D and 3-D layers whose kernel slices are rank 1: depthwise blurs and general O x C layers. */
export function separableConfig(rng: Rng): Config {
  const d = rng.pick([2, 2, 2, 3]);
  const kernel = Array.from({ length: d }, () => rng.int(1, d === 3 ? 4 : 7));
  const stride = Array.from({ length: d }, () => rng.pick([1, 1, 1, 2]));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 2]));
  const c = rng.int(1, 4);
  const depthwise = rng.bool();
  const filters0 = rng.int(1, 4);
  const groups = depthwise ? c : groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const m = spatial(rng, d, 1, d === 2 ? 40 : 8).map((v, i) => v + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride,
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng), rankOne: true };
}

/** Stride 1, 1-D to 3-D, kernels up to 9 (1-D 15), any dilation, padding and groups. */
export function fftConfig(rng: Rng): Config {
  const d = rng.pick([1, 2, 2, 2, 3]);
  const kernel = Array.from({ length: d }, () => rng.int(1, d === 1 ? 15 : d === 2 ? 9 : 4));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 2]));
  const c = rng.int(1, 4);
  const filters0 = rng.int(1, 5);
  const groups = groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const m = spatial(rng, d, 1, d === 1 ? 60 : d === 2 ? 24 : 8).map((v, i) => v + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride: kernel.map(() => 1),
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng) };
}

/**
 * Any convolution, with the last axis long enough for interior (unmasked) blocks and both
 * edges: depthwise, pointwise and general layers, 1-D to 3-D, strides 1 to 3, dilation,
 * channel counts that leave partial blocks of 4 filters.
 */
export function directSimdConfig(rng: Rng): Config {
  const d = rng.pick([1, 2, 2, 2, 3]);
  const shape = rng.pick(["depthwise", "pointwise", "general", "general"] as const);
  const kernel = Array.from({ length: d }, () => (shape === "pointwise" ? 1 : rng.int(1, d === 3 ? 3 : d === 2 ? 5 : 9)));
  const stride = Array.from({ length: d }, () => rng.pick([1, 1, 2, 2, 3]));
  const dilation = Array.from({ length: d }, () => rng.pick([1, 1, 1, 2]));
  const c = rng.int(1, shape === "pointwise" ? 12 : 6);
  const filters0 = rng.int(1, 10);
  const groups = shape === "depthwise" ? c : groupsFor(rng, c, filters0 * c);
  const filters = groups === c ? c * rng.int(1, 2) : filters0 * groups;
  const lead = d === 3 ? 6 : 12;
  const m = Array.from({ length: d }, (_, i) => rng.int(1, i === d - 1 ? 48 : lead) + (kernel[i] - 1) * dilation[i]);
  const op: ConvOp = {
    kind: "conv",
    filters,
    kernel,
    stride,
    dilation,
    pad: randomPad(rng, d, kernel),
    groups,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, ...m], op, epilogue: randomEpilogue(rng) };
}

/**
 * 1-D, groups 1, dilation 1, kernel 2..10 wider than the stride 1..4 (winograd1d's domain):
 * channels include non-multiples of 4, lengths that leave partial tiles and quads, and the
 * long inputs take the interior (vector-load) path as well as the masked one.
 */
export function winograd1dConfig(rng: Rng): Config {
  const stride = rng.pick([1, 1, 2, 2, 3, 4]);
  const k = rng.int(stride + 1, Math.min(10, 2 * 5 * stride));
  const c = rng.int(1, 9);
  const op: ConvOp = {
    kind: "conv",
    filters: rng.int(1, 13),
    kernel: [k],
    stride: [stride],
    dilation: [1],
    pad: randomPad(rng, 1, [k]),
    groups: 1,
    flip: rng.bool(),
    bias: rng.pick(["channel", "channel", "none", "location"] as const),
  };
  return { input: [c, k + rng.pick([rng.int(0, 30), rng.int(30, 400)])], op, epilogue: randomEpilogue(rng) };
}
