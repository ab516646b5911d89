// Ops of the language that are exact rewrites into IR ops every backend already has, so they
// need no kernel of their own: prelu, instancenorm, and max/min/mean of values. Each expands
// into the chain `cnnc import` used to write out by hand, so an imported model and one
// written with these words lower to the same IR. The rewrites:
//   max(a, b) = a + relu(b - a),  min(a, b) = a - relu(a - b)  (within one f32 rounding)
//   mean(a, b, ..) = (a + b + ..) scaled by 1/n per channel (a 1x1 depthwise of constants)
//   prelu = relu(x) - slope * relu(-x)  (exact: one term is zero, negation is exact)
//   instancenorm = (x - m) * 1/sqrt(var + eps) * scale + shift, m and var global averages.
//   reduce_* = pools, a 1x1 convolution of constants or maxout (see reduce below).

import type { Dim } from "../ir/dim.js";
import type { CompositeForm, Weight, WeightRole } from "../ir/graph.js";
import type { Op } from "../ir/ops.js";
import { type ArgReader, literalNumber } from "./args.js";
import type { WeightDecl } from "./builtins.js";

/** What an expansion may ask of the lowering. */
export interface Expander {
  readonly args: ArgReader;
  /** One IR node of the expansion; its output value, or POISON. */
  node(op: Op, inputs: readonly number[], weights?: Partial<Record<WeightRole, Weight>>): number;
  /** The layer's own weight `label.role`, bound like any layer's (file, literal, init). */
  weight(decl: WeightDecl): Weight | undefined;
  /** A weight of fixed numbers that the expansion needs (a scale of 1/n, an epsilon). */
  constant(part: string, shape: readonly number[], data: ArrayLike<number>): Weight;
  shape(v: number): readonly Dim[];
  /** What the expansion is as one ONNX operator (for export), said before it returns. */
  form(f: CompositeForm): void;
}

export type Expand = (x: Expander, inputs: readonly number[]) => number | undefined;

const act = (fn: "relu" | "neg" | "sqrt" | "reciprocal"): Op => ({ kind: "activation", fn, alpha: 0 });
const ADD: Op = { kind: "add" };
const MUL: Op = { kind: "mul" };

/** `depthwise(1)`'s op on a [C, D..] value: a per-channel scale (and shift). */
export function channelScale(channels: number, rank: number, bias: boolean): Op {
  const ones = new Array<number>(rank).fill(1);
  return { kind: "conv", filters: channels, kernel: ones, stride: ones, dilation: ones, pad: { kind: "valid" }, groups: channels, flip: false, bias: bias ? "channel" : "none" };
}

function channelsOf(x: Expander, v: number): number | undefined {
  const s = x.shape(v);
  const c = s[0];
  if (s.length < 2) return x.args.fail(`${x.args.opName} needs a value with channels and spatial axes, but its input has shape [${s.join(", ")}]`, x.args.span(""));
  if (typeof c !== "number") return x.args.fail(`${x.args.opName} needs a fixed number of channels`, x.args.span(""));
  return c;
}

export function extremum(isMax: boolean): Expand {
  return (x, ins) => {
    const w = x.args.opName;
    if (ins.length !== 2) return x.args.fail(`${w} takes two values, ${w}(a, b); for more, nest them: ${w}(${w}(a, b), c)`, x.args.span(""));
    const [a, b] = ins;
    x.form({ op: isMax ? "Max" : "Min", inputs: ins });
    // max: a + relu(b + (-a)); min: a + (-(relu(a + (-b)))): the chains `a + ((b - a) |> relu)` and `a - ((a - b) |> relu)`.
    if (isMax) return x.node(ADD, [a, x.node(act("relu"), [x.node(ADD, [b, x.node(act("neg"), [a])])])]);
    const r = x.node(act("relu"), [x.node(ADD, [a, x.node(act("neg"), [b])])]);
    return x.node(ADD, [a, x.node(act("neg"), [r])]);
  };
}

