// Named constant tensors (`const k = f32[C, H, W] from "name"`) as operands of + - * /, max,
// min and concat, lowered onto ops every backend already has, so no kernel of their own:
//   x + k, x - k, k - x   a 1x1 depthwise convolution of x: weight ±1 per channel, bias ±k
//                         (a bias per channel when k is [C, 1, ..], else one per location)
//   x * k, x / k          per channel: a 1x1 depthwise of weight k (or 1/k, as `a / b` is
//   k / x                 a * reciprocal(b)); k varying over space: x times k made a value
//   max, min              the chains of composites.ts, a + relu(b - a), with b - a above
//   concat                k made a value
// "Made a value" is a 1x1 convolution of the other operand with weight 0 and k as a bias
// per location: 0 * x + k, which is k wherever x is finite (a NaN or infinite input gives
// NaN there). The numbers of the weights these ops own follow from k's, which are only known
// once the weights file is read: each such weight carries how to compute them (`derive`).

import * as D from "../ir/dim.js";
import type { Dim } from "../ir/dim.js";
import type { ConstantForm, WeightRole } from "../ir/graph.js";
import type { ConvOp, Op } from "../ir/ops.js";
import type { Span } from "../source.js";
import { type ConstTensor, POISON } from "./scope.js";

/** A weight of a lowered node: its shape and how to compute its numbers once k's are bound. */
export interface DerivedWeight {
  readonly shape: readonly number[];
  readonly derive: () => Float32Array;
}

export interface ConstLowering {
  /** One node; `form` says which ONNX op on k it is, for export. */
  node(op: Op, inputs: readonly number[], weights?: Partial<Record<WeightRole, DerivedWeight>>, form?: ConstantForm): number;
  shape(v: number): readonly Dim[];
  /** Reports a mistake at `span`; returns POISON. */
  fail(message: string, span: Span): number;
}

/** An operand: a value id, or a named constant. */
export type Operand = number | ConstTensor;

const isConst = (o: Operand): o is ConstTensor => typeof o !== "number";
const act = (fn: "relu" | "neg" | "reciprocal"): Op => ({ kind: "activation", fn, alpha: 0 });
const show = (s: readonly Dim[]): string => D.printShape(s);

/** How k lies on a value of shape xs: per channel, or per location on xs's fixed sizes. */
interface Fit {
  readonly k: ConstTensor;
  readonly channels: number;
  readonly perChannel: boolean;
  /** The shape k spreads to: [C] per channel, else xs (all fixed). */
  readonly target: readonly number[];
}

function fit(l: ConstLowering, k: ConstTensor, xs: readonly Dim[], span: Span): Fit | undefined {
  const ks = k.shape;
  const c = xs[0];
  if (xs.length < 2) {
    l.fail(`the constant '${k.name}' is an operand of a value with channels and spatial axes, but this value has shape ${show(xs)}`, span);
    return undefined;
  }
  if (ks.length !== xs.length || ks.some((d, i) => d !== 1 && !D.dimEquals(d, xs[i]))) {
    l.fail(`the constant '${k.name}' of shape [${ks.join(", ")}] does not broadcast onto a value of shape ${show(xs)}: it needs the value's ${xs.length} axes, each of the value's size or 1`, span);
    return undefined;
  }
  if (typeof c !== "number") {
    l.fail(`the constant '${k.name}' needs a value with a fixed number of channels, not ${show(xs)}`, span);
    return undefined;
  }
  const perChannel = ks.slice(1).every((d) => d === 1);
  if (perChannel) return { k, channels: c, perChannel, target: [c] };
  if (!xs.every((d): d is number => typeof d === "number")) {
    l.fail(`the constant '${k.name}' varies over space, so the value it meets needs fixed sizes, not ${show(xs)}`, span);
    return undefined;
  }
  return { k, channels: c, perChannel, target: xs };
}

