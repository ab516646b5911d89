// The ops of the language: each entry is a signature (what arguments it takes) and a
// builder that, given the checked arguments and the input's shape, resolves defaults and
// returns the IR op and the weights the layer owns. Shapes of outputs are not computed here
// but by the op's shape rule (ir/shapes.ts), shared with every later pass.

import type { Expr } from "../../dsl/ast.js";
import type { Dim } from "../ir/dim.js";
import type { WeightRole } from "../ir/graph.js";
import type { ActivationFn, Op, PoolMode } from "../ir/ops.js";
import { windowGeometry } from "../ir/ops.js";
import type { ArgReader, Signature } from "./args.js";
import { literalNumber } from "./args.js";
import { type Expand, extremum, instancenorm, mean, prelu, reduce } from "./composites.js";

/** A weight a layer owns, before its numbers are known. */
export interface WeightDecl {
  readonly role: WeightRole;
  readonly shape: number[];
  /** `weight:` (a literal or a named kernel) for the weight, absent for the bias. */
  readonly value?: Expr;
  /** `init:` for the weight; biases start at zero. */
  readonly init?: Expr;
  readonly fanIn: number;
  readonly fanOut: number;
  /**
   * The kernel's size, where the weight is [A, B, ...kernel] (conv, depthwise, deconv): a
   * literal or named kernel of this shape is used for every filter and channel. Absent where
   * the weight has another layout (local, tiled, dense): those take the whole tensor.
   */
  readonly kernel?: readonly number[];
  /** A constant the weight starts at when nothing else is given (batch norm's gamma and variance are 1). */
  readonly fill?: number;
  /**
   * Another shape the same numbers may come in (row-major), from a weights file or a literal:
   * PyTorch's `[C]` for prelu's and instancenorm's per-channel weights, held as `[C, 1, ..]`.
   */
  readonly alsoShape?: readonly number[];
  /** A named constant's tensor (`const k = ...`, this is k): it must come from a weights file. */
  readonly constant?: string;
  /** Numbers computed from named constants once they are bound (constants.ts): never read nor trained. */
  readonly derive?: () => Float32Array;
}

export interface BuildContext {
  readonly args: ArgReader;
  /** Shapes of the tensor inputs, one sample each. */
  readonly inputs: readonly (readonly Dim[])[];
  /** Shapes of named tensor arguments (`like: x`). */
  readonly named: Readonly<Record<string, readonly Dim[]>>;
}

export interface Built {
  readonly op: Op;
  readonly weights: readonly WeightDecl[];
}

export interface Builtin {
  readonly sig: Signature;
  /** How many tensor inputs: a pipe supplies the first. */
  readonly arity: number | "many";
  /** Named arguments that are tensors, evaluated by the lowering (`like:`). */
  readonly tensorArgs?: readonly string[];
  readonly build: (ctx: BuildContext) => Built | undefined;
  /** An op written as several IR nodes (composites.ts); `build` is then unused. */
  readonly expand?: Expand;
}

function composite(sig: Signature, arity: number | "many", expand: Expand): Builtin {
  return { sig, arity, build: () => undefined, expand };
}

const LAYER_WEIGHTS = ["weight", "init"];
const WINDOW_ARGS = ["stride", "pad", "dilation"];

const rankOf = (ctx: BuildContext) => ctx.inputs[0].length - 1;
const prod = (xs: readonly number[]) => xs.reduce((p, v) => p * v, 1);

function needsSpatial(ctx: BuildContext): boolean {
  if (rankOf(ctx) < 1 || rankOf(ctx) > 3) {
    ctx.args.fail(
      `${ctx.args.opName} needs an input with 1 to 3 spatial axes, but its input has ${rankOf(ctx)}`,
      ctx.args.span(""),
    );
    return false;
  }
  return true;
}