export const mean: Expand = (x, ins) => {
  if (ins.length < 2) return x.args.fail(`mean takes two or more values: mean(a, b, ...)`, x.args.span(""));
  let sum = ins[0];
  for (const v of ins.slice(1)) sum = x.node(ADD, [sum, v]);
  const c = channelsOf(x, sum);
  if (c === undefined) return undefined;
  const rank = x.shape(sum).length - 1;
  const w = x.constant("scale.weight", [c, 1, ...new Array<number>(rank).fill(1)], new Array<number>(c).fill(1 / ins.length));
  x.form({ op: "Mean", inputs: ins });
  return x.node(channelScale(c, rank, false), [sum], { weight: w });
};

export const prelu: Expand = (x, ins) => {
  const v = ins[0];
  const a = x.args;
  if (a.has("slope")) {
    for (const n of ["weight", "init"]) if (a.has(n)) a.fail(`prelu with one slope has no weight; give the slope or '${n}:', not both`, a.span(n));
    const s = a.number("slope", undefined);
    if (!a.ok || s === undefined) return undefined;
    return x.node({ kind: "activation", fn: "leaky_relu", alpha: s }, [v]);
  }
  const c = channelsOf(x, v);
  if (c === undefined) return undefined;
  const rank = x.shape(v).length - 1;
  const w = x.weight({ role: "weight", shape: [c, 1, ...new Array<number>(rank).fill(1)], alsoShape: [c], value: a.expr("weight"), init: a.expr("init"), fanIn: 1, fanOut: 1, fill: 0.25 });
  if (!w) return undefined;
  x.form({ op: "PRelu", inputs: [v], weights: [w] });
  const pos = x.node(act("relu"), [v]);
  const negPart = x.node(channelScale(c, rank, false), [x.node(act("relu"), [x.node(act("neg"), [v])])], { weight: w });
  return x.node(ADD, [pos, x.node(act("neg"), [negPart])]);
};

export const instancenorm: Expand = (x, ins) => {
  const v = ins[0];
  const a = x.args;
  const eps = a.number("eps", 1e-5);
  if (!a.ok) return undefined;
  if (!(eps >= 0)) return a.fail(`argument 'eps' of instancenorm must be zero or positive, got ${eps}`, a.span("eps"));
  const c = channelsOf(x, v);
  if (c === undefined) return undefined;
  const rank = x.shape(v).length - 1;
  const ones = new Array<number>(rank).fill(1);
  const gap: Op = { kind: "adaptive_pool", mode: "avg", out: ones };
  const scale = x.weight({ role: "weight", shape: [c, 1, ...ones], alsoShape: [c], value: a.expr("weight"), init: a.expr("init"), fanIn: 1, fanOut: 1, fill: 1 });
  const shift = x.weight({ role: "bias", shape: [c], fanIn: 0, fanOut: 0 });
  if (!scale || !shift) return undefined;
  const epsScale = x.constant("eps.weight", [c, 1, ...ones], new Array<number>(c).fill(1));
  const epsShift = x.constant("eps.bias", [c], new Array<number>(c).fill(eps));
  x.form({ op: "InstanceNormalization", inputs: [v], weights: [scale, shift], eps });
  const m = x.node(gap, [v]);
  const d = x.node(ADD, [v, x.node(act("neg"), [m])]);
  const variance = x.node(gap, [x.node(MUL, [d, d])]);
  const rstd = x.node(act("reciprocal"), [x.node(act("sqrt"), [x.node(channelScale(c, rank, true), [variance], { weight: epsScale, bias: epsShift })])]);
  return x.node(channelScale(c, rank, true), [x.node(MUL, [d, rstd])], { weight: scale, bias: shift });
};

export type ReduceKind = "mean" | "max" | "sum" | "l2";

/**
 * reduce_mean/max/sum/l2 over `axes:` of a sample (0 the channels, 1.. the spatial axes).
 * Channels: a 1x1 convolution to one channel of constant weights 1 (sum) or 1/C (mean), or
 * maxout over all C. Spatial axes: a global pool when all are reduced (not for sum), else a
 * pool whose window and stride are the reduced axes' sizes; a sum is the average times the
 * count. L2 squares first and takes the square root last. `keep: false` drops the reduced axes
 * (flatten or reshape).
 */
