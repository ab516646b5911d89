// `.cnn` -> ONNX (opset 17): the lowered graph (before any pass: no fusion, no folded
// batchnorm), one ONNX node per IR node, or two where ONNX needs an explicit Flatten or a
// Reshape for our channel broadcasting; a composite op (prelu, instancenorm, max/min/mean of
// values, the reductions) is its one ONNX operator instead of the chain it lowers to. Encoded with protobufjs and the schema subset the
// importer reads (import/onnx/schema.ts). Layers ONNX has no operator for (local, tiled,
// gausspool, maxout, flipped kernels) are refused by name. A node that stands for `x op k`
// with a named constant k writes ONNX's op on k's initializer.

import type { Dim } from "../ir/dim.js";
import * as D from "../ir/dim.js";
import type { CompositeForm, Graph, Node, Weight } from "../ir/graph.js";
import { assertNever, effectiveKernel, padAmounts, windowGeometry } from "../ir/ops.js";
import { modelProto } from "../import/onnx/schema.js";

export const EXPORT_OPSET = 17;

type Attr = { name: string; type: number; f?: number; i?: number; s?: Uint8Array; ints?: number[]; floats?: number[] };
interface PNode {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  attribute: Attr[];
}
interface PTensor {
  name: string;
  dims: number[];
  dataType: number;
  floatData?: number[];
  int64Data?: number[];
}

const A = {
  int: (name: string, i: number): Attr => ({ name, type: 2, i }),
  float: (name: string, f: number): Attr => ({ name, type: 1, f }),
  ints: (name: string, ints: readonly number[]): Attr => ({ name, type: 7, ints: [...ints] }),
  string: (name: string, s: string): Attr => ({ name, type: 3, s: new TextEncoder().encode(s) }),
};

export type ExportResult = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly errors: string[] };

class Refused extends Error {}