function convLike(ctx: BuildContext, depthwise: boolean): Built | undefined {
  const a = ctx.args;
  if (!needsSpatial(ctx)) return undefined;
  const rank = rankOf(ctx);
  const channels = ctx.inputs[0][0];
  if (typeof channels !== "number") return a.fail(`${a.opName} needs a fixed number of input channels`, a.span(""));
  const multiplier = depthwise ? a.int("multiplier", 1) : 1;
  const filters = depthwise ? channels * multiplier : a.int("filters", undefined);
  const kernel = a.size("kernel", rank, undefined);
  const stride = a.size("stride", rank, 1);
  const dilation = a.size("dilation", rank, 1);
  const pad = a.pad("pad", rank);
  const groups = depthwise ? channels : a.int("groups", 1);
  const flip = a.bool("flip", false);
  const bias = a.word("bias", ["channel", "location", "none"] as const, "channel");
  if (!a.ok || filters === undefined || !kernel || !stride || !dilation || !pad) return undefined;
  const op: Op = { kind: "conv", filters, kernel, stride, dilation, pad, groups, flip, bias };
  if (channels % groups !== 0 || filters % groups !== 0) return { op, weights: [] }; // the shape rule reports it
  const k = prod(kernel);
  const weights: WeightDecl[] = [
    {
      role: "weight",
      shape: [filters, channels / groups, ...kernel],
      kernel,
      value: a.expr("weight"),
      init: a.expr("init"),
      fanIn: (channels / groups) * k,
      fanOut: filters * k, // PyTorch's rule: O * prod(kernel)
    },
  ];
  if (bias === "channel") weights.push({ role: "bias", shape: [filters], fanIn: 0, fanOut: 0 });
  if (bias === "location") {
    const out = windowGeometry(ctx.inputs[0].slice(1), kernel, stride, dilation, pad).out;
    if (!out.every((d): d is number => typeof d === "number")) {
      return a.fail(`bias: location needs a fixed input size, but the output size is symbolic`, a.span("bias"));
    }
    weights.push({ role: "bias", shape: [filters, ...out.map((d) => Math.max(d, 0))], fanIn: 0, fanOut: 0 });
  }
  return { op, weights };
}

/** local and tiled: conv's geometry without groups; weights per position or per tile. */
function unshared(ctx: BuildContext, kind: "local" | "tiled"): Built | undefined {
  const a = ctx.args;
  if (!needsSpatial(ctx)) return undefined;
  const rank = rankOf(ctx);
  const channels = ctx.inputs[0][0];
  if (typeof channels !== "number") return a.fail(`${a.opName} needs a fixed number of input channels`, a.span(""));
  const filters = a.int("filters", undefined);
  const kernel = a.size("kernel", rank, undefined);
  const stride = a.size("stride", rank, 1);
  const dilation = a.size("dilation", rank, 1);
  const pad = a.pad("pad", rank);
  const tiles = kind === "tiled" ? a.size("tiles", rank, undefined) : [];
  const bias =
    kind === "local"
      ? a.word("bias", ["location", "none"] as const, "location")
      : a.word("bias", ["tiled", "none"] as const, "tiled");
  if (!a.ok || filters === undefined || !kernel || !stride || !dilation || !pad || !tiles) return undefined;
  const k = prod(kernel);
  const fan = { fanIn: channels * k, fanOut: filters * k };
  if (kind === "tiled") {
    const op: Op = { kind: "tiled", filters, kernel, stride, dilation, pad, tiles, bias: bias as "tiled" | "none" };
    const weights: WeightDecl[] = [{ role: "weight", shape: [filters, channels, ...kernel, ...tiles], value: a.expr("weight"), init: a.expr("init"), ...fan }];
    if (bias === "tiled") weights.push({ role: "bias", shape: [filters, ...tiles], fanIn: 0, fanOut: 0 });
    return { op, weights };
  }
  const op: Op = { kind: "local", filters, kernel, stride, dilation, pad, bias: bias as "location" | "none" };
  const out = windowGeometry(ctx.inputs[0].slice(1), kernel, stride, dilation, pad).out;
  if (!out.every((d): d is number => typeof d === "number" && d >= 1)) return { op, weights: [] }; // the shape rule reports it
  const weights: WeightDecl[] = [{ role: "weight", shape: [filters, ...out, channels, ...kernel], value: a.expr("weight"), init: a.expr("init"), ...fan }];
  if (bias === "location") weights.push({ role: "bias", shape: [filters, ...out], fanIn: 0, fanOut: 0 });
  return { op, weights };
}

