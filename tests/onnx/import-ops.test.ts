// Differential tests of ONNX import, op by op: seeded random shapes and attributes, each
// model built in memory, run on onnxruntime-node (the oracle) and imported into cnnc, where
// the reference must agree to 1e-5 and WebAssembly to 1e-4 (relative to the largest
// magnitude). Every 4th case also runs on WebAssembly and every 10th on WebGPU (1e-4; where
// there is an adapter, and always in CI), to keep the suite's time modest.

import { describe, expect, it } from "vitest";
import { type Attr, attr, buildModel, type GraphSpec, type InitializerSpec } from "./model.js";
import { compareWithOrt, seeded } from "./compare.js";
import { rng, type Rng } from "../reference/helpers.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import type { Backend } from "./compare.js";

const gpu = Boolean((await testAdapter()) || process.env.CI);

const CASES = 20;

interface Case {
  readonly graph: GraphSpec;
  readonly x: readonly number[];
}

let seed = 1000;
const init = (name: string, shape: readonly number[], lo = -1, hi = 1): InitializerSpec => ({ name, shape, data: seeded(seed++, shape.reduce((a, b) => a * b, 1), lo, hi) });
const one = (op: string, x: readonly number[], attrs: readonly Attr[] = [], extra: string[] = [], inits: InitializerSpec[] = []): Case => ({
  graph: { nodes: [{ op, inputs: ["x", ...extra], outputs: ["y"], attrs }], inputs: [{ name: "x", shape: x }], outputs: [{ name: "y" }], initializers: inits },
  x,
});
const spatial = (r: Rng, d: number, lo = 4, hi = 9): number[] => Array.from({ length: d }, () => r.int(lo, hi));

function window(r: Rng, d: number, x: readonly number[], pool: boolean): { k: number[]; attrs: Attr[] } {
  const k = Array.from({ length: d }, (_, i) => r.int(1, Math.min(3, x[i])));
  const attrs: Attr[] = [attr.ints("kernel_shape", k)];
  const stride = Array.from({ length: d }, () => r.int(1, 2));
  if (r.bool()) attrs.push(attr.ints("strides", stride));
  const mode = r.int(0, 3);
  if (mode === 1) attrs.push(attr.string("auto_pad", r.pick(["SAME_UPPER", "SAME_LOWER", "VALID"])));
  // Pools: pads at most half the window (PyTorch's rule, and cnnc's).
  else if (mode >= 2) attrs.push(attr.ints("pads", [...k, ...k].map((v) => r.int(0, pool ? Math.floor(v / 2) : v - 1))));
  if (!pool && r.bool(0.3)) attrs.push(attr.ints("dilations", Array.from({ length: d }, () => r.int(1, 2))));
  return { k, attrs };
}

