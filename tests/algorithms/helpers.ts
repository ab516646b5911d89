// Shared by the algorithm tests: random convolution layers (seeded, replayable), their input
// and weights in float64, the reference's answer, and the error measure the bounds are
// stated in (max |got - want| over max(1, max |want|), as everywhere in the project).
import { type ConvOp, type PadSpec, windowGeometry } from "../../compiler/ir/ops.js";
import { conv } from "../../compiler/reference/conv.js";
import { Rng } from "../backends/wasm/plan-helper.js";

export { Rng };

export interface Layer {
  readonly op: ConvOp;
  readonly inShape: number[];
  readonly x: Float64Array;
  readonly w: Float64Array;
  readonly padBefore: number[];
  readonly out: number[];
  /** The reference (direct convolution, float64, no bias). */
  readonly want: Float64Array;
}

export interface LayerSpec {
  readonly d: number;
  readonly kernel: number[];
  readonly stride?: number[];
  readonly dilation?: number[];
  readonly channels: number;
  readonly filtersPerGroup: number;
  readonly groups: number;
  readonly size: number[];
  readonly pad: PadSpec;
  readonly flip: boolean;
}

export function randomPad(rng: Rng, k: readonly number[]): PadSpec {
  const kind = rng.pick(["valid", "same", "full", "explicit"] as const);
  if (kind !== "explicit") return { kind };
  return { kind, before: k.map(() => rng.int(0, 2)), after: k.map(() => rng.int(0, 2)) };
}

export function layer(rng: Rng, s: LayerSpec, weights?: (n: number) => Float64Array): Layer {
  const op: ConvOp = {
    kind: "conv",
    filters: s.filtersPerGroup * s.groups,
    kernel: s.kernel,
    stride: s.stride ?? s.kernel.map(() => 1),
    dilation: s.dilation ?? s.kernel.map(() => 1),
    pad: s.pad,
    groups: s.groups,
    flip: s.flip,
    bias: "none",
  };
  const inShape = [s.channels, ...s.size];
  const x = Float64Array.from(rng.f32(inShape.reduce((a, b) => a * b, 1), 2));
  const wn = op.filters * (s.channels / s.groups) * s.kernel.reduce((a, b) => a * b, 1);
  const w = weights ? weights(wn) : Float64Array.from(rng.f32(wn));
  const geo = windowGeometry(s.size, op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = geo.padBefore.map((p) => p as number);
  const out = geo.out.map((o) => o as number);
  const want = conv({ shape: inShape, data: x }, op, { shape: [op.filters, s.channels / s.groups, ...s.kernel], data: w }, undefined).data;
  return { op, inShape, x, w, padBefore, out, want };
}

/** Channels, groups and filters per group that divide evenly (depthwise among them). */
export function channelsAndGroups(rng: Rng, maxC: number, maxOg: number): { channels: number; groups: number; filtersPerGroup: number } {
  const channels = rng.int(1, maxC);
  const groups = rng.pick([1, 1, ...[2, 3, channels].filter((g) => channels % g === 0)]);
  return { channels, groups, filtersPerGroup: rng.int(1, maxOg) };
}

export { relativeError } from "../relative-error.js";

/** Runs `n` seeded cases; fails on the first above `bound` with its seed; returns the max error. */
export function cases(n: number, seed0: number, bound: number, one: (rng: Rng, seed: number) => number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const seed = seed0 + i;
    const e = one(new Rng(seed), seed);
    if (!(e <= bound)) throw new Error(`seed ${seed}: relative error ${e} above ${bound}`);
    worst = Math.max(worst, e);
  }
  return worst;
}