function deconv(ctx: BuildContext): Built | undefined {
  const a = ctx.args;
  if (!needsSpatial(ctx)) return undefined;
  const rank = rankOf(ctx);
  const channels = ctx.inputs[0][0];
  if (typeof channels !== "number") return a.fail(`deconv needs a fixed number of input channels`, a.span(""));
  const filters = a.int("filters", undefined);
  const kernel = a.size("kernel", rank, undefined);
  const stride = a.size("stride", rank, 1);
  const dilation = a.size("dilation", rank, 1);
  const pad = a.pad("pad", rank);
  const groups = a.int("groups", 1);
  const bias = a.word("bias", ["channel", "none"] as const, "channel");
  let out: readonly Dim[] | undefined;
  const like = ctx.named.like;
  if (a.has("size") && like) return a.fail("deconv takes either size: or like:, not both", a.span("like"));
  if (like) {
    if (like.length !== rank + 1) return a.fail(`like: names a tensor with ${like.length - 1} spatial axes, but the input has ${rank}`, a.span("like"));
    out = like.slice(1);
  } else if (a.has("size")) out = a.size("size", rank, undefined);
  else return a.fail("deconv needs the size it returns: size: [H, W] or like: x (several input sizes map to the same output under stride)", a.span(""));
  if (!a.ok || filters === undefined || !kernel || !stride || !dilation || !pad || !out) return undefined;
  const op: Op = { kind: "deconv", filters, kernel, stride, dilation, pad, groups, out, bias };
  if (channels % groups !== 0 || filters % groups !== 0) return { op, weights: [] }; // the shape rule reports it
  const k = prod(kernel);
  const weights: WeightDecl[] = [
    // [C_in, O/groups, k...]: the forward conv's kernel, so fans are those of that conv read backwards.
    { role: "weight", shape: [channels, filters / groups, ...kernel], kernel, value: a.expr("weight"), init: a.expr("init"), fanIn: (filters / groups) * k, fanOut: channels * k },
  ];
  if (bias === "channel") weights.push({ role: "bias", shape: [filters], fanIn: 0, fanOut: 0 });
  return { op, weights };
}

function poolLike(mode: PoolMode, fixedP?: number) {
  return (ctx: BuildContext): Built | undefined => {
    const a = ctx.args;
    if (!needsSpatial(ctx)) return undefined;
    const rank = rankOf(ctx);
    if (a.has("out")) {
      const out = a.size("out", rank, undefined);
      if (mode !== "max" && mode !== "avg") return a.fail(`${a.opName} has no adaptive form (out:); use maxpool or avgpool`, a.span("out"));
      if (a.has("window")) return a.fail(`${a.opName} takes either a window or out:, not both`, a.span("out"));
      for (const n of ["stride", "pad", "dilation", "ceil", "count_pad"]) {
        if (a.has(n)) a.fail(`argument '${n}' of ${a.opName} has no meaning with out:`, a.span(n));
      }
      if (!a.ok || !out) return undefined;
      return { op: { kind: "adaptive_pool", mode, out }, weights: [] };
    }
    if (!a.has("window")) return a.fail(`${a.opName} needs a window (such as 2x2) or out:`, a.span(""));
    const window = a.size("window", rank, undefined);
    const stride = a.size("stride", rank, undefined) ?? window;
    const dilation = a.size("dilation", rank, 1);
    const pad = a.pad("pad", rank);
    const ceil = a.bool("ceil", false);
    const countPad = a.bool("count_pad", false);
    if (a.has("count_pad") && mode !== "avg") a.fail(`count_pad only applies to avgpool`, a.span("count_pad"));
    const p = fixedP ?? (mode === "lp" ? a.number("p", 2) : 2);
    if (mode === "lp" && !(p > 0)) a.fail(`argument 'p' of ${a.opName} must be positive`, a.span("p"));
    const sigma = mode === "gauss" ? a.number("sigma", undefined) : 1;
    if (mode === "gauss" && sigma !== undefined && !(sigma > 0)) a.fail(`argument 'sigma' of ${a.opName} must be positive`, a.span("sigma"));
    if (!a.ok || !window || !stride || !dilation || !pad || sigma === undefined) return undefined;
    return { op: { kind: "pool", mode, window, stride, dilation, pad, ceil, countPad, p, sigma }, weights: [] };
  };
}