export function reduce(kind: ReduceKind): Expand {
  return (x, ins) => {
    const a = x.args;
    let v = ins[0];
    const shape = [...x.shape(v)];
    const rank = shape.length - 1;
    const e = a.expr("axes");
    const items = e?.kind === "list" ? e.items : e ? [e] : [];
    const given = items.map((it) => literalNumber(it));
    const keep = a.bool("keep", true);
    if (!a.ok) return undefined;
    if (!e) return a.fail(`${a.opName} needs axes: the axes of a sample to reduce, 0 for channels and 1 to ${rank} for the spatial axes, such as axes: [1, 2]`, a.span(""));
    if (given.length === 0 || given.some((g) => g === undefined || !Number.isInteger(g) || g < 0 || g > rank)) {
      return a.fail(`argument 'axes' of ${a.opName} expects axes of a sample, 0 for channels and 1 to ${rank} for the spatial axes, such as axes: [1, 2]`, e.span);
    }
    if (rank < 1) return a.fail(`${a.opName} needs a value with channels and spatial axes, but its input has shape [${shape.join(", ")}]`, a.span(""));
    const axes = [...new Set(given as number[])].sort((p, q) => p - q);
    const onnxOp = ({ mean: "ReduceMean", max: "ReduceMax", sum: "ReduceSum", l2: "ReduceL2" } as const)[kind];
    x.form({ op: onnxOp, inputs: [v], axes, keep });
    const pool = kind === "max" ? "max" : "avg";
    if (kind === "l2") v = x.node(MUL, [v, v]);
    if (axes.includes(0)) {
      const c = shape[0];
      if (typeof c !== "number") return a.fail(`${a.opName} over channels needs a fixed number of channels`, a.span("axes"));
      if (kind === "max") v = x.node({ kind: "maxout", k: c }, [v]);
      else {
        const ones = new Array<number>(rank).fill(1);
        const w = x.constant("channels.weight", [1, c, ...ones], new Array<number>(c).fill(kind === "mean" ? 1 / c : 1));
        v = x.node({ kind: "conv", filters: 1, kernel: ones, stride: ones, dilation: ones, pad: { kind: "valid" }, groups: 1, flip: false, bias: "none" }, [v], { weight: w });
      }
      shape[0] = 1;
    }
    const spatial = axes.filter((s) => s >= 1).map((s) => s - 1);
    if (spatial.length > 0) {
      if (spatial.length === rank && (kind === "mean" || kind === "max")) v = x.node({ kind: "adaptive_pool", mode: pool, out: new Array<number>(rank).fill(1) }, [v]);
      else {
        const sizes = spatial.map((s) => shape[s + 1]);
        if (!sizes.every((d): d is number => typeof d === "number")) return a.fail(`${a.opName} over some spatial axes needs their sizes fixed`, a.span("axes"));
        const win = shape.slice(1).map((d, s) => (spatial.includes(s) ? (d as number) : 1));
        const ones = win.map(() => 1);
        v = x.node({ kind: "pool", mode: pool, window: win, stride: win, dilation: ones, pad: { kind: "valid" }, ceil: false, countPad: false, p: 2, sigma: 1 }, [v]);
        if (kind === "sum" || kind === "l2") {
          const c = shape[0];
          if (typeof c !== "number") return a.fail(`${a.opName} needs a fixed number of channels`, a.span(""));
          const count = sizes.reduce((p, q) => p * q, 1);
          v = x.node(channelScale(c, rank, false), [v], { weight: x.constant("count.weight", [c, 1, ...ones], new Array<number>(c).fill(count)) });
        }
      }
      for (const s of spatial) shape[s + 1] = 1;
    }
    if (kind === "l2") v = x.node(act("sqrt"), [v]);
    if (keep) return v;
    const kept = shape.filter((_, i) => !axes.includes(i));
    if (kept.length === 0) return a.fail(`${a.opName} with keep: false over every axis leaves nothing; a value keeps at least one axis per sample`, a.span("keep"));
    if (kept.length === 1 && !axes.includes(0)) return x.node({ kind: "flatten" }, [v]);
    if (!kept.every((d): d is number => typeof d === "number")) return a.fail(`${a.opName} with keep: false needs the kept sizes fixed`, a.span("keep"));
    return x.node({ kind: "reshape", shape: kept }, [v]);
  };
}