export function exportOnnx(g: Graph): ExportResult {
  const nodes: PNode[] = [];
  const inits: PTensor[] = [];
  const errors: string[] = [];
  // `%` cannot start a `.cnn` name, so internal values never collide with inputs and outputs.
  const name = (v: number): string => `%${v}`;
  const shapeOf = (v: number): readonly Dim[] => g.values[v].shape;
  const staticShape = (n: Node, v: number): number[] => {
    const s = shapeOf(v);
    if (!D.allStatic(s)) throw new Refused(`layer ${n.layer}: exporting it needs fixed sizes, and its input is ${D.printShape(s)}`);
    return [...s];
  };
  const init = (n: string, dims: readonly number[], data: ArrayLike<number>, int = false): string => {
    inits.push(int ? { name: n, dims: [...dims], dataType: 7, int64Data: Array.from(data) } : { name: n, dims: [...dims], dataType: 1, floatData: Array.from(data) });
    return n;
  };
  const weight = (n: Node, role: "weight" | "bias" | "running_mean" | "running_var"): string => {
    const w = n.weights[role];
    if (!w) throw new Refused(`layer ${n.layer} has no ${role}`);
    const key = `${w.name}`;
    if (!inits.some((t) => t.name === key)) init(key, w.shape, w.data);
    return key;
  };
  let tmp = 0;
  const add = (opType: string, input: string[], output: string[], attribute: Attr[], layer: string): void => {
    nodes.push({ input, output, name: `${layer}/${opType}${tmp++}`, opType, attribute });
  };

  const windowAttrs = (n: Node, x: number, kernel: readonly number[], stride: readonly number[], dilation: readonly number[], pad: Parameters<typeof padAmounts>[0], ceil = false): Attr[] => {
    const spatial = shapeOf(x).slice(1);
    const before: number[] = [];
    const after: number[] = [];
    spatial.forEach((m, i) => {
      const [b, a] = padAmounts(pad, i, m, effectiveKernel(kernel[i], dilation[i]), stride[i]);
      if (typeof b !== "number" || typeof a !== "number") {
        if (pad.kind !== "same" || ceil) throw new Refused(`layer ${n.layer}: its padding depends on the input size`);
      }
      before.push(typeof b === "number" ? b : 0);
      after.push(typeof a === "number" ? a : 0);
    });
    const symbolicSame = pad.kind === "same" && !D.allStatic(spatial);
    return [
      A.ints("kernel_shape", kernel),
      A.ints("strides", stride),
      ...(symbolicSame ? [A.string("auto_pad", "SAME_UPPER")] : [A.ints("pads", [...before, ...after])]),
      ...(dilation.some((d) => d !== 1) ? [A.ints("dilations", dilation)] : []),
    ];
  };

  // Our broadcasting aligns a [C] or [C, 1..] operand with the channels; ONNX's aligns
  // trailing axes, so a shorter operand is reshaped to [N, C, 1, ..] first.
  const aligned = (n: Node, values: readonly number[], out: string): string[] => {
    const rank = Math.max(...values.map((v) => shapeOf(v).length));
    return values.map((v, k) => {
      const s = shapeOf(v);
      if (s.length === rank) return name(v);
      const c = s[0];
      if (typeof c !== "number") throw new Refused(`layer ${n.layer}: a symbolic channel count`);
      const r = `${out}_b${k}`;
      add("Reshape", [name(v), init(`${r}_shape`, [rank + 1], [0, c, ...new Array<number>(rank - 1).fill(1)], true)], [r], [], n.layer);
      return r;
    });
  };
  /** A per-channel weight ([C, 1, ..] or [C]) as an initializer of the given dims, under its own name. */
  const channelInit = (w: Weight, dims: readonly number[]): string => {
    if (!inits.some((t) => t.name === w.name)) init(w.name, dims, w.data);
    return w.name;
  };
  const composite = (n: Node, f: CompositeForm, out: string[]): void => {
    const x = f.inputs[0];
    const rank = shapeOf(x).length;
    const c = shapeOf(x)[0];
    const layer = n.layer.replace(/\.[0-9]+$/, "");
    switch (f.op) {
      case "Max":
      case "Min":
      case "Mean":
        add(f.op, aligned(n, f.inputs, out[0]), out, [], layer);
        return;
      case "PRelu": {
        // ONNX broadcasts the slope from the trailing axes: [C, 1, ..] per sample's rank.
        const [slope] = f.weights ?? [];
        if (typeof c !== "number" || !slope) throw new Refused(`layer ${layer}: a symbolic channel count`);
        add("PRelu", [name(x), channelInit(slope, [c, ...new Array<number>(rank - 1).fill(1)])], out, [], layer);
        return;
      }
      case "InstanceNormalization": {
        const [scale, shift] = f.weights ?? [];
        if (typeof c !== "number" || !scale || !shift) throw new Refused(`layer ${layer}: a symbolic channel count`);
        add("InstanceNormalization", [name(x), channelInit(scale, [c]), channelInit(shift, [c])], out, [A.float("epsilon", f.eps ?? 1e-5)], layer);
        return;
      }
      default: {
        const axes = (f.axes ?? []).map((a) => a + 1);
        const keep = A.int("keepdims", f.keep === false ? 0 : 1);
        // Opset 17: ReduceSum takes its axes as an input (since 13), the others as an attribute (until 18).
        if (f.op === "ReduceSum") add(f.op, [name(x), init(`${out[0]}_axes`, [axes.length], axes, true)], out, [keep], layer);
        else add(f.op, [name(x)], out, [A.ints("axes", axes), keep], layer);
      }
    }
  };

  for (const n of g.nodes) {
    const op = n.op;
    const ins = n.inputs.map(name);
    const out = [name(n.output)];
    try {
      // A composite op: one ONNX operator at the last node of its chain, nothing for the others.
      if (n.composite) {
        if (n.composite.form) composite(n, n.composite.form, out);
        continue;
      }
      // x op k for a named constant k: ONNX's op on k's initializer, under k's name in the weights file.
      const form = n.constantForm;
      if (form?.op === "Omit") continue;
      if (form) {
        const k = form.constant;
        if (!inits.some((t) => t.name === k.name)) init(k.name, k.shape, k.data);
        add(form.op, form.constFirst ? [k.name, ins[0]] : [ins[0], k.name], out, [], n.layer);
        continue;
      }
      switch (op.kind) {
        case "conv": {
          if (op.flip) throw new Refused(`layer ${n.layer}: a flipped-kernel (true) convolution has no ONNX operator`);
          // A bias per location: Conv without bias, then Add of the bias [O, j1..jd] (broadcast over the batch).
          const conv = op.bias === "location" ? [`${out[0]}_conv`] : out;
          add("Conv", [ins[0], weight(n, "weight"), ...(op.bias === "channel" ? [weight(n, "bias")] : [])], conv,
            [...windowAttrs(n, n.inputs[0], op.kernel, op.stride, op.dilation, op.pad), A.int("group", op.groups)], n.layer);
          if (op.bias === "location") add("Add", [conv[0], weight(n, "bias")], out, [], n.layer);
          break;
        }
        case "deconv": {
          const x = staticShape(n, n.inputs[0]).slice(1);
          const outSize = op.out.map((d) => {
            if (typeof d !== "number") throw new Refused(`layer ${n.layer}: its output size depends on the input size`);
            return d;
          });
          const geo = windowGeometry(outSize, op.kernel, op.stride, op.dilation, op.pad);
          const before = geo.padBefore as number[];
          const after = geo.padAfter as number[];
          const outputPadding = outSize.map((o, i) => o - (op.stride[i] * (x[i] - 1) + effectiveKernel(op.kernel[i], op.dilation[i]) - before[i] - after[i]));
          add("ConvTranspose", [ins[0], weight(n, "weight"), ...(op.bias === "channel" ? [weight(n, "bias")] : [])], out, [
            A.ints("kernel_shape", op.kernel), A.ints("strides", op.stride), A.ints("pads", [...before, ...after]),
            A.ints("dilations", op.dilation), A.int("group", op.groups), A.ints("output_padding", outputPadding),
          ], n.layer);
          break;
        }
        case "batchnorm":
          add("BatchNormalization", [ins[0], weight(n, "weight"), weight(n, "bias"), weight(n, "running_mean"), weight(n, "running_var")], out, [A.float("epsilon", op.eps)], n.layer);
          break;
        case "pool": {
          if (op.mode === "gauss") throw new Refused(`layer ${n.layer}: gausspool has no ONNX operator`);
          if (op.mode === "avg" && op.dilation.some((d) => d !== 1)) throw new Refused(`layer ${n.layer}: a dilated avgpool needs ONNX opset 19`);
          const attrs = windowAttrs(n, n.inputs[0], op.window, op.stride, op.dilation, op.pad, op.ceil);
          if (op.ceil) attrs.push(A.int("ceil_mode", 1));
          if (op.mode === "avg") attrs.push(A.int("count_include_pad", op.countPad ? 1 : 0));
          if (op.mode === "lp") {
            if (!Number.isInteger(op.p)) throw new Refused(`layer ${n.layer}: ONNX LpPool takes a whole p`);
            attrs.push(A.int("p", op.p));
            if (op.dilation.some((d) => d !== 1) || op.ceil) throw new Refused(`layer ${n.layer}: LpPool with dilation or ceil needs ONNX opset 18`);
          }
          add(op.mode === "max" ? "MaxPool" : op.mode === "avg" ? "AveragePool" : "LpPool", ins, out, attrs, n.layer);
          break;
        }
        case "adaptive_pool":
          if (!op.out.every((o) => o === 1)) throw new Refused(`layer ${n.layer}: adaptive pooling to ${op.out.join("x")} has no ONNX operator (out: 1 exports as global pooling)`);
          add(op.mode === "max" ? "GlobalMaxPool" : "GlobalAveragePool", ins, out, [], n.layer);
          break;
        case "dense": {
          let x = ins[0];
          if (shapeOf(n.inputs[0]).length > 1) {
            x = `${out[0]}_flat`;
            add("Flatten", ins, [x], [A.int("axis", 1)], n.layer);
          }
          add("Gemm", [x, weight(n, "weight"), ...(op.bias === "channel" ? [weight(n, "bias")] : [])], out, [A.int("transB", 1)], n.layer);
          break;
        }
        case "activation": {
          const b = op.beta ?? 0;
          switch (op.fn) {
            case "relu": add("Relu", ins, out, [], n.layer); break;
            case "sigmoid": add("Sigmoid", ins, out, [], n.layer); break;
            case "tanh": add("Tanh", ins, out, [], n.layer); break;
            case "identity": add("Identity", ins, out, [], n.layer); break;
            case "hardswish": add("HardSwish", ins, out, [], n.layer); break;
            case "leaky_relu": add("LeakyRelu", ins, out, [A.float("alpha", op.alpha)], n.layer); break;
            case "elu": add("Elu", ins, out, [A.float("alpha", op.alpha)], n.layer); break;
            case "hardsigmoid": add("HardSigmoid", ins, out, [A.float("alpha", op.alpha), A.float("beta", b)], n.layer); break;
            case "clip":
              add("Clip", [ins[0], init(`${out[0]}_min`, [], [op.alpha]), init(`${out[0]}_max`, [], [b])], out, [], n.layer);
              break;
            case "selu": add("Selu", ins, out, [A.float("alpha", op.alpha), A.float("gamma", b)], n.layer); break;
            case "exp": add("Exp", ins, out, [], n.layer); break;
            case "log": add("Log", ins, out, [], n.layer); break;
            case "abs": add("Abs", ins, out, [], n.layer); break;
            case "neg": add("Neg", ins, out, [], n.layer); break;
            case "sqrt": add("Sqrt", ins, out, [], n.layer); break;
            case "reciprocal": add("Reciprocal", ins, out, [], n.layer); break;
            case "pow": add("Pow", [ins[0], init(`${out[0]}_p`, [], [op.alpha])], out, [], n.layer); break;
            default: assertNever(op.fn);
          }
          break;
        }
        case "softmax":
          add("Softmax", ins, out, [A.int("axis", 1)], n.layer);
          break;
        case "log_softmax":
          add("LogSoftmax", ins, out, [A.int("axis", 1)], n.layer);
          break;
        case "flatten":
          add("Flatten", ins, out, [A.int("axis", 1)], n.layer);
          break;
        case "reshape":
          add("Reshape", [ins[0], init(`${out[0]}_shape`, [op.shape.length + 1], [0, ...op.shape], true)], out, [], n.layer);
          break;
        case "add":
        case "mul":
          add(op.kind === "add" ? "Add" : "Mul", aligned(n, n.inputs, out[0]), out, [], n.layer);
          break;
        case "concat":
          add("Concat", ins, out, [A.int("axis", 1)], n.layer);
          break;
        case "matmul":
          add("MatMul", ins, out, [], n.layer);
          break;
        case "transpose":
          add("Transpose", ins, out, [A.ints("perm", [0, ...op.perm.map((p) => p + 1)])], n.layer);
          break;
        case "resize": {
          // ONNX computes the size from scales as floor(in * scale) in float32. Where that
          // misses our size (given by size:), opset 17's sizes input would have to state the
          // batch size too, which the export leaves symbolic: refused.
          const spatial = shapeOf(n.inputs[0]).slice(1) as number[];
          if (op.out.some((o, i) => Math.floor(Math.fround(op.scale[i] * spatial[i])) !== o)) {
            throw new Refused(`layer ${n.layer}: resize to a size: that float32 scales cannot reproduce; export needs resize by a scale`);
          }
          let round: string = op.round;
          if (round === "simple") {
            if (op.scale.every((v) => v >= 1)) round = "floor";
            else if (op.scale.every((v) => v < 1)) round = "ceil";
            else throw new Refused(`layer ${n.layer}: resize rounding 'simple' both growing and shrinking has no ONNX opset ${EXPORT_OPSET} equivalent`);
          }
          const inputs = [ins[0], "", init(`${out[0]}_scales`, [op.scale.length + 2], [1, 1, ...op.scale])];
          add("Resize", inputs, out, [A.string("mode", op.mode), A.string("coordinate_transformation_mode", op.coord), A.string("nearest_mode", round)], n.layer);
          break;
        }
        case "pad": {
          const zeros = [0, 0];
          const pads = [...zeros, ...op.before, ...zeros, ...op.after];
          const inputs = [ins[0], init(`${out[0]}_pads`, [pads.length], pads, true)];
          if (op.mode === "constant") inputs.push(init(`${out[0]}_value`, [], [op.value]));
          add("Pad", inputs, out, [A.string("mode", op.mode)], n.layer);
          break;
        }
        case "slice": {
          const t = (k: string, v: number): string => init(`${out[0]}_${k}`, [1], [v], true);
          add("Slice", [ins[0], t("starts", op.start), t("ends", op.end), t("axes", op.axis + 1), t("steps", op.step)], out, [], n.layer);
          break;
        }
        case "local":
        case "tiled":
        case "maxout":
          throw new Refused(`layer ${n.layer}: ${op.kind} has no ONNX operator`);
      }
    } catch (e) {
      if (e instanceof Refused) errors.push(e.message);
      else throw e;
    }
  }
  if (errors.length) return { ok: false, errors };
  const valueInfo = (io: { name: string; value: number }, rename: string) => ({
    name: rename,
    type: {
      tensorType: {
        elemType: 1,
        shape: { dim: [{ dimParam: "N" }, ...shapeOf(io.value).map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: D.printDim(d) }))] },
      },
    },
  });
  // Inputs and outputs keep their `.cnn` names; internal values are %<id>.
  const rename = new Map<string, string>();
  for (const io of g.inputs) rename.set(name(io.value), io.name);
  for (const io of g.outputs) rename.set(name(io.value), io.name);
  for (const nd of nodes) {
    nd.input = nd.input.map((i) => rename.get(i) ?? i);
    nd.output = nd.output.map((o) => rename.get(o) ?? o);
  }
  const model = {
    irVersion: 8,
    producerName: "cnnc",
    opsetImport: [{ domain: "", version: EXPORT_OPSET }],
    graph: {
      name: g.name,
      node: nodes,
      initializer: inits,
      input: g.inputs.map((io) => valueInfo(io, io.name)),
      output: g.outputs.map((io) => valueInfo(io, io.name)),
    },
  };
  const type = modelProto();
  return { ok: true, bytes: type.encode(type.fromObject(model)).finish() };
}