const poolSig = (extra: string[]): Signature => ({
  positional: ["window"],
  named: [...WINDOW_ARGS, "ceil", "out", ...extra],
});

function activation(fn: ActivationFn): Builtin {
  return {
    sig: fn === "leaky_relu" ? { positional: ["a"], named: [] } : { positional: [], named: [] },
    arity: 1,
    build: (ctx) => {
      const alpha = fn === "leaky_relu" ? ctx.args.number("a", 0.01) : 0;
      return ctx.args.ok ? { op: { kind: "activation", fn, alpha }, weights: [] } : undefined;
    },
  };
}

/** clip(lo, hi), hardsigmoid(alpha, beta), elu(alpha), selu(alpha, gamma), pow(p): activations with parameters (ONNX's defaults). */
function parametrised(fn: "clip" | "hardsigmoid" | "elu" | "selu" | "pow"): Builtin {
  const names = { clip: ["lo", "hi"], hardsigmoid: ["alpha", "beta"], elu: ["alpha"], selu: ["alpha", "gamma"], pow: ["p"] }[fn];
  const defaults = { clip: [0, 0], hardsigmoid: [0.2, 0.5], elu: [1, 0], selu: [1.6732632423543772, 1.0507009873554805], pow: [1, 0] }[fn];
  return {
    sig: { positional: names, named: [], required: fn === "clip" || fn === "pow" ? names : [] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      const alpha = a.number(names[0], defaults[0]);
      const beta = names[1] ? a.number(names[1], defaults[1]) : undefined;
      if (fn === "clip" && alpha !== undefined && beta !== undefined && !(alpha <= beta)) a.fail("clip(lo, hi) needs lo <= hi", a.span("hi"));
      if (!a.ok || alpha === undefined) return undefined;
      return { op: { kind: "activation", fn, alpha, ...(beta === undefined ? {} : { beta }) }, weights: [] };
    },
  };
}