/** k's numbers broadcast onto `target` (k's sizes are target's or 1; [C] means [C, 1, ..]), through f. */
export function spread(k: Float32Array, ks: readonly number[], target: readonly number[], f: (v: number) => number): Float32Array {
  const full = [...target, ...new Array<number>(ks.length - target.length).fill(1)];
  const total = full.reduce((a, b) => a * b, 1);
  const out = new Float32Array(total);
  const idx = new Array<number>(full.length).fill(0);
  for (let i = 0; i < total; i++) {
    let src = 0;
    for (let a = 0; a < full.length; a++) src = src * ks[a] + (ks[a] === 1 ? 0 : idx[a]);
    out[i] = f(k[src]);
    for (let a = full.length - 1; a >= 0; a--) {
      if (++idx[a] < full[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

function conv1x1(filters: number, rank: number, groups: number, bias: ConvOp["bias"]): ConvOp {
  const ones = new Array<number>(rank).fill(1);
  return { kind: "conv", filters, kernel: ones, stride: ones, dilation: ones, pad: { kind: "valid" }, groups, flip: false, bias };
}

/** scale * x + shift per channel (and per location): a 1x1 depthwise convolution; `form` is the ONNX op it stands for. */
function affine(l: ConstLowering, x: number, f: Fit, form: Omit<ConstantForm, "constant">, scale: number | ((v: number) => number), shift?: (v: number) => number): number {
  const c = f.channels;
  const rank = l.shape(x).length - 1;
  const wShape = [c, 1, ...new Array<number>(rank).fill(1)];
  const k = f.k;
  const weight: DerivedWeight =
    typeof scale === "number"
      ? { shape: wShape, derive: () => new Float32Array(c).fill(scale) }
      : { shape: wShape, derive: () => spread(k.weight.data, k.shape, [c], scale) };
  const tag: ConstantForm = { ...form, constant: k.weight };
  if (!shift) return l.node(conv1x1(c, rank, c, "none"), [x], { weight }, tag);
  const bias: DerivedWeight = { shape: f.target, derive: () => spread(k.weight.data, k.shape, f.target, shift) };
  return l.node(conv1x1(c, rank, c, f.perChannel ? "channel" : "location"), [x], { weight, bias }, tag);
}

/** k as a value on `base`'s spatial sizes with `channels` channels: 0 * base + k (see the header); `omit` when its one reader exports as ONNX's op on k. */
function materialise(l: ConstLowering, base: number, k: ConstTensor, channels: number, f: (v: number) => number, omit = false): number {
  const bs = l.shape(base);
  const cb = bs[0] as number;
  const rank = bs.length - 1;
  const target = [channels, ...(bs.slice(1) as number[])];
  const groups = channels === cb ? cb : 1;
  const wShape = [channels, cb / groups, ...new Array<number>(rank).fill(1)];
  const weight: DerivedWeight = { shape: wShape, derive: () => new Float32Array(wShape.reduce((a, b) => a * b, 1)) };
  const bias: DerivedWeight = { shape: target, derive: () => spread(k.weight.data, k.shape, target, f) };
  return l.node(conv1x1(channels, rank, groups, "location"), [base], { weight, bias }, omit ? { op: "Omit", constFirst: false, constant: k.weight } : undefined);
}

const ADD = (constFirst: boolean): Omit<ConstantForm, "constant"> => ({ op: "Add", constFirst });
const SUB = (constFirst: boolean): Omit<ConstantForm, "constant"> => ({ op: "Sub", constFirst });
const MUL = (constFirst: boolean): Omit<ConstantForm, "constant"> => ({ op: "Mul", constFirst });
const DIV: Omit<ConstantForm, "constant"> = { op: "Div", constFirst: false };

const same = (v: number): number => v;
const negate = (v: number): number => -v;
const recip = (v: number): number => Math.fround(1 / v);

/** `a op b` where at least one operand is a named constant. */
export function binaryWithConstant(l: ConstLowering, op: "+" | "-" | "*" | "/", a: Operand, b: Operand, span: Span): number {
  if (isConst(a) && isConst(b)) {
    return l.fail(`both operands of '${op}' are constants ('${a.name}', '${b.name}'); at least one must be computed from the network's inputs`, span);
  }
  const kFirst = isConst(a);
  const k = (kFirst ? a : b) as ConstTensor;
  const x = (kFirst ? b : a) as number;
  const f = fit(l, k, l.shape(x), span);
  if (!f) return POISON;
  switch (op) {
    case "+":
      return affine(l, x, f, ADD(kFirst), 1, same);
    case "-":
      return kFirst ? affine(l, x, f, SUB(true), -1, same) : affine(l, x, f, SUB(false), 1, negate);
    case "*":
      if (f.perChannel) return affine(l, x, f, MUL(kFirst), same);
      return l.node({ kind: "mul" }, [x, materialise(l, x, k, f.channels, same, true)], {}, { ...MUL(kFirst), constant: k.weight });
    case "/": {
      if (!kFirst) {
        if (f.perChannel) return affine(l, x, f, DIV, recip);
        return l.node({ kind: "mul" }, [x, materialise(l, x, k, f.channels, recip, true)], {}, { ...DIV, constant: k.weight });
      }
      const r = l.node(act("reciprocal"), [x]);
      if (f.perChannel) return affine(l, r, f, MUL(true), same);
      return l.node({ kind: "mul" }, [r, materialise(l, r, k, f.channels, same, true)], {}, { ...MUL(true), constant: k.weight });
    }
  }
}

/** `max(a, b)` / `min(a, b)` where one operand is a named constant: composites.ts's chains. */
export function extremumWithConstant(l: ConstLowering, isMax: boolean, a: Operand, b: Operand, span: Span): number {
  const word = isMax ? "max" : "min";
  if (isConst(a) && isConst(b)) {
    return l.fail(`both operands of ${word} are constants ('${a.name}', '${b.name}'); at least one must be computed from the network's inputs`, span);
  }
  const kFirst = isConst(a);
  const k = (kFirst ? a : b) as ConstTensor;
  const x = (kFirst ? b : a) as number;
  const f = fit(l, k, l.shape(x), span);
  if (!f) return POISON;
  const relu = (v: number): number => l.node(act("relu"), [v]);
  if (isMax) {
    // max(x, k) = x + relu(k - x); max(k, x) = k + relu(x - k)
    if (!kFirst) return l.node({ kind: "add" }, [x, relu(affine(l, x, f, SUB(true), -1, same))]);
    return affine(l, relu(affine(l, x, f, SUB(false), 1, negate)), f, ADD(true), 1, same);
  }
  // min(x, k) = x + neg(relu(x - k)); min(k, x) = k + neg(relu(k - x))
  if (!kFirst) return l.node({ kind: "add" }, [x, l.node(act("neg"), [relu(affine(l, x, f, SUB(false), 1, negate))])]);
  return affine(l, relu(affine(l, x, f, SUB(true), -1, same)), f, SUB(true), -1, same);
}

/** The operands of concat with each named constant made a value on the first computed operand. */
export function concatOperands(l: ConstLowering, ops: readonly Operand[], span: Span): number[] | undefined {
  const base = ops.find((o): o is number => !isConst(o));
  if (base === undefined) {
    l.fail("every operand of concat is a constant; at least one must be computed from the network's inputs", span);
    return undefined;
  }
  const bs = l.shape(base);
  const out: number[] = [];
  for (const o of ops) {
    if (!isConst(o)) {
      out.push(o);
      continue;
    }
    const ks = o.shape;
    if (bs.length < 2 || ks.length !== bs.length || ks.slice(1).some((d, i) => !D.dimEquals(d, bs[i + 1])) || typeof bs[0] !== "number") {
      l.fail(`the constant '${o.name}' of shape [${ks.join(", ")}] cannot be concatenated with a value of shape ${show(bs)}: concat needs the same spatial sizes`, span);
      return undefined;
    }
    out.push(materialise(l, base, o, ks[0], same));
  }
  return out;
}