const GENERATORS: Record<string, (r: Rng) => Case> = {
  Conv: (r) => {
    const d = r.int(1, 3);
    const g = r.pick([1, 1, 2]);
    const c = g * r.int(1, 3);
    const o = g * r.int(1, 3);
    const x = [r.int(1, 2), c, ...spatial(r, d, 5, d === 3 ? 6 : 9)];
    const { k, attrs } = window(r, d, x.slice(2), false);
    if (g > 1) attrs.push(attr.int("group", g));
    const bias = r.bool();
    return one("Conv", x, attrs, bias ? ["w", "b"] : ["w"], [init("w", [o, c / g, ...k]), ...(bias ? [init("b", [o])] : [])]);
  },
  PadConv: (r) => {
    const x = [1, r.int(1, 3), ...spatial(r, 2, 3, 7)];
    const pads = [0, 0, r.int(0, 2), r.int(0, 2), 0, 0, r.int(0, 2), r.int(0, 2)];
    const k = [r.int(1, 3), r.int(1, 3)];
    const g: GraphSpec = {
      nodes: [
        { op: "Pad", inputs: ["x", "p"], outputs: ["xp"] },
        { op: "Conv", inputs: ["xp", "w"], outputs: ["y"], attrs: r.bool() ? [attr.ints("pads", [1, 0, 0, 1])] : [] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: [{ name: "p", shape: [8], data: pads, type: "int64" }, init("w", [2, x[1], ...k])],
    };
    return { graph: g, x };
  },
  ConvTranspose: (r) => {
    const d = r.int(1, 2);
    const c = r.int(1, 3);
    const o = r.int(1, 3);
    const x = [1, c, ...spatial(r, d, 3, 6)];
    const k = Array.from({ length: d }, () => r.int(1, 3));
    const s = Array.from({ length: d }, () => r.int(1, 2));
    const attrs: Attr[] = [attr.ints("kernel_shape", k), attr.ints("strides", s)];
    attrs.push(attr.ints("pads", [...k.map((v) => r.int(0, v - 1)), ...k.map((v) => r.int(0, v - 1))]));
    if (r.bool()) attrs.push(attr.ints("output_padding", s.map((v) => r.int(0, v - 1))));
    return one("ConvTranspose", x, attrs, ["w", "b"], [init("w", [c, o, ...k]), init("b", [o])]);
  },
  MaxPool: (r) => {
    const d = r.int(1, 3);
    const x = [1, r.int(1, 3), ...spatial(r, d, 4, d === 3 ? 6 : 9)];
    const { attrs } = window(r, d, x.slice(2), true);
    if (r.bool() && !attrs.some((a) => a.name === "auto_pad")) attrs.push(attr.int("ceil_mode", 1));
    return one("MaxPool", x, attrs);
  },
  AveragePool: (r) => {
    const d = r.int(1, 2);
    const x = [1, r.int(1, 3), ...spatial(r, d)];
    const { attrs } = window(r, d, x.slice(2), true);
    if (r.bool()) attrs.push(attr.int("count_include_pad", 1));
    return one("AveragePool", x, attrs);
  },
  LpPool: (r) => {
    const d = r.int(1, 2);
    const x = [1, r.int(1, 3), ...spatial(r, d)];
    const k = Array.from({ length: d }, () => r.int(1, 3));
    return one("LpPool", x, [attr.ints("kernel_shape", k), attr.ints("strides", k), attr.int("p", r.int(1, 3))]);
  },
  GlobalAveragePool: (r) => one("GlobalAveragePool", [r.int(1, 2), r.int(1, 4), ...spatial(r, r.int(1, 3), 2, 6)]),
  GlobalMaxPool: (r) => one("GlobalMaxPool", [r.int(1, 2), r.int(1, 4), ...spatial(r, r.int(1, 3), 2, 6)]),
  BatchNormalization: (r) => {
    const c = r.int(1, 5);
    return one("BatchNormalization", [1, c, ...spatial(r, r.int(1, 2))], [attr.float("epsilon", r.pick([1e-5, 1e-3]))], ["s", "b", "m", "v"], [
      init("s", [c]), init("b", [c]), init("m", [c]), init("v", [c], 0.5, 2),
    ]);
  },
  Relu: (r) => one("Relu", [1, r.int(1, 4), ...spatial(r, 2)]),
  Sigmoid: (r) => one("Sigmoid", [1, r.int(1, 4), ...spatial(r, 2)]),
  Tanh: (r) => one("Tanh", [1, r.int(1, 4), ...spatial(r, 1)]),
  LeakyRelu: (r) => one("LeakyRelu", [1, r.int(1, 4), ...spatial(r, 2)], [attr.float("alpha", r.pick([0.01, 0.2, 0.5]))]),
  HardSwish: (r) => one("HardSwish", [1, r.int(1, 4), ...spatial(r, 2)]),
  HardSigmoid: (r) => one("HardSigmoid", [1, r.int(1, 4), ...spatial(r, 2)], r.bool() ? [attr.float("alpha", 1 / 6), attr.float("beta", 0.5)] : []),
  Elu: (r) => one("Elu", [1, r.int(1, 4), ...spatial(r, 2)], [attr.float("alpha", r.pick([1, 0.5]))]),
  Clip: (r) => {
    const lo = r.pick([0, -0.5]);
    const hi = r.pick([6, 0.5]);
    return one("Clip", [1, r.int(1, 4), ...spatial(r, 2)], [], ["lo", "hi"], [{ name: "lo", shape: [], data: [lo] }, { name: "hi", shape: [], data: [hi] }]);
  },
  Softmax: (r) => one("Softmax", [r.int(1, 2), r.int(2, 9)], [attr.int("axis", r.pick([1, -1]))]),
  LogSoftmax: (r) => {
    // Over channels of a flattened value, or of [N, C, D..] (axis 1, as opset 13+ requires for channels).
    const flat = r.bool();
    const x = flat ? [r.int(1, 2), r.int(2, 12)] : [r.int(1, 2), r.int(2, 6), ...spatial(r, r.int(1, 2), 1, 5)];
    const k = r.pick([1, 20, 60]);
    const g: GraphSpec = {
      nodes: [
        // A wide range of logits: log(softmax) would lose the small probabilities.
        flat ? { op: "MatMul", inputs: ["x", "k"], outputs: ["a"] } : { op: "Mul", inputs: ["x", "k"], outputs: ["a"] },
        { op: "LogSoftmax", inputs: ["a"], outputs: ["y"], attrs: [attr.int("axis", flat ? r.pick([1, -1]) : 1)] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: [flat ? init("k", [x[1], x[1]], -k, k) : { name: "k", shape: [], data: [k] }],
    };
    return { graph: g, x };
  },
  Gemm: (r) => {
    const k = r.int(2, 12);
    const u = r.int(1, 8);
    const transB = r.int(0, 1);
    const attrs = [attr.int("transB", transB), attr.float("alpha", r.pick([1, 0.5])), attr.float("beta", r.pick([1, 2]))];
    return one("Gemm", [r.int(1, 2), k], attrs, ["w", "b"], [init("w", transB ? [u, k] : [k, u]), init("b", r.bool() ? [u] : [1, u])]);
  },
  MatMul: (r) => {
    const k = r.int(2, 12);
    const u = r.int(1, 8);
    return one("MatMul", [r.int(1, 2), k], [], ["w"], [init("w", [k, u])]);
  },
  ConstantArithmetic: (r) => {
    const c = r.int(1, 4);
    const op = r.pick(["Add", "Sub", "Mul", "Div"]);
    const shape = r.pick([[c, 1, 1], [1, c, 1, 1], [1], []]);
    const first = op === "Div" || r.bool();
    const g: GraphSpec = {
      nodes: [{ op, inputs: first ? ["x", "k"] : ["k", "x"], outputs: ["y"] }],
      inputs: [{ name: "x", shape: [1, c, ...spatial(r, 2)] }],
      outputs: [{ name: "y" }],
      initializers: [init("k", shape, 0.5, 2)],
    };
    return { graph: g, x: g.inputs[0].shape ?? [] };
  },
  // Constants that vary over space, a constant divided by a value, and constants among
  // Max/Min/Concat operands: `cnnc import` writes them as named constants (`const k = ...`).
  NamedConstants: (r) => {
    const op = r.pick(["Add", "Sub", "Mul", "Div", "Max", "Min", "Concat"]);
    // Concat does not broadcast: its constant has the batch of one.
    const x = [op === "Concat" ? 1 : r.int(1, 2), r.int(1, 4), ...spatial(r, 2, 2, 6)];
    const [, c, h, w] = x;
    const kc = op === "Concat" ? r.int(1, 3) : r.pick([c, 1]);
    // Per sample [C or 1, H or 1, W or 1], at least one spatial axis kept; sometimes without the leading 1.
    const hw = r.pick([[h, w], [h, 1], [1, w]]);
    const shape = op === "Concat" ? [1, kc, h, w] : r.bool() ? [1, kc, ...hw] : kc === 1 && r.bool() ? hw : [kc, ...hw];
    const first = r.bool();
    const g: GraphSpec = {
      nodes: [
        { op: "Tanh", inputs: ["x"], outputs: ["a"] },
        { op, inputs: first ? ["k", "a"] : ["a", "k"], outputs: ["y"], ...(op === "Concat" ? { attrs: [attr.int("axis", 1)] } : {}) },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      // Away from zero, as the constant may divide.
      initializers: [init("k", shape, 0.5, 2)],
    };
    return { graph: g, x };
  },
  AddMulValues: (r) => {
    const x = [1, r.int(1, 4), ...spatial(r, 2)];
    const op = r.pick(["Add", "Mul", "Sum"]);
    const g: GraphSpec = {
      nodes: [
        { op: "Relu", inputs: ["x"], outputs: ["a"] },
        { op: "Sigmoid", inputs: ["x"], outputs: ["b"] },
        { op, inputs: ["a", "b"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
    };
    return { graph: g, x };
  },
  Concat: (r) => {
    const x = [1, r.int(1, 4), ...spatial(r, 2)];
    const g: GraphSpec = {
      nodes: [
        { op: "Relu", inputs: ["x"], outputs: ["a"] },
        { op: "Tanh", inputs: ["x"], outputs: ["b"] },
        { op: "Concat", inputs: ["a", "x", "b"], outputs: ["y"], attrs: [attr.int("axis", r.pick([1, -3]))] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
    };
    return { graph: g, x };
  },
  Unary: (r) => {
    const x = [1, r.int(1, 4), ...spatial(r, 2)];
    const op = r.pick(["Exp", "Abs", "Neg", "Sqrt", "Log", "Reciprocal", "Selu", "Pow"]);
    // Sqrt, Log, Reciprocal and fractional powers read exp(x) > 0.
    const exponent = r.pick([2, 3, 0.5, 1.5]);
    const positive = ["Sqrt", "Log", "Reciprocal"].includes(op) || (op === "Pow" && !Number.isInteger(exponent));
    const g: GraphSpec = {
      nodes: [
        { op: positive ? "Exp" : "Identity", inputs: ["x"], outputs: ["a"] },
        { op, inputs: op === "Pow" ? ["a", "p"] : ["a"], outputs: ["y"], attrs: op === "Selu" && r.bool() ? [attr.float("alpha", 1.5), attr.float("gamma", 0.8)] : [] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: op === "Pow" ? [{ name: "p", shape: [], data: [exponent] }] : [],
    };
    return { graph: g, x };
  },
  SubDivValues: (r) => {
    const x = [1, r.int(1, 4), ...spatial(r, 2)];
    const op = r.pick(["Sub", "Div"]);
    const g: GraphSpec = {
      nodes: [
        { op: "Relu", inputs: ["x"], outputs: ["a"] },
        { op: "Sigmoid", inputs: ["x"], outputs: ["b"] },
        { op, inputs: r.bool() ? ["a", "b"] : ["x", "b"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
    };
    return { graph: g, x };
  },
  ResizeNearest: (r) => {
    const x = [1, r.int(1, 3), ...spatial(r, 2, 2, 5)];
    const asym = r.bool();
    const attrs = [attr.string("mode", "nearest"), ...(asym ? [attr.string("coordinate_transformation_mode", "asymmetric"), attr.string("nearest_mode", "floor")] : [])];
    const g: GraphSpec = {
      nodes: [{ op: "Resize", inputs: ["x", "", "s"], outputs: ["y"], attrs }],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: [{ name: "s", shape: [4], data: [1, 1, r.int(1, 3), r.int(1, 3)] }],
    };
    return { graph: g, x };
  },
  Reduce: (r) => {
    const x = [1, r.int(1, 4), ...spatial(r, 2)];
    const op = r.pick(["ReduceMean", "ReduceMax"]);
    const g: GraphSpec = {
      nodes: [{ op, inputs: ["x", "axes"], outputs: ["y"], attrs: [attr.int("keepdims", r.int(0, 1))] }],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: [{ name: "axes", shape: [2], data: r.bool() ? [2, 3] : [-1, -2], type: "int64" }],
    };
    return { graph: g, x };
  },
  Slice: (r) => {
    const x = [1, r.int(2, 6), ...spatial(r, 2, 3, 8)];
    const axis = r.int(1, 3);
    const m = x[axis];
    const start = r.int(-m, m - 1);
    const end = r.pick([r.int(1, m), 2 ** 40, -1]);
    const step = r.int(1, 2);
    const g: GraphSpec = {
      nodes: [{ op: "Slice", inputs: ["x", "s", "e", "a", "t"], outputs: ["y"] }],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: [["s", start], ["e", end], ["a", r.bool() ? axis : axis - 4], ["t", step]].map(([name, v]) => ({ name: String(name), shape: [1], data: [Number(v)], type: "int64" as const })),
    };
    // An empty slice is refused by cnnc; keep the cases that are not.
    const s0 = start < 0 ? start + m : start;
    const e0 = Math.min(end < 0 ? end + m : end, m);
    return e0 > s0 ? { graph: g, x } : GENERATORS.Slice(r);
  },
  Split: (r) => {
    const x = [1, r.int(2, 6), ...spatial(r, 1, 4, 8)];
    const axis = r.int(1, 2);
    const m = x[axis];
    const first = r.int(1, m - 1);
    const g: GraphSpec = {
      nodes: [
        { op: "Split", inputs: ["x", "sizes"], outputs: ["a", "b"], attrs: [attr.int("axis", axis)] },
        { op: "Mul", inputs: ["a", "a"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }, { name: "b" }],
      initializers: [{ name: "sizes", shape: [2], data: [first, m - first], type: "int64" }],
    };
    return { graph: g, x };
  },
  Resize: (r) => {
    // onnxruntime's linear Resize takes 2-D images (4-D tensors); nearest any rank.
    const mode = r.pick(["nearest", "linear"]);
    const d = mode === "linear" ? 2 : r.int(1, 3);
    const x = [r.int(1, 2), r.int(1, 3), ...spatial(r, d, 1, d === 3 ? 4 : 7)];
    const coord = r.pick(["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]);
    const attrs = [attr.string("mode", mode), attr.string("coordinate_transformation_mode", coord)];
    if (mode === "nearest") attrs.push(attr.string("nearest_mode", r.pick(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])));
    const bySizes = r.bool();
    const inits: InitializerSpec[] = bySizes
      ? [{ name: "s", shape: [x.length], data: [x[0], x[1], ...x.slice(2).map(() => r.int(1, 12))], type: "int64" }]
      : [{ name: "s", shape: [x.length], data: [1, 1, ...x.slice(2).map(() => r.pick([0.5, 0.75, 1, 1.5, 2, 2.5, 3, 1 / 3]))] }];
    const g: GraphSpec = {
      nodes: [{ op: "Resize", inputs: bySizes ? ["x", "", "", "s"] : ["x", "", "s"], outputs: ["y"], attrs }],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: inits,
    };
    // An empty output axis is refused by both; keep the cases that have none.
    const empty = !bySizes && x.slice(2).some((m, i) => Math.floor(Math.fround(m * Math.fround(Number(inits[0].data[i + 2])))) < 1);
    return empty ? GENERATORS.Resize(r) : { graph: g, x };
  },
  Pad: (r) => {
    const d = r.int(1, 3);
    const x = [r.int(1, 2), r.int(1, 3), ...spatial(r, d, 2, d === 3 ? 4 : 6)];
    const mode = r.pick(["constant", "reflect", "edge"]);
    // reflect needs pads below the axis' size.
    const amount = (a: number): number => r.int(0, mode === "reflect" ? Math.min(2, x[a] - 1) : 3);
    const withAxes = r.bool(0.3);
    const sp = Array.from({ length: d }, (_, i) => i + 2);
    const pads = withAxes ? [...sp.map(amount), ...sp.map(amount)] : [0, 0, ...sp.map(amount), 0, 0, ...sp.map(amount)];
    const value = mode === "constant" ? r.pick([0, 1.5, -2]) : undefined;
    const inits: InitializerSpec[] = [{ name: "p", shape: [pads.length], data: pads, type: "int64" }];
    const inputs = ["x", "p"];
    if (value !== undefined || withAxes) {
      inputs.push(value !== undefined ? "v" : "");
      if (value !== undefined) inits.push({ name: "v", shape: [], data: [value] });
    }
    if (withAxes) {
      inputs.push("a");
      inits.push({ name: "a", shape: [d], data: sp.map((a) => (r.bool() ? a : a - x.length)), type: "int64" });
    }
    // Read by a pool or an activation (zero padding read by a conv folds into it: PadConv).
    const reader = r.pick(["Relu", "MaxPool"]);
    const g: GraphSpec = {
      nodes: [
        { op: "Pad", inputs, outputs: ["xp"], attrs: [attr.string("mode", mode)] },
        reader === "Relu" ? { op: "Tanh", inputs: ["xp"], outputs: ["y"] } : { op: "MaxPool", inputs: ["xp"], outputs: ["y"], attrs: [attr.ints("kernel_shape", sp.map(() => 2))] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: inits,
    };
    return { graph: g, x };
  },
  Transpose: (r) => {
    const d = r.int(0, 3);
    const x = [r.int(1, 2), r.int(1, 4), ...spatial(r, d, 1, d === 3 ? 4 : 6)];
    const rest = Array.from({ length: x.length - 1 }, (_, i) => i + 1);
    for (let i = rest.length - 1; i > 0; i--) {
      const k = r.int(0, i);
      [rest[i], rest[k]] = [rest[k], rest[i]];
    }
    const g: GraphSpec = {
      nodes: [{ op: "Transpose", inputs: ["x"], outputs: ["t"], attrs: [attr.ints("perm", [0, ...rest])] }, { op: "Tanh", inputs: ["t"], outputs: ["y"] }],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
    };
    return { graph: g, x };
  },
  MatMulValues: (r) => {
    // Attention-like: a value times the transpose of another, per sample [M, K] x [K, N] or with a leading axis.
    const three = r.bool();
    const x = [r.int(1, 2), ...(three ? [r.int(1, 3)] : []), r.int(1, 5), r.int(1, 6)];
    const last = x.length - 1;
    const perm = Array.from({ length: x.length }, (_, i) => (i === last ? last - 1 : i === last - 1 ? last : i));
    const g: GraphSpec = {
      nodes: [
        { op: "Tanh", inputs: ["x"], outputs: ["a"] },
        { op: "Transpose", inputs: ["x"], outputs: ["t"], attrs: [attr.ints("perm", perm)] },
        { op: "MatMul", inputs: r.bool() ? ["a", "t"] : ["t", "a"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
    };
    return { graph: g, x };
  },
  PRelu: (r) => {
    const c = r.int(1, 5);
    const x = [r.int(1, 2), c, ...spatial(r, r.int(1, 2))];
    const shape = r.pick([[c, 1, 1].slice(0, x.length - 1), [1], [1, c, ...x.slice(2).map(() => 1)]]);
    return one("PRelu", x, [], ["s"], [init("s", shape, -0.5, 1.5)]);
  },
  InstanceNormalization: (r) => {
    const c = r.int(1, 5);
    const x = [r.int(1, 2), c, ...spatial(r, r.int(1, 3), 2, r.pick([5, 8]))];
    const attrs = r.bool() ? [attr.float("epsilon", r.pick([1e-5, 1e-3, 0.1]))] : [];
    return one("InstanceNormalization", x, attrs, ["s", "b"], [init("s", [c]), init("b", [c])]);
  },
  MaxMinMean: (r) => {
    const x = [1, r.int(1, 4), ...spatial(r, 2)];
    const op = r.pick(["Max", "Min", "Mean"]);
    const three = r.bool();
    const withConst = op !== "Mean" && r.bool(0.3);
    const g: GraphSpec = {
      nodes: [
        { op: "Tanh", inputs: ["x"], outputs: ["a"] },
        { op: "Sigmoid", inputs: ["x"], outputs: ["b"] },
        { op: "GlobalAveragePool", inputs: ["x"], outputs: ["p"] },
        { op, inputs: withConst ? ["a", "k"] : three ? ["a", "b", "p"] : r.bool() ? ["x", "b"] : ["p", "a"], outputs: ["y"] },
      ],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: withConst ? [{ name: "k", shape: [], data: [r.pick([0, 0.25, -0.5])] }] : [],
    };
    return { graph: g, x };
  },
  ReduceMore: (r) => {
    const d = r.int(1, 3);
    const x = [1, r.int(1, 4), ...spatial(r, d, 2, d === 3 ? 4 : 6)];
    const op = r.pick(["ReduceMean", "ReduceMax", "ReduceSum", "ReduceL2"]);
    const all = Array.from({ length: d + 1 }, (_, i) => i + 1);
    let axes = all.filter(() => r.bool());
    if (axes.length === 0) axes = [r.pick(all)];
    const keep = r.int(0, 1);
    // Without keepdims, something besides the batch must remain.
    if (!keep && axes.length === all.length) axes = axes.slice(1);
    // Opset 19 (the models built here): every reduction takes its axes as an input.
    const asInput = true;
    const g: GraphSpec = {
      nodes: [{ op, inputs: asInput ? ["x", "axes"] : ["x"], outputs: ["y"], attrs: [attr.int("keepdims", keep), ...(asInput ? [] : [attr.ints("axes", axes)])] }],
      inputs: [{ name: "x", shape: x }],
      outputs: [{ name: "y" }],
      initializers: asInput ? [{ name: "axes", shape: [axes.length], data: axes.map((a) => (r.bool() ? a - x.length : a)), type: "int64" }] : [],
    };
    return { graph: g, x };
  },
  FlattenReshape: (r) => {
    const x = [1, r.int(1, 4), ...spatial(r, 2, 2, 5)];
    const per = x.slice(1).reduce((a, b) => a * b, 1);
    const kind = r.int(0, 2);
    if (kind === 0) return one("Flatten", x, [attr.int("axis", 1)]);
    const target = kind === 1 ? [0, -1] : [-1, per];
    return one("Reshape", x, [], ["s"], [{ name: "s", shape: [2], data: target, type: "int64" }]);
  },
};

describe("ONNX import: each op equals onnxruntime", () => {
  for (const [op, gen] of Object.entries(GENERATORS)) {
    it(op, async () => {
      const r = rng(op.length * 7919 + op.charCodeAt(0));
      for (let i = 0; i < CASES; i++) {
        const c = gen(r);
        const bytes = buildModel(c.graph);
        const n = c.x.reduce((a, b) => a * b, 1);
        const backends: Backend[] = ["reference", ...(i % 4 === 0 ? (["wasm"] as const) : []), ...(gpu && i % 10 === 0 ? (["webgpu"] as const) : [])];
        let e;
        try {
          e = await compareWithOrt(bytes, { x: { shape: c.x, data: seeded(i + 17, n) } }, backends);
        } catch (err) {
          throw new Error(`${op} case ${i} (${JSON.stringify(c.graph.nodes.map((x) => x.attrs))}, x [${c.x.join(", ")}]): ${(err as Error).message}`);
        }
        expect(e.reference, `${op} case ${i}`).toBeLessThan(1e-5);
        expect(e.wasm, `${op} case ${i}`).toBeLessThan(1e-4);
        expect(e.webgpu, `${op} case ${i} on WebGPU`).toBeLessThan(1e-4);
      }
    });
  }
});