const TABLE: Readonly<Record<string, Builtin>> = {
  conv: {
    sig: {
      positional: ["filters", "kernel"],
      named: [...WINDOW_ARGS, "groups", "flip", "bias", ...LAYER_WEIGHTS],
      required: ["filters", "kernel"],
    },
    arity: 1,
    build: (ctx) => convLike(ctx, false),
  },
  depthwise: {
    sig: { positional: ["kernel"], named: [...WINDOW_ARGS, "multiplier", "flip", "bias", ...LAYER_WEIGHTS], required: ["kernel"] },
    arity: 1,
    build: (ctx) => convLike(ctx, true),
  },
  dense: {
    sig: { positional: ["units"], named: ["bias", ...LAYER_WEIGHTS], required: ["units"] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      const units = a.int("units", undefined);
      const bias = a.word("bias", ["channel", "none"] as const, "channel");
      const x = ctx.inputs[0];
      if (!a.ok || units === undefined) return undefined;
      const op: Op = { kind: "dense", units, bias };
      if (!x.every((d): d is number => typeof d === "number")) return { op, weights: [] }; // the shape rule reports it
      const inputs = prod(x);
      const weights: WeightDecl[] = [
        { role: "weight", shape: [units, inputs], value: a.expr("weight"), init: a.expr("init"), fanIn: inputs, fanOut: units },
      ];
      if (bias === "channel") weights.push({ role: "bias", shape: [units], fanIn: 0, fanOut: 0 });
      return { op, weights };
    },
  },
  local: {
    sig: { positional: ["filters", "kernel"], named: [...WINDOW_ARGS, "bias", ...LAYER_WEIGHTS], required: ["filters", "kernel"] },
    arity: 1,
    build: (ctx) => unshared(ctx, "local"),
  },
  tiled: {
    sig: { positional: ["filters", "kernel"], named: [...WINDOW_ARGS, "tiles", "bias", ...LAYER_WEIGHTS], required: ["filters", "kernel", "tiles"] },
    arity: 1,
    build: (ctx) => unshared(ctx, "tiled"),
  },
  deconv: {
    sig: { positional: ["filters", "kernel"], named: [...WINDOW_ARGS, "groups", "size", "like", "bias", ...LAYER_WEIGHTS], required: ["filters", "kernel"] },
    arity: 1,
    tensorArgs: ["like"],
    build: deconv,
  },
  batchnorm: {
    sig: { positional: [], named: ["eps"] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      const eps = a.number("eps", 1e-5);
      if (!(eps > 0)) a.fail("argument 'eps' of batchnorm must be positive", a.span("eps"));
      const c = ctx.inputs[0][0];
      if (typeof c !== "number") return a.fail("batchnorm needs a fixed number of channels", a.span(""));
      if (!a.ok) return undefined;
      const vec = (role: WeightRole, fill: number): WeightDecl => ({ role, shape: [c], fanIn: 0, fanOut: 0, fill });
      return { op: { kind: "batchnorm", eps }, weights: [vec("weight", 1), vec("bias", 0), vec("running_mean", 0), vec("running_var", 1)] };
    },
  },
  maxout: {
    sig: { positional: ["k"], named: [], required: ["k"] },
    arity: 1,
    build: (ctx) => {
      const k = ctx.args.int("k", undefined);
      return ctx.args.ok && k !== undefined ? { op: { kind: "maxout", k }, weights: [] } : undefined;
    },
  },
  maxpool: { sig: poolSig([]), arity: 1, build: poolLike("max") },
  avgpool: { sig: poolSig(["count_pad"]), arity: 1, build: poolLike("avg") },
  lppool: { sig: poolSig(["p"]), arity: 1, build: poolLike("lp") },
  l2pool: { sig: poolSig([]), arity: 1, build: poolLike("lp", 2) },
  gausspool: { sig: poolSig(["sigma"]), arity: 1, build: poolLike("gauss") },
  relu: activation("relu"),
  leaky_relu: activation("leaky_relu"),
  sigmoid: activation("sigmoid"),
  tanh: activation("tanh"),
  identity: activation("identity"),
  clip: parametrised("clip"),
  hardsigmoid: parametrised("hardsigmoid"),
  hardswish: activation("hardswish"),
  elu: parametrised("elu"),
  selu: parametrised("selu"),
  pow: parametrised("pow"),
  exp: activation("exp"),
  log: activation("log"),
  abs: activation("abs"),
  neg: activation("neg"),
  sqrt: activation("sqrt"),
  reciprocal: activation("reciprocal"),
  prelu: composite({ positional: ["slope"], named: LAYER_WEIGHTS }, 1, prelu),
  instancenorm: composite({ positional: [], named: ["eps", ...LAYER_WEIGHTS] }, 1, instancenorm),
  max: composite({ positional: [], named: [] }, "many", extremum(true)),
  min: composite({ positional: [], named: [] }, "many", extremum(false)),
  mean: composite({ positional: [], named: [] }, "many", mean),
  reduce_mean: composite({ positional: [], named: ["axes", "keep"] }, 1, reduce("mean")),
  reduce_max: composite({ positional: [], named: ["axes", "keep"] }, 1, reduce("max")),
  reduce_sum: composite({ positional: [], named: ["axes", "keep"] }, 1, reduce("sum")),
  reduce_l2: composite({ positional: [], named: ["axes", "keep"] }, 1, reduce("l2")),
  softmax: { sig: { positional: [], named: [] }, arity: 1, build: () => ({ op: { kind: "softmax" }, weights: [] }) },
  log_softmax: { sig: { positional: [], named: [] }, arity: 1, build: () => ({ op: { kind: "log_softmax" }, weights: [] }) },
  flatten: { sig: { positional: [], named: [] }, arity: 1, build: () => ({ op: { kind: "flatten" }, weights: [] }) },
  reshape: {
    sig: { positional: ["shape"], named: [], required: ["shape"] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      const e = a.expr("shape");
      const dims = e?.kind === "list" ? e.items.map((it) => literalNumber(it)) : undefined;
      if (!e || !dims || dims.length < 1 || dims.length > 4 || dims.some((d) => d === undefined || !Number.isInteger(d) || d < 1)) {
        return a.fail(`argument 'shape' of reshape expects a list of 1 to 4 positive whole numbers such as [16, 5, 5]`, a.span("shape"));
      }
      return { op: { kind: "reshape", shape: dims as number[] }, weights: [] };
    },
  },
  concat: { sig: { positional: [], named: [] }, arity: "many", build: () => ({ op: { kind: "concat" }, weights: [] }) },
  // pad(amount, mode: zero | reflect | edge, value: 0): amount as conv's `pad:` (a number, a
  // list per spatial axis or of [before, after] pairs); `zero` is constant mode with value 0.
  pad: {
    sig: { positional: ["amount"], named: ["mode", "value"], required: ["amount"] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      if (!needsSpatial(ctx)) return undefined;
      const amount = a.pad("amount", rankOf(ctx));
      const mode = a.word("mode", ["zero", "constant", "reflect", "edge"] as const, "zero");
      const value = a.number("value", 0);
      if (!a.ok || !amount) return undefined;
      if (amount.kind !== "explicit") return a.fail("argument 'amount' of pad expects numbers of elements (a number, a list per axis or of [before, after] pairs), not a padding rule", a.span("amount"));
      if (mode !== "constant" && mode !== "zero" && a.has("value")) return a.fail(`argument 'value' of pad applies to mode constant only, not ${mode}`, a.span("value"));
      if (mode === "zero" && value !== 0) return a.fail("mode zero pads with 0; say mode: constant to pad with another value", a.span("value"));
      return { op: { kind: "pad", mode: mode === "zero" ? "constant" : mode, before: amount.before, after: amount.after, value }, weights: [] };
    },
  },
  // matmul(a, b): per sample [M, K] x [K, N], or [B, M, K] x [B, K, N].
  matmul: { sig: { positional: [], named: [] }, arity: 2, build: () => ({ op: { kind: "matmul" }, weights: [] }) },
  // transpose([p0, .., pd]): output axis k is input axis p_k of [C, D1..Dd] (0 the channels).
  transpose: {
    sig: { positional: ["perm"], named: [], required: ["perm"] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      const e = a.expr("perm");
      const rank = ctx.inputs[0].length;
      const perm = e?.kind === "list" ? e.items.map((it) => literalNumber(it)) : undefined;
      const sorted = perm?.every((v): v is number => v !== undefined) ? [...perm].sort((p, q) => p - q) : undefined;
      if (!perm || !sorted || sorted.length !== rank || sorted.some((v, i) => v !== i)) {
        return a.fail(`argument 'perm' of transpose expects a list ordering the ${rank} axes 0..${rank - 1} of the value (0 is the channels), such as [${Array.from({ length: rank }, (_, i) => rank - 1 - i).join(", ")}]`, a.span("perm"));
      }
      return { op: { kind: "transpose", perm: perm as number[] }, weights: [] };
    },
  },
  // resize(scale, size:, mode: nearest | linear, coord:, round:): a scale (one number or one
  // per spatial axis; out = floor(in * scale) in float32, as onnxruntime) or `size:`; the
  // coordinate rule and nearest rounding are ONNX's. Defaults are PyTorch's nn.Upsample:
  // nearest asymmetric + floor, linear half_pixel (align_corners=False).
  resize: {
    sig: { positional: ["scale"], named: ["size", "mode", "coord", "round"] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      if (!needsSpatial(ctx)) return undefined;
      const d = rankOf(ctx);
      const spatial = ctx.inputs[0].slice(1);
      const mode = a.word("mode", ["nearest", "linear", "bilinear", "trilinear"] as const, "nearest");
      const linear = mode !== "nearest";
      const coord = a.word("coord", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"] as const, linear ? "half_pixel" : "asymmetric");
      const round = a.word("round", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"] as const, "floor");
      const size = a.has("size") ? a.size("size", d, undefined) : undefined;
      const e = a.expr("scale");
      if (!a.ok) return undefined;
      if (!spatial.every((m): m is number => typeof m === "number")) return a.fail("resize needs fixed spatial sizes", a.span(""));
      if ((e === undefined) === (size === undefined)) return a.fail("resize takes a scale or size:, one of them", a.span(""));
      let scale: number[];
      let out: number[];
      if (e) {
        const given = e.kind === "list" ? e.items.map((it) => literalNumber(it)) : new Array<number | undefined>(d).fill(literalNumber(e));
        if (given.length !== d || given.some((v) => v === undefined || !(v > 0))) {
          return a.fail(`argument 'scale' of resize expects a positive number or a list of ${d}, one per spatial axis`, a.span("scale"));
        }
        scale = (given as number[]).map(Math.fround);
        out = spatial.map((m, i) => Math.floor(Math.fround(scale[i] * m)));
        if (out.some((o) => o < 1)) return a.fail(`resize by [${scale.join(", ")}] of [${spatial.join(", ")}] leaves an empty axis`, a.span("scale"));
      } else {
        out = size as number[];
        scale = out.map((o, i) => Math.fround(o / spatial[i]));
      }
      return { op: { kind: "resize", mode: linear ? "linear" : "nearest", coord, round, out, scale }, weights: [] };
    },
  },
  // slice(start, end, axis: 0, step: 1): axis 0 is channels, 1.. the spatial axes; negative
  // bounds count from the end, as in Python; `end` defaults to the axis' size.
  slice: {
    sig: { positional: ["start", "end"], named: ["axis", "step"], required: ["start"] },
    arity: 1,
    build: (ctx) => {
      const a = ctx.args;
      const x = ctx.inputs[0];
      const axis = a.int("axis", 0, 0);
      const step = a.int("step", 1);
      if (axis === undefined || step === undefined || !a.ok) return undefined;
      if (axis < 0 || axis >= x.length) return a.fail(`argument 'axis' of slice must be 0 (channels) to ${x.length - 1} for a value of shape [${x.map(String).join(", ")}]`, a.span("axis"));
      if (step < 1) return a.fail("argument 'step' of slice must be at least 1", a.span("step"));
      const m = x[axis];
      if (typeof m !== "number") return a.fail(`slice needs a fixed size on axis ${axis}`, a.span(""));
      const at = (v: number) => Math.min(Math.max(v < 0 ? v + m : v, 0), m);
      const start = a.number("start", 0);
      const end = a.has("end") ? a.number("end", m) : m;
      if (start === undefined || end === undefined || !Number.isInteger(start) || !Number.isInteger(end)) return a.fail("slice bounds must be whole numbers", a.span("start"));
      const s = at(start);
      const e = at(end);
      if (e <= s) return a.fail(`slice(${start}, ${end}) of an axis of size ${m} is empty`, a.span("start"));
      return { op: { kind: "slice", axis, start: s, end: e, step }, weights: [] };
    },
  },
};

// No prototype: a user's name such as `toString` or `constructor` must not find Object's own.
export const BUILTINS: Readonly<Record<string, Builtin>> = Object.assign(Object.create(null) as Record<string, Builtin>, TABLE);
