// ONNX graph -> `.cnn` source and named weight tensors. The importer writes the language
// rather than IR directly, so `cnnc import` and `cnnc run model.onnx` go through one path:
// what a user reads in the imported source is exactly what runs. Each ONNX node whose
// inputs are all constant is folded (fold.ts); each one that computes on the network's
// values becomes one statement. A value is tracked per sample ([C, D1..Dd], or [K] once
// flattened): the batch axis stays implicit, and a node that would mix it is refused.

import * as D from "../../ir/dim.js";
import type { Dim } from "../../ir/dim.js";
import { type PadSpec, windowGeometry } from "../../ir/ops.js";
import type { OnnxAttr, OnnxModel, OnnxNode, OnnxTensor } from "./decode.js";
import * as F from "./fold.js";
import { FoldError } from "./fold.js";
import { layerPath, Namer, quoted, sanitize } from "./names.js";

export interface NamedTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface Imported {
  readonly source: string;
  readonly tensors: Map<string, NamedTensor>;
}

export type ImportResult = { readonly ok: true; readonly value: Imported } | { readonly ok: false; readonly errors: string[] };

/** Ops that compute on the network's values (an activation input). */
const COMPUTE_OPS = new Set([
  "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
  "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu", "Softmax", "Gemm", "MatMul",
  "Add", "Sub", "Mul", "Div", "Concat", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Dropout", "Cast", "Shape", "Sum",
  "Resize", "Upsample", "ReduceMean", "ReduceMax", "Pad",
  "Slice", "Split", "Selu", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Pow",
  "PRelu", "InstanceNormalization", "LogSoftmax", "Max", "Min", "Mean", "ReduceSum", "ReduceL2",
]);
/** Ops evaluated only on constants (shape arithmetic). */
const FOLD_OPS = new Set([
  "Constant", "ConstantOfShape", "Gather", "Equal", "Floor", "Ceil",
]);

/** Shape(x) of a value stands for the unknown batch size with this number (exact in f64, no real model's size). */
const BATCH = 1e12 + 39;

type Val = { readonly kind: "const"; readonly t: OnnxTensor } | { readonly kind: "act"; readonly name: string; readonly shape: readonly Dim[] };

class ImportError extends Error {}

const FLOAT_INF = 3.4028234663852886e38;

function fmtNum(x: number): string {
  if (x === Infinity || x > FLOAT_INF) return String(FLOAT_INF);
  if (x === -Infinity || x < -FLOAT_INF) return `-${FLOAT_INF}`;
  return String(x);
}

/** `3` when every axis has the same size, else `3x5`. */
function fmtSize(a: readonly number[]): string {
  return a.every((v) => v === a[0]) ? String(a[0]) : a.join("x");
}

function fmtPad(p: PadSpec): string | undefined {
  if (p.kind !== "explicit") return p.kind === "valid" ? undefined : p.kind;
  if (p.before.every((v) => v === 0) && p.after.every((v) => v === 0)) return undefined;
  if (p.before.every((v, i) => v === p.after[i] && v === p.before[0])) return String(p.before[0]);
  return `[${p.before.map((b, i) => `[${b}, ${p.after[i]}]`).join(", ")}]`;
}

/**
 * The shape of an elementwise result: operands broadcast channel-first ([C] or [1] onto
 * [C, D..], and [C, 1, ..] onto [C, D..]), so each axis takes the first size that is not 1
 * among the operands of the longest rank.
 */
function broadcastShape(shapes: readonly (readonly Dim[])[]): readonly Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const full = shapes.filter((s) => s.length === rank);
  return full[0].map((_, i) => full.map((s) => s[i]).find((d) => d !== 1) ?? 1);
}

function args(parts: readonly (string | undefined)[]): string {
  return parts.filter((p): p is string => p !== undefined).join(", ");
}

class Converter {
  private readonly namer = new Namer();
  private readonly vals = new Map<string, Val>();
  private readonly lines: string[] = [];
  readonly tensors = new Map<string, NamedTensor>();
  private readonly consumers = new Map<string, number>();
  /** Node outputs that a look-ahead rewrite (MatMul + Add) already computed. */
  private readonly absorbed = new Set<number>();
  private readonly outputNames = new Map<string, string>();
  private inputBatch: number | undefined;
  /** Zero Pad nodes read only by convolutions: folded into their padding (value name -> what it pads, how much). */
  /** Named constants declared so far: ONNX value name and per-sample shape -> identifier. */
  private readonly constNames = new Map<string, string>();
  private readonly pendingPads = new Map<string, { x: Extract<Val, { kind: "act" }>; before: number[]; after: number[] }>();

  constructor(private readonly m: OnnxModel) {
    for (const n of m.nodes) for (const i of n.inputs) this.consumers.set(i, (this.consumers.get(i) ?? 0) + 1);
  }

  run(): string {
    const m = this.m;
    for (const [name, t] of m.initializers) this.vals.set(name, { kind: "const", t });
    const header: string[] = [];
    const params: string[] = [];
    for (const inp of m.inputs) {
      if (inp.elemType !== 1) throw new ImportError(`input '${inp.name}' is not float32 (element type ${inp.elemType}); cnnc networks take f32 inputs`);
      const dims = inp.dims;
      if (!dims || dims.length < 2 || dims.length > 5) {
        throw new ImportError(`input '${inp.name}' has shape [${(dims ?? []).join(", ")}]; cnnc imports inputs [N, K] or [N, C, D1..Dd] with 1 to 3 spatial axes`);
      }
      const { name } = this.namer.take(inp.name);
      if (typeof dims[0] === "number" && dims[0] > 0) this.inputBatch = dims[0];
      const c = dims[1];
      if (typeof c !== "number" || c <= 0) throw new ImportError(`input '${inp.name}' has a symbolic channel count; cnnc needs a fixed number of channels`);
      const spatial: Dim[] = dims.slice(2).map((d, k) => {
        if (typeof d === "number" && d > 0) return d;
        const sym = sanitize(typeof d === "string" && d !== "" ? d : `${name}_d${k + 1}`).toUpperCase();
        return D.sym(sym);
      });
      const shape = [c, ...spatial];
      this.vals.set(inp.name, { kind: "act", name, shape });
      params.push(`${name}: f32[${shape.map((d) => D.printDim(d)).join(", ")}]`);
      if (name !== inp.name) header.push(`// input ${name}: ONNX ${quoted(inp.name)}`);
    }
    for (const o of m.outputs) this.outputNames.set(o.name, this.namer.take(o.name).name);
    for (const n of order(m)) {
      if (this.absorbed.has(n.index)) continue;
      try {
        this.node(n);
      } catch (e) {
        if (e instanceof FoldError) throw new ImportError(`node ${quoted(n.name)} (${n.opType}): ${e.message}`);
        throw e;
      }
    }
    const outs: string[] = [];
    for (const o of m.outputs) {
      const v = this.vals.get(o.name);
      if (!v || v.kind !== "act") throw new ImportError(`output '${o.name}' is a constant; cnnc networks compute their outputs from their inputs`);
      const want = this.outputNames.get(o.name) ?? v.name;
      if (v.name !== want) this.lines.push(`  ${want} = ${v.name} |> identity`);
      outs.push(want);
      if (want !== o.name) header.push(`// output ${want}: ONNX ${quoted(o.name)}`);
    }
    const net = sanitize(m.graphName || "model");
    return [
      `// Imported from ONNX by cnnc import (producer ${quoted(m.producer || "unknown")}, opset ${m.opset}).`,
      "// Each statement is one ONNX node; its comment gives the node's op type and name.",
      ...header,
      `network ${net}(${params.join(", ")}) -> ${outs.length === 1 ? outs[0] : `(${outs.join(", ")})`} {`,
      ...this.lines,
      "}",
      "",
    ].join("\n");
  }

  // ---- helpers -------------------------------------------------------------------------

  private val(n: OnnxNode, i: number): Val | undefined {
    const name = n.inputs[i];
    if (name === undefined || name === "") return undefined;
    const v = this.vals.get(name);
    if (!v) throw new ImportError(`node ${quoted(n.name)} (${n.opType}) reads ${quoted(name)}, which no node, input or initializer defines`);
    return v;
  }
  /** Every input of a node that has no optional ones (Add, Concat, Max...): an empty name is refused. */
  private allInputs(n: OnnxNode): Val[] {
    return n.inputs.map((_, i) => {
      const v = this.val(n, i);
      if (!v) throw new ImportError(`node ${quoted(n.name)} (${n.opType}): its input ${i} is empty, and ${n.opType} has no optional inputs`);
      return v;
    });
  }
  private constIn(n: OnnxNode, i: number, what: string): OnnxTensor {
    const v = this.val(n, i);
    if (!v) throw new ImportError(`node ${quoted(n.name)} (${n.opType}) has no ${what}`);
    if (v.kind !== "const") throw new ImportError(`node ${quoted(n.name)} (${n.opType}): its ${what} is computed by the network; cnnc needs it constant`);
    return v.t;
  }
  private optConst(n: OnnxNode, i: number, what: string): OnnxTensor | undefined {
    return this.val(n, i) ? this.constIn(n, i, what) : undefined;
  }
  private act(n: OnnxNode, i: number): Extract<Val, { kind: "act" }> {
    const v = this.val(n, i);
    if (!v || v.kind !== "act") throw new ImportError(`node ${quoted(n.name)} (${n.opType}): input ${i} must be a computed value`);
    return v;
  }
  private attr(n: OnnxNode, name: string): OnnxAttr | undefined {
    return n.attrs.get(name);
  }
  private int(n: OnnxNode, name: string, dflt: number): number {
    const a = this.attr(n, name);
    return a?.kind === "int" ? a.value : dflt;
  }
  private float(n: OnnxNode, name: string, dflt: number): number {
    const a = this.attr(n, name);
    return a?.kind === "float" ? a.value : a?.kind === "int" ? a.value : dflt;
  }
  private ints(n: OnnxNode, name: string): readonly number[] | undefined {
    const a = this.attr(n, name);
    return a?.kind === "ints" ? a.value : undefined;
  }
  private str(n: OnnxNode, name: string, dflt: string): string {
    const a = this.attr(n, name);
    return a?.kind === "string" ? a.value : dflt;
  }
  private refuse(n: OnnxNode, why: string): never {
    throw new ImportError(`node ${quoted(n.name)} (${n.opType}): ${why}`);
  }
  private setConst(n: OnnxNode, t: OnnxTensor, k = 0): void {
    this.vals.set(n.outputs[k], { kind: "const", t: F.roundIfFloat(t) });
  }
  private alias(n: OnnxNode, v: Val): void {
    this.vals.set(n.outputs[0], v);
  }

  /** A label for a layer with weights: its weight initializer's module path, else the node's. */
  private label(n: OnnxNode): string {
    return this.namer.take(this.labelBase(n)).name;
  }
  /** What `label` names a layer before it is made unique. */
  private labelBase(n: OnnxNode): string {
    const w = n.inputs[1] ?? "";
    const fromWeight = this.m.initializers.has(w) && !/^onnx::|^[0-9]/.test(w) && /\.weight$/.test(w) ? w.replace(/\.weight$/, "") : "";
    return fromWeight || layerPath(n.name) || n.opType.toLowerCase();
  }

  /** Binds the node's output (number k) to a new statement `name = expr`. */
  private emit(n: OnnxNode, expr: string, shape: readonly Dim[], base?: string, k = 0): void {
    const out = n.outputs[k];
    const name = this.outputNames.get(out) ?? this.namer.take(base ?? (layerPath(n.name) || `${n.opType.toLowerCase()}`)).name;
    this.lines.push(`  ${name} = ${expr}  // ${n.opType} ${quoted(n.name)}`);
    this.vals.set(out, { kind: "act", name, shape });
  }

  private weight(label: string, role: string, shape: readonly number[], data: ArrayLike<number>): void {
    // Every layer's tensors pass here: a file whose initializer does not fit the layer (a bias
    // of the wrong length, an input listed twice) is refused, not written half-checked.
    const need = shape.reduce((a, b) => a * b, 1);
    if (data.length !== need) throw new ImportError(`layer ${label}: its ${role} has ${data.length} values, but the layer takes [${shape.join(", ")}] (${need})`);
    this.tensors.set(`${label}.${role}`, { shape: [...shape], data: Float32Array.from(data) });
  }

  /**
   * A named constant for input i of n (an initializer or a folded value, not a layer's weight),
   * broadcast onto a value of shape x: `const k = f32[..] from "k"` with the ONNX name
   * sanitised (the tensor in the weights file has the same name), declared once per shape.
   */
  private namedConst(n: OnnxNode, i: number, t: OnnxTensor, x: readonly Dim[]): string {
    const rank = x.length + 1;
    if (x.length < 2) this.refuse(n, `${n.opType} of a flattened value and a constant that is not one number per channel`);
    if (t.dims.length > rank) this.refuse(n, "a constant with more axes than the value");
    const dims = [...new Array<number>(rank - t.dims.length).fill(1), ...t.dims];
    const sample = dims.slice(1);
    if (dims[0] !== 1 || sample.some((d, a) => d !== 1 && !D.dimEquals(d, x[a]))) {
      this.refuse(n, `a constant of shape [${t.dims.join(", ")}] that does not broadcast onto the value [N, ${x.map((d) => D.printDim(d)).join(", ")}] (cnnc's values keep their shape)`);
    }
    const raw = n.inputs[i];
    const key = `${raw}\u0000${sample.join(",")}`;
    const known = this.constNames.get(key);
    if (known) return known;
    const { name } = this.namer.take(raw);
    this.constNames.set(key, name);
    this.tensors.set(name, { shape: sample, data: Float32Array.from(t.data) });
    this.lines.push(`  const ${name} = f32[${sample.join(", ")}] from "${name}"  // ONNX ${quoted(raw)}`);
    return name;
  }

  /** Window attributes shared by Conv and the pools. */
  private window(n: OnnxNode, x: readonly Dim[], kernel: readonly number[], dilation: readonly number[]): { stride: number[]; pad: PadSpec } {
    const d = kernel.length;
    const stride = [...(this.ints(n, "strides") ?? new Array<number>(d).fill(1))];
    const autoPad = this.str(n, "auto_pad", "NOTSET");
    const pads = this.ints(n, "pads") ?? new Array<number>(2 * d).fill(0);
    if (autoPad === "NOTSET") return { stride, pad: { kind: "explicit", before: pads.slice(0, d), after: pads.slice(d) } };
    if (autoPad === "VALID") return { stride, pad: { kind: "valid" } };
    if (autoPad === "SAME_UPPER") return { stride, pad: { kind: "same" } };
    if (autoPad === "SAME_LOWER") {
      const spatial = x.slice(1);
      if (!D.allStatic(spatial)) this.refuse(n, "auto_pad SAME_LOWER on a symbolic size is not supported");
      const before: number[] = [];
      const after: number[] = [];
      spatial.forEach((m, i) => {
        const keff = (kernel[i] - 1) * dilation[i] + 1;
        const total = Math.max((Math.ceil(m / stride[i]) - 1) * stride[i] + keff - m, 0);
        after.push(Math.floor(total / 2));
        before.push(total - Math.floor(total / 2));
      });
      return { stride, pad: { kind: "explicit", before, after } };
    }
    return this.refuse(n, `unknown auto_pad '${autoPad}'`);
  }

  // ---- one node ------------------------------------------------------------------------

  private node(n: OnnxNode): void {
    const op = n.opType;
    if (op === "Constant") {
      const a = n.attrs.get("value");
      if (a?.kind === "tensor") return this.setConst(n, a.value);
      const f = n.attrs.get("value_float") ?? n.attrs.get("value_floats");
      const i = n.attrs.get("value_int") ?? n.attrs.get("value_ints");
      if (f?.kind === "float") return this.setConst(n, F.tensorOf([], [f.value], "float"));
      if (f?.kind === "floats") return this.setConst(n, F.tensorOf([f.value.length], f.value, "float"));
      if (i?.kind === "int") return this.setConst(n, F.tensorOf([], [i.value], "int"));
      if (i?.kind === "ints") return this.setConst(n, F.tensorOf([i.value.length], i.value, "int"));
      return this.refuse(n, "a Constant without a tensor, float or int value");
    }
    const inputs = n.inputs.map((_, i) => this.val(n, i));
    const present = inputs.filter((v): v is Val => v !== undefined);
    const allConst = present.every((v) => v.kind === "const");
    if (allConst && op !== "Shape") return this.fold(n, present.map((v) => (v as Extract<Val, { kind: "const" }>).t));
    if (FOLD_OPS.has(op)) this.refuse(n, `cnnc folds ${op} on constants only, and this one computes on the network's values`);
    this.compute(n);
  }

  private fold(n: OnnxNode, ts: readonly OnnxTensor[]): void {
    const op = n.opType;
    const opset = this.m.opset;
    // The inputs each fold reads unconditionally: a file whose node lacks one is refused here.
    const need =
      F.BINARY[op] || op === "Gather" || (op === "Reshape" && opset >= 5) ? 2
      : op === "Slice" && opset >= 10 ? 3
      : 1;
    if (ts.length < need) this.refuse(n, `takes at least ${need} input${need === 1 ? "" : "s"}, and this node has ${ts.length}`);
    const axesOf = (k: number): number[] => [...(this.ints(n, "axes") ?? (ts[k] ? Array.from(ts[k].data) : []))];
    switch (op) {
      case "Identity": case "Dropout":
        return this.setConst(n, ts[0]);
      case "Cast": {
        const to = this.int(n, "to", 1);
        const isFloat = to === 1 || to === 10 || to === 11;
        return this.setConst(n, { dims: ts[0].dims, type: isFloat ? "float" : "int", data: isFloat ? ts[0].data : ts[0].data.map(Math.trunc) });
      }
      case "ConstantOfShape": {
        const v = n.attrs.get("value");
        const fill = v?.kind === "tensor" ? v.value : F.tensorOf([1], [0], "float");
        const dims = Array.from(ts[0].data);
        return this.setConst(n, F.tensorOf(dims, new Array<number>(F.size(dims)).fill(fill.data[0] ?? 0), fill.type));
      }
      case "Gather":
        return this.setConst(n, F.gather(ts[0], ts[1], this.int(n, "axis", 0)));
      case "Unsqueeze": {
        const axes = axesOf(1);
        const rank = ts[0].dims.length + axes.length;
        const norm = axes.map((a) => F.normAxis(a, rank));
        const dims: number[] = [];
        let k = 0;
        for (let i = 0; i < rank; i++) dims.push(norm.includes(i) ? 1 : ts[0].dims[k++]);
        return this.setConst(n, { ...ts[0], dims });
      }
      case "Squeeze": {
        const axes = axesOf(1).map((a) => F.normAxis(a, ts[0].dims.length));
        const dims = ts[0].dims.filter((d, i) => (axes.length ? !axes.includes(i) : d !== 1));
        return this.setConst(n, { ...ts[0], dims });
      }
      case "Concat":
        return this.setConst(n, F.concat(ts.filter((t) => F.size(t.dims) > 0 || t.dims.length > 0), this.int(n, "axis", 0)));
      case "Reshape": {
        const target = opset >= 5 ? Array.from(ts[1].data) : [...(this.ints(n, "shape") ?? [])];
        return this.setConst(n, { ...ts[0], dims: F.reshapeDims(ts[0].dims, target, this.int(n, "allowzero", 0) === 1) });
      }
      case "Flatten": {
        const axis = F.normAxis(this.int(n, "axis", 1), ts[0].dims.length + 1);
        return this.setConst(n, { ...ts[0], dims: [F.size(ts[0].dims.slice(0, axis)), F.size(ts[0].dims.slice(axis))] });
      }
      case "Transpose": {
        const perm = this.ints(n, "perm") ?? ts[0].dims.map((_, i) => ts[0].dims.length - 1 - i);
        return this.setConst(n, F.transpose(ts[0], perm));
      }
      case "Slice": {
        const t = ts[0];
        if (opset < 10) {
          const starts = this.ints(n, "starts") ?? [];
          return this.setConst(n, F.slice(t, starts, this.ints(n, "ends") ?? [], this.ints(n, "axes") ?? starts.map((_, i) => i), []));
        }
        const starts = Array.from(ts[1].data);
        const axes = ts[3] ? Array.from(ts[3].data) : starts.map((_, i) => i);
        return this.setConst(n, F.slice(t, starts, Array.from(ts[2].data), axes, ts[4] ? Array.from(ts[4].data) : []));
      }
      case "Sum": case "Mean": {
        let acc = ts[0];
        for (const t of ts.slice(1)) acc = F.broadcast(acc, t, (x, y) => x + y, acc.type);
        if (op === "Mean") acc = { ...acc, data: acc.data.map((v) => v / ts.length) };
        return this.setConst(n, acc);
      }
      case "Clip": {
        const lo = ts[1]?.data[0] ?? this.float(n, "min", -Infinity);
        const hi = ts[2]?.data[0] ?? this.float(n, "max", Infinity);
        return this.setConst(n, { ...ts[0], data: ts[0].data.map((v) => Math.min(Math.max(v, lo), hi)) });
      }
      default: {
        const bin = F.BINARY[op];
        if (bin) {
          const int = ts[0].type === "int" && ts[1].type === "int";
          return this.setConst(n, F.broadcast(ts[0], ts[1], (x, y) => bin(x, y, int), int ? "int" : "float"));
        }
        const un = F.UNARY[op];
        if (un) return this.setConst(n, { ...ts[0], data: ts[0].data.map(un) });
        return this.refuse(n, `cnnc cannot evaluate ${op} on constants`);
      }
    }
  }

  /** The per-sample shape as numbers, or a refusal naming the node. */
  private staticShape(n: OnnxNode, shape: readonly Dim[]): number[] {
    if (!D.allStatic(shape)) this.refuse(n, `needs the exact size of its input, which depends on the input size (${D.printShape(shape)})`);
    return [...shape];
  }

  /** A per-sample reshape to `dims`: flatten, reshape([...]), or nothing. */
  private reshapeTo(n: OnnxNode, x: Extract<Val, { kind: "act" }>, dims: readonly number[]): void {
    const from = this.staticShape(n, x.shape);
    if (F.size(from) !== F.size(dims)) this.refuse(n, `reshapes across the batch axis ([${from.join(", ")}] per sample to [${dims.join(", ")}])`);
    if (dims.length === from.length && dims.every((d, i) => d === from[i])) return this.alias(n, x);
    if (dims.length === 1) return this.emit(n, `${x.name} |> flatten`, dims);
    if (dims.length > 4) this.refuse(n, `reshapes to ${dims.length} axes per sample; cnnc values have at most 4 (channels and 3 spatial)`);
    this.emit(n, `${x.name} |> reshape([${dims.join(", ")}])`, dims);
  }

  private compute(n: OnnxNode): void {
    const op = n.opType;
    const opset = this.m.opset;
    switch (op) {
      case "Identity": case "Dropout":
        return this.alias(n, this.act(n, 0));
      case "Cast": {
        const to = this.int(n, "to", 1);
        if (to !== 1) this.refuse(n, `casts the network's values to element type ${to}; cnnc computes in f32 only`);
        return this.alias(n, this.act(n, 0));
      }
      case "Shape": {
        const x = this.act(n, 0);
        const full = [BATCH, ...this.staticShape(n, x.shape)];
        const start = this.int(n, "start", 0);
        const endA = this.attr(n, "end");
        const end = endA?.kind === "int" ? endA.value : full.length;
        const s = start < 0 ? start + full.length : start;
        const e = end < 0 ? end + full.length : end;
        return this.setConst(n, F.tensorOf([Math.max(0, e - s)], full.slice(s, e), "int"));
      }
      case "Conv": return this.conv(n);
      case "ConvTranspose": return this.convTranspose(n);
      case "MaxPool": case "AveragePool": case "LpPool": return this.pool(n);
      case "GlobalAveragePool": case "GlobalMaxPool": {
        const x = this.act(n, 0);
        if (x.shape.length < 2) this.refuse(n, "global pooling of a flattened value");
        const kind = op === "GlobalAveragePool" ? "avgpool" : "maxpool";
        return this.emit(n, `${x.name} |> ${kind}(out: 1)`, [x.shape[0], ...x.shape.slice(1).map(() => 1)]);
      }
      case "BatchNormalization": {
        const x = this.act(n, 0);
        if (this.int(n, "training_mode", 0) !== 0) this.refuse(n, "BatchNormalization in training mode");
        const c = x.shape[0];
        if (typeof c !== "number") this.refuse(n, "symbolic channel count");
        const label = this.label(n);
        const roles = ["weight", "bias", "running_mean", "running_var"];
        roles.forEach((r, k) => {
          const t = this.constIn(n, k + 1, r);
          if (F.size(t.dims) !== c) this.refuse(n, `its ${r} has ${F.size(t.dims)} values for ${c} channels`);
          this.weight(label, r, [c], t.data);
        });
        return this.emit(n, `${x.name} |> ${label}: batchnorm(eps: ${fmtNum(this.float(n, "epsilon", 1e-5))})`, x.shape, `${label}_y`);
      }
      case "Relu": return this.activation(n, "relu");
      case "Sigmoid": return this.activation(n, "sigmoid");
      case "Tanh": return this.activation(n, "tanh");
      case "HardSwish": return this.activation(n, "hardswish");
      case "Exp": case "Log": case "Abs": case "Neg": case "Sqrt": case "Reciprocal":
        return this.activation(n, op.toLowerCase());
      case "Selu": return this.activation(n, `selu(${fmtNum(this.float(n, "alpha", 1.67326319217681884765625))}, ${fmtNum(this.float(n, "gamma", 1.05070102214813232421875))})`);
      case "Pow": {
        const p = this.constIn(n, 1, "exponent");
        if (F.size(p.dims) !== 1) this.refuse(n, "a power with an exponent per element; cnnc takes one exponent");
        const e = p.data[0];
        if (e === 1) return this.alias(n, this.act(n, 0));
        if (e === 0.5) return this.activation(n, "sqrt");
        return this.activation(n, `pow(${fmtNum(e)})`);
      }
      case "LeakyRelu": return this.activation(n, `leaky_relu(${fmtNum(this.float(n, "alpha", 0.01))})`);
      case "Elu": return this.activation(n, `elu(${fmtNum(this.float(n, "alpha", 1))})`);
      case "HardSigmoid": return this.activation(n, `hardsigmoid(${fmtNum(this.float(n, "alpha", 0.2))}, ${fmtNum(this.float(n, "beta", 0.5))})`);
      case "Clip": {
        const lo = opset >= 11 ? (this.optConst(n, 1, "min")?.data[0] ?? -Infinity) : this.float(n, "min", -Infinity);
        const hi = opset >= 11 ? (this.optConst(n, 2, "max")?.data[0] ?? Infinity) : this.float(n, "max", Infinity);
        if (lo === 0 && hi === Infinity) return this.activation(n, "relu");
        return this.activation(n, `clip(${fmtNum(lo)}, ${fmtNum(hi)})`);
      }
      case "Softmax": case "LogSoftmax": {
        const x = this.act(n, 0);
        const rank = x.shape.length + 1;
        const axis = F.normAxis(this.int(n, "axis", opset >= 13 ? -1 : 1), rank);
        const restOnes = x.shape.slice(1).every((d) => d === 1);
        if (axis !== 1 || (!restOnes && opset < 13 && rank > 2)) this.refuse(n, `softmax over axis ${axis} of a rank-${rank} value; cnnc's softmax is over channels`);
        return this.emit(n, `${x.name} |> ${op === "Softmax" ? "softmax" : "log_softmax"}`, x.shape);
      }
      case "Flatten": {
        const x = this.act(n, 0);
        const axis = F.normAxis(this.int(n, "axis", 1), x.shape.length + 2);
        if (axis !== 1) this.refuse(n, `flattens from axis ${axis}; cnnc keeps the batch axis apart (axis 1 only)`);
        if (x.shape.length === 1) return this.alias(n, x);
        return this.emit(n, `${x.name} |> flatten`, [D.product(x.shape)]);
      }
      case "Reshape": {
        const x = this.act(n, 0);
        const target = opset >= 5 ? Array.from(this.constIn(n, 1, "shape").data) : [...(this.ints(n, "shape") ?? [])];
        const from = this.staticShape(n, x.shape);
        const per = F.size(from);
        const allowZero = this.int(n, "allowzero", 0) === 1;
        const first = target[0];
        const rest = target.slice(1);
        const keepsBatch =
          (first === 0 && !allowZero) || first === BATCH || (first === this.inputBatch && first !== undefined) ||
          (first === -1 && !rest.includes(-1) && rest.every((d) => d > 0) && F.size(rest) === per);
        if (!keepsBatch) this.refuse(n, `reshapes across the batch axis (target [${target.map((d) => (d === BATCH ? "N" : d)).join(", ")}]); cnnc keeps the batch axis apart`);
        return this.reshapeTo(n, x, F.reshapeDims(from, rest.map((d, i) => (d === 0 && !allowZero ? from[i] : d))));
      }
      case "Squeeze": case "Unsqueeze": {
        const x = this.act(n, 0);
        const from = this.staticShape(n, x.shape);
        const axesAttr = this.ints(n, "axes") ?? (n.inputs[1] ? Array.from(this.constIn(n, 1, "axes").data) : undefined);
        const full = [1, ...from];
        let dims: number[];
        if (op === "Squeeze") {
          const axes = (axesAttr ?? full.flatMap((d, i) => (d === 1 && i > 0 ? [i] : []))).map((a) => F.normAxis(a, full.length));
          if (axes.includes(0)) this.refuse(n, "squeezes the batch axis");
          dims = full.filter((_, i) => !axes.includes(i));
        } else {
          const rank = full.length + (axesAttr?.length ?? 0);
          const axes = (axesAttr ?? []).map((a) => F.normAxis(a, rank));
          if (axes.includes(0)) this.refuse(n, "inserts an axis before the batch axis");
          dims = [];
          let k = 0;
          for (let i = 0; i < rank; i++) dims.push(axes.includes(i) ? 1 : full[k++]);
        }
        return this.reshapeTo(n, x, dims.slice(1));
      }
      case "Transpose": {
        const x = this.act(n, 0);
        const rank = x.shape.length + 1;
        const perm = this.ints(n, "perm") ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
        if (perm[0] !== 0) this.refuse(n, `transposes across the batch axis (perm [${perm.join(", ")}])`);
        if (perm.every((p, i) => p === i)) return this.alias(n, x);
        if (this.softmaxSandwich(n, x, perm)) return;
        if (perm.length !== rank) this.refuse(n, `perm [${perm.join(", ")}] for a rank-${rank} value`);
        const per = perm.slice(1).map((p) => p - 1);
        return this.emit(n, `${x.name} |> transpose([${per.join(", ")}])`, per.map((p) => x.shape[p]));
      }
      case "Concat": {
        const ins = this.allInputs(n);
        const first = ins.find((v): v is Extract<Val, { kind: "act" }> => v.kind === "act");
        if (!first) return this.refuse(n, "concatenates only constants");
        const rank = first.shape.length + 1;
        if (F.normAxis(this.int(n, "axis", 1), rank) !== 1) this.refuse(n, "concatenates along an axis other than channels");
        // A constant operand: a named constant of its own channels and the values' spatial sizes.
        const parts = ins.map((v, i) => {
          if (v.kind === "act") return { name: v.name, c: v.shape[0] };
          const full = [...new Array<number>(Math.max(0, rank - v.t.dims.length)).fill(1), ...v.t.dims];
          if (full.length !== rank || full.slice(2).some((d, a) => !D.dimEquals(d, first.shape[a + 1]))) this.refuse(n, `a constant of shape [${v.t.dims.join(", ")}] among values [N, ${first.shape.map((d) => D.printDim(d)).join(", ")}]`);
          return { name: this.namedConst(n, i, v.t, [full[1], ...first.shape.slice(1)]), c: full[1] as Dim };
        });
        const c = parts.reduce<Dim>((s, x) => D.add(s, x.c), 0);
        return this.emit(n, `concat(${parts.map((x) => x.name).join(", ")})`, [c, ...first.shape.slice(1)]);
      }
      case "Resize": case "Upsample": return this.resize(n);
      case "Pad": return this.pad(n);
      case "ReduceMean": case "ReduceMax": case "ReduceSum": case "ReduceL2": return this.reduce(n);
      case "PRelu": return this.prelu(n);
      case "InstanceNormalization": return this.instanceNorm(n);
      case "Max": case "Min": return this.extremum(n);
      case "Mean": return this.mean(n);
      case "Slice": return this.slice(n);
      case "Split": return this.split(n);
      case "Gemm": return this.gemm(n);
      case "MatMul": return this.matmul(n);
      case "Add": case "Sub": case "Mul": case "Div": case "Sum": return this.binary(n);
      default:
        return this.refuse(n, `unsupported op ${op}`);
    }
  }

  /**
   * Transpose (channels to the last axis) -> Softmax or LogSoftmax over the last axis ->
   * the inverse Transpose: how PyTorch exports softmax(dim=1) of an image before opset 13,
   * whose Softmax flattens every axis from `axis` on. The three nodes are softmax over
   * channels. Returns false (nothing done) for any other use of the Transpose.
   */
  private softmaxSandwich(n: OnnxNode, x: Extract<Val, { kind: "act" }>, perm: readonly number[]): boolean {
    const rank = perm.length;
    const last = rank - 1;
    if (rank < 3 || perm[last] !== 1) return false;
    const only = (value: string): OnnxNode | undefined => {
      const readers = this.m.nodes.filter((m) => m.inputs.includes(value));
      return readers.length === 1 && !this.m.outputs.some((o) => o.name === value) ? readers[0] : undefined;
    };
    const sm = only(n.outputs[0]);
    if (!sm || (sm.opType !== "Softmax" && sm.opType !== "LogSoftmax")) return false;
    if (F.normAxis(this.int(sm, "axis", this.m.opset >= 13 ? -1 : 1), rank) !== last) return false;
    const back = only(sm.outputs[0]);
    const inverse = back?.opType === "Transpose" ? this.ints(back, "perm") : undefined;
    if (!back || !inverse || inverse.length !== rank || perm.some((p, i) => inverse[p] !== i)) return false;
    this.absorbed.add(sm.index);
    this.absorbed.add(back.index);
    this.emit({ ...sm, outputs: back.outputs }, `${x.name} |> ${sm.opType === "Softmax" ? "softmax" : "log_softmax"}`, x.shape);
    return true;
  }

  /** `slice(start, end, axis: a, step: s)` of a value axis (ONNX axis - 1), bounds clamped as ONNX does. */
  private sliceCall(n: OnnxNode, shape: Dim[], axis: number, start: number, end: number, step: number): string | undefined {
    const a = F.normAxis(axis, shape.length + 1);
    const m = a === 0 ? undefined : shape[a - 1];
    if (a === 0) {
      if (start === 0 && end >= 2 ** 31 && step === 1) return undefined;
      this.refuse(n, "slices the batch axis");
    }
    if (typeof m !== "number") return this.refuse(n, `slices axis ${a}, whose size depends on the input size`);
    if (step < 1) this.refuse(n, `slices with step ${step}; cnnc slices forwards only`);
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + m : v, 0), m);
    const s = clamp(start);
    const e = clamp(end);
    if (e <= s) this.refuse(n, "an empty slice");
    if (s === 0 && e === m && step === 1) return undefined;
    shape[a - 1] = Math.ceil((e - s) / step);
    return `slice(${s}, ${e}${a - 1 !== 0 ? `, axis: ${a - 1}` : ""}${step !== 1 ? `, step: ${step}` : ""})`;
  }

  private slice(n: OnnxNode): void {
    const x = this.act(n, 0);
    const opset = this.m.opset;
    const list = (i: number, attr: string): number[] | undefined =>
      opset >= 10 ? (this.optConst(n, i, attr) ? Array.from(this.constIn(n, i, attr).data) : undefined) : this.ints(n, attr)?.slice();
    const starts = list(1, "starts") ?? [];
    const ends = list(2, "ends") ?? [];
    const axes = list(3, "axes") ?? starts.map((_, i) => i);
    const steps = opset >= 10 ? (list(4, "steps") ?? []) : [];
    const shape = [...x.shape];
    const calls = axes.flatMap((axis, i) => this.sliceCall(n, shape, axis, starts[i], ends[i], steps[i] ?? 1) ?? []);
    if (calls.length === 0) return this.alias(n, x);
    this.emit(n, `${x.name} |> ${calls.join(" |> ")}`, shape);
  }

  /**
   * Resize and Upsample. Nearest by whole scale factors s, where out[i] = in[floor(i / s)]
   * (asymmetric + floor or simple, and half_pixel + round_prefer_floor, agree there), is a
   * transposed convolution with a kernel of ones, s x s, stride s, one group per channel:
   * each output reads exactly one input times 1, so it is exact. Everything else (linear,
   * fractional scales, sizes, the other coordinate and rounding modes) is `resize(..)`.
   * Opsets 7-9 Upsample and 10 Resize: asymmetric, nearest rounding `simple`; 11+: the
   * attributes, scales or sizes as inputs (roi ignored, tf_crop_and_resize refused); 18+:
   * axes, antialias and keep_aspect_ratio_policy.
   */
  private resize(n: OnnxNode): void {
    const x = this.act(n, 0);
    const opset = this.m.opset;
    const raw = this.str(n, "mode", "nearest");
    const mode = raw === "bilinear" || raw === "trilinear" ? "linear" : raw;
    if (mode !== "nearest" && mode !== "linear") this.refuse(n, `${raw} resizing; cnnc resizes by nearest neighbour or linear interpolation`);
    const modern = n.opType === "Resize" && opset >= 11;
    const ctm = modern ? this.str(n, "coordinate_transformation_mode", "half_pixel") : "asymmetric";
    const nearest = modern ? this.str(n, "nearest_mode", "round_prefer_floor") : "simple";
    const coords = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"];
    if (!coords.includes(ctm)) this.refuse(n, `coordinate_transformation_mode ${ctm}; cnnc takes ${coords.join(", ")}`);
    if (!["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"].includes(nearest)) this.refuse(n, `nearest_mode ${nearest}`);
    if (this.int(n, "antialias", 0) !== 0) this.refuse(n, "antialiased resizing");
    if (this.str(n, "keep_aspect_ratio_policy", "stretch") !== "stretch") this.refuse(n, "a keep_aspect_ratio_policy other than stretch");
    if (raw === "cubic") this.refuse(n, "cubic resizing");
    const spatial = this.staticShape(n, x.shape).slice(1);
    const rank = spatial.length + 2;
    const full = [1, x.shape[0] as number, ...spatial];
    let scales: number[] | undefined;
    let sizes: number[] | undefined;
    const attrScales = this.attr(n, "scales");
    if (attrScales?.kind === "floats") scales = [...attrScales.value];
    else if (n.opType === "Upsample") scales = Array.from(this.constIn(n, 1, "scales").data);
    else if (opset < 11) scales = Array.from(this.constIn(n, 1, "scales").data);
    else {
      const sc = this.optConst(n, 2, "scales");
      const sz = this.optConst(n, 3, "sizes");
      if (sc && F.size(sc.dims) > 0) scales = Array.from(sc.data);
      else if (sz) sizes = Array.from(sz.data);
    }
    // Opset 18: scales or sizes for some axes only.
    const axesAttr = opset >= 18 ? this.ints(n, "axes") : undefined;
    if (axesAttr) {
      const axes = axesAttr.map((a) => F.normAxis(a, rank));
      const given = scales ?? sizes ?? [];
      const expand = (fill: (i: number) => number): number[] => Array.from({ length: rank }, (_, i) => (axes.includes(i) ? given[axes.indexOf(i)] : fill(i)));
      if (scales) scales = expand(() => 1);
      if (sizes) sizes = expand((i) => full[i]);
    }
    const list = scales ?? sizes;
    if (!list || list.length !== rank) return this.refuse(n, "no scales or sizes for every axis");
    if (scales ? scales[0] !== 1 || scales[1] !== 1 : list[1] !== full[1] || (list[0] !== 1 && list[0] !== BATCH && list[0] !== this.inputBatch)) this.refuse(n, "resizes the batch or channel axis");
    const s = scales?.slice(2).map(Math.fround);
    const out = s ? spatial.map((m, i) => Math.floor(Math.fround(s[i] * m))) : (sizes as number[]).slice(2);
    if (out.some((o) => o < 1)) this.refuse(n, `resizes [${spatial.join(", ")}] to the empty [${out.join(", ")}]`);
    // The same size at scale 1 maps every coordinate to itself in every mode.
    if (out.every((o, i) => o === spatial[i]) && (!s || s.every((v) => v === 1))) return this.alias(n, x);
    const wholeNearest =
      mode === "nearest" && s && s.every((v) => Number.isInteger(v) && v >= 1) &&
      (((ctm === "asymmetric") && (nearest === "floor" || nearest === "simple")) || (["half_pixel", "pytorch_half_pixel"].includes(ctm) && nearest === "round_prefer_floor"));
    if (wholeNearest && s) {
      const C = x.shape[0] as number;
      const label = this.namer.take(`${layerPath(n.name) || "upsample"}_nearest`).name;
      this.weight(label, "weight", [C, 1, ...s], new Array<number>(C * F.size(s)).fill(1));
      return this.emit(n, `${x.name} |> ${label}: deconv(${C}, ${fmtSize(s)}, stride: ${fmtSize(s)}, groups: ${C}, size: ${fmtSize(out)}, bias: none)`, [x.shape[0], ...out], `${label}_y`);
    }
    const by = s ? (s.every((v) => v === s[0]) ? fmtNum(s[0]) : `[${s.map(fmtNum).join(", ")}]`) : `size: [${out.join(", ")}]`;
    const how = [`mode: ${mode}`, `coord: ${ctm}`, ...(mode === "nearest" ? [`round: ${nearest}`] : [])];
    this.emit(n, `${x.name} |> resize(${[by, ...how].join(", ")})`, [x.shape[0], ...out]);
  }

  private split(n: OnnxNode): void {
    const x = this.act(n, 0);
    const rank = x.shape.length + 1;
    const axis = F.normAxis(this.int(n, "axis", 0), rank);
    if (axis === 0) this.refuse(n, "splits the batch axis");
    const m = x.shape[axis - 1];
    if (typeof m !== "number") return this.refuse(n, `splits axis ${axis}, whose size depends on the input size`);
    const given = this.ints(n, "split") ?? (this.m.opset >= 13 && this.optConst(n, 1, "split") ? Array.from(this.constIn(n, 1, "split").data) : undefined);
    const parts = n.outputs.length;
    const sizes = given ?? Array.from({ length: parts }, (_, k) => Math.min(Math.ceil(m / parts), Math.max(0, m - k * Math.ceil(m / parts))));
    let at = 0;
    sizes.forEach((len, k) => {
      if (!n.outputs[k]) return;
      const shape = [...x.shape];
      const call = this.sliceCall(n, shape, axis, at, at + len, 1);
      at += len;
      const base = `${layerPath(n.name) || "split"}_${k}`;
      if (call) this.emit(n, `${x.name} |> ${call}`, shape, base, k);
      else this.vals.set(n.outputs[k], x);
    });
  }

  /** A per-channel constant [C] from one that broadcasts onto [N, C, D..] along channels only (or a scalar). */
  private perChannel(n: OnnxNode, t: OnnxTensor, x: readonly Dim[], what: string): number[] {
    const C = x[0];
    if (typeof C !== "number") return this.refuse(n, "symbolic channel count");
    const rank = x.length + 1;
    if (t.dims.length > rank) this.refuse(n, `its ${what} has more axes than the value`);
    const dims = [...new Array<number>(rank - t.dims.length).fill(1), ...t.dims];
    if (dims.some((d, i) => i !== 1 && d !== 1) || (dims[1] !== 1 && dims[1] !== C)) {
      this.refuse(n, `its ${what} has shape [${t.dims.join(", ")}]; cnnc takes one value per channel or one for all`);
    }
    return Array.from({ length: C }, (_, k) => t.data[dims[1] === 1 ? 0 : k]);
  }

  /** A per-channel weight as PyTorch's state_dict holds it, [C] (prelu and instancenorm also take it so). */
  private channelWeight(label: string, role: string, data: ArrayLike<number>): void {
    this.weight(label, role, [data.length], data);
  }

  /** PRelu: one slope is `prelu(s)`; a slope per channel, `label: prelu` with `label.weight`. */
  private prelu(n: OnnxNode): void {
    const x = this.act(n, 0);
    const s = this.constIn(n, 1, "slope");
    if (F.size(s.dims) === 1) return this.activation(n, `prelu(${fmtNum(s.data[0])})`);
    if (x.shape.length < 2) this.refuse(n, "a slope per channel of a flattened value");
    const slope = this.perChannel(n, s, x.shape, "slope");
    const label = this.label(n);
    this.channelWeight(label, "weight", slope);
    this.emit(n, `${x.name} |> ${label}: prelu`, x.shape, `${label}_y`);
  }

  /** InstanceNormalization: `label: instancenorm(eps:)`, scale and B as `label.weight` and `label.bias`. */
  private instanceNorm(n: OnnxNode): void {
    const x = this.act(n, 0);
    if (x.shape.length < 2) this.refuse(n, "instance normalisation of a flattened value");
    const C = x.shape[0];
    if (typeof C !== "number") return this.refuse(n, "symbolic channel count");
    const scale = this.constIn(n, 1, "scale");
    const bias = this.constIn(n, 2, "B");
    if (F.size(scale.dims) !== C || F.size(bias.dims) !== C) this.refuse(n, `its scale and B must have ${C} values, one per channel`);
    const eps = this.float(n, "epsilon", 1e-5);
    const label = this.label(n);
    this.channelWeight(label, "weight", scale.data);
    this.channelWeight(label, "bias", bias.data);
    this.emit(n, `${x.name} |> ${label}: instancenorm(eps: ${fmtNum(eps)})`, x.shape, `${label}_y`);
  }

  /**
   * Max and Min. Of a value and one constant: clip(c, +inf) / clip(-inf, c). Of values,
   * `max(a, b)` / `min(a, b)`, nested for more than two.
   */
  private extremum(n: OnnxNode): void {
    const isMax = n.opType === "Max";
    const ins = this.allInputs(n);
    const acts = ins.filter((v): v is Extract<Val, { kind: "act" }> => v.kind === "act");
    const consts = ins.filter((v): v is Extract<Val, { kind: "const" }> => v.kind === "const");
    if (consts.length > 0) {
      // Constants among the operands fold into one (ONNX's Max is associative).
      const c = consts.slice(1).reduce((a, b) => F.broadcast(a, b.t, isMax ? Math.max : Math.min, "float"), consts[0].t);
      if (acts.length !== 1) this.refuse(n, `${n.opType} of several computed values and a constant`);
      if (F.size(c.dims) !== 1) {
        // The folded constant keeps the name of the first constant operand.
        const k = this.namedConst(n, ins.indexOf(consts[0]), c, acts[0].shape);
        return this.emit(n, `${isMax ? "max" : "min"}(${acts[0].name}, ${k})`, acts[0].shape);
      }
      const v = c.data[0];
      return this.activation(n, isMax ? `clip(${fmtNum(v)}, ${fmtNum(Infinity)})` : `clip(${fmtNum(-Infinity)}, ${fmtNum(v)})`);
    }
    if (acts.length === 1) return this.alias(n, acts[0]);
    const word = isMax ? "max" : "min";
    const shape = broadcastShape(acts.map((a) => a.shape));
    const expr = acts.slice(1).reduce((e, b) => `${word}(${e}, ${b.name})`, acts[0].name);
    this.emit(n, expr, shape);
  }

  /** Mean of values: `mean(a, b, ...)`. */
  private mean(n: OnnxNode): void {
    const acts = n.inputs.map((_, i) => this.act(n, i));
    if (acts.length === 1) return this.alias(n, acts[0]);
    const shape = broadcastShape(acts.map((a) => a.shape));
    this.emit(n, `mean(${acts.map((a) => a.name).join(", ")})`, shape);
  }

  /**
   * ReduceMean, ReduceMax, ReduceSum, ReduceL2 over the channels and/or any spatial axes
   * (never the batch): `reduce_mean(axes: [..], keep: ..)` and so on, the axes counted per
   * sample (ONNX's axis minus one).
   */
  private reduce(n: OnnxNode): void {
    const op = n.opType;
    const x = this.act(n, 0);
    const rank = x.shape.length + 1;
    const fromInput = (op === "ReduceSum" && this.m.opset >= 13) || this.m.opset >= 18;
    const given = fromInput ? (this.optConst(n, 1, "axes") ? Array.from(this.constIn(n, 1, "axes").data) : undefined) : this.ints(n, "axes");
    if ((!given || given.length === 0) && fromInput && this.int(n, "noop_with_empty_axes", 0) === 1) return this.alias(n, x);
    const axes = [...new Set((given && given.length ? given : Array.from({ length: rank }, (_, i) => i)).map((a) => F.normAxis(a, rank)))].sort((a, b) => a - b);
    if (axes.includes(0)) this.refuse(n, `reduces the batch axis (axes [${axes.join(", ")}])`);
    if (x.shape.length < 2) this.refuse(n, "a reduction of a flattened value");
    const word = { ReduceMean: "reduce_mean", ReduceMax: "reduce_max", ReduceSum: "reduce_sum", ReduceL2: "reduce_l2" }[op] ?? "reduce_sum";
    const shape = x.shape.map((d, i) => (axes.includes(i + 1) ? 1 : d));
    const keep = this.int(n, "keepdims", 1) === 1;
    const spatial = axes.filter((a) => a >= 2);
    // A window over only some spatial axes, or a sum (an average times the count), needs their sizes.
    if (spatial.length > 0 && (spatial.length < rank - 2 || op === "ReduceSum" || op === "ReduceL2")) this.staticShape(n, spatial.map((a) => x.shape[a - 1]));
    if (!keep) {
      const kept = shape.filter((_, i) => !axes.includes(i + 1));
      if (kept.length === 0) this.refuse(n, "reduces every axis but the batch without keepdims; cnnc values keep at least one axis per sample");
      if (kept.length > 1 || axes.includes(1)) this.staticShape(n, kept);
    }
    const out = keep ? shape : shape.filter((_, i) => !axes.includes(i + 1));
    this.emit(n, `${x.name} |> ${word}(axes: [${axes.map((a) => a - 1).join(", ")}]${keep ? "" : ", keep: false"})`, out);
  }

  private activation(n: OnnxNode, call: string): void {
    const x = this.act(n, 0);
    this.emit(n, `${x.name} |> ${call}`, x.shape);
  }

  /**
   * Pad of the spatial axes. Zero padding read only by Conv nodes becomes their explicit
   * padding (the same numbers: a convolution pads with zeros); any other constant, reflect
   * and edge padding is `pad(.., mode:)`. Opsets 7-10 give pads and value as attributes,
   * 11+ as inputs, 18+ optionally for some axes only.
   */
  private pad(n: OnnxNode): void {
    const x = this.act(n, 0);
    const mode = this.str(n, "mode", "constant");
    if (mode !== "constant" && mode !== "reflect" && mode !== "edge") this.refuse(n, `${mode} padding; cnnc pads with a constant, reflect or edge`);
    let pads = this.m.opset >= 11 ? Array.from(this.constIn(n, 1, "pads").data) : [...(this.ints(n, "pads") ?? [])];
    const value = this.m.opset >= 11 ? (this.optConst(n, 2, "constant_value")?.data[0] ?? 0) : this.float(n, "value", 0);
    const rank = x.shape.length + 1;
    const axesT = this.m.opset >= 18 ? this.optConst(n, 3, "axes") : undefined;
    if (axesT) {
      const axes = Array.from(axesT.data).map((a) => F.normAxis(a, rank));
      const full = new Array<number>(2 * rank).fill(0);
      axes.forEach((a, k) => {
        full[a] = pads[k];
        full[rank + a] = pads[axes.length + k];
      });
      pads = full;
    }
    if (pads.length !== 2 * rank) this.refuse(n, `${pads.length} pads for a rank-${rank} value`);
    const before = pads.slice(0, rank);
    const after = pads.slice(rank);
    if (before[0] || before[1] || after[0] || after[1]) this.refuse(n, "pads the batch or channel axis; cnnc pads spatial axes");
    if (pads.some((p) => p < 0)) this.refuse(n, "negative pads (cropping)");
    if (rank < 3) this.refuse(n, "padding of a flattened value");
    if (pads.every((p) => p === 0)) return this.alias(n, x);
    const readers = this.m.nodes.filter((m) => m.inputs.includes(n.outputs[0]));
    const onlyConvs = readers.length > 0 && readers.every((m) => m.opType === "Conv" && m.inputs[0] === n.outputs[0]) && !this.m.outputs.some((o) => o.name === n.outputs[0]);
    const sb = before.slice(2);
    const sa = after.slice(2);
    if (mode === "constant" && value === 0 && onlyConvs) {
      this.pendingPads.set(n.outputs[0], { x, before: sb, after: sa });
      this.vals.set(n.outputs[0], x);
      return;
    }
    const spatial = x.shape.slice(1);
    if (mode === "reflect") {
      spatial.forEach((m, a) => {
        if (typeof m !== "number") this.refuse(n, "reflect padding of an axis whose size depends on the input size");
        if (sb[a] >= m || sa[a] >= m) this.refuse(n, `reflect padding of ${Math.max(sb[a], sa[a])} on an axis of size ${m}; it must be smaller than the axis`);
      });
    }
    const amount = fmtPad({ kind: "explicit", before: sb, after: sa }) ?? "0";
    const how = mode === "constant" ? (value === 0 ? "" : `, mode: constant, value: ${fmtNum(value)}`) : `, mode: ${mode}`;
    this.emit(n, `${x.name} |> pad(${amount}${how})`, [x.shape[0], ...spatial.map((m, a) => D.add(D.add(m, sb[a]), sa[a]))]);
  }

  private conv(n: OnnxNode): void {
    const padded = this.pendingPads.get(n.inputs[0]);
    const x = padded ? padded.x : this.act(n, 0);
    const w = this.constIn(n, 1, "weight");
    const b = this.optConst(n, 2, "bias");
    const d = w.dims.length - 2;
    if (d < 1 || d > 3 || x.shape.length !== d + 1) this.refuse(n, `a ${d}-D convolution of a value with ${x.shape.length - 1} spatial axes`);
    const kernel = this.ints(n, "kernel_shape") ?? w.dims.slice(2);
    const dilation = [...(this.ints(n, "dilations") ?? new Array<number>(d).fill(1))];
    const groups = this.int(n, "group", 1);
    const win = this.window(n, x.shape, kernel, dilation);
    const stride = win.stride;
    let pad = win.pad;
    if (padded) {
      if (pad.kind !== "explicit" && pad.kind !== "valid") this.refuse(n, "auto_pad after a Pad node");
      const base = pad.kind === "explicit" ? pad : { before: new Array<number>(d).fill(0), after: new Array<number>(d).fill(0) };
      pad = { kind: "explicit", before: base.before.map((b, i) => b + padded.before[i]), after: base.after.map((a, i) => a + padded.after[i]) };
    }
    const O = w.dims[0];
    const label = this.label(n);
    this.weight(label, "weight", w.dims, w.data);
    if (b) this.weight(label, "bias", [O], b.data);
    const geo = windowGeometry(x.shape.slice(1), kernel, stride, dilation, pad);
    const call = `conv(${args([
      String(O), fmtSize(kernel),
      stride.some((s) => s !== 1) ? `stride: ${fmtSize(stride)}` : undefined,
      fmtPad(pad) && `pad: ${fmtPad(pad)}`,
      dilation.some((v) => v !== 1) ? `dilation: ${fmtSize(dilation)}` : undefined,
      groups !== 1 ? `groups: ${groups}` : undefined,
      b ? undefined : "bias: none",
    ])})`;
    this.emit(n, `${x.name} |> ${label}: ${call}`, [O, ...geo.out], `${label}_y`);
  }

  private convTranspose(n: OnnxNode): void {
    const x = this.act(n, 0);
    const w = this.constIn(n, 1, "weight");
    const b = this.optConst(n, 2, "bias");
    const d = w.dims.length - 2;
    const spatial = this.staticShape(n, x.shape).slice(1);
    if (spatial.length !== d) this.refuse(n, "kernel rank does not match the input");
    const kernel = this.ints(n, "kernel_shape") ?? w.dims.slice(2);
    const dilation = [...(this.ints(n, "dilations") ?? new Array<number>(d).fill(1))];
    const stride = [...(this.ints(n, "strides") ?? new Array<number>(d).fill(1))];
    const groups = this.int(n, "group", 1);
    const outPad = this.ints(n, "output_padding") ?? new Array<number>(d).fill(0);
    const autoPad = this.str(n, "auto_pad", "NOTSET");
    let pads = this.ints(n, "pads") ?? new Array<number>(2 * d).fill(0);
    const outShape = this.ints(n, "output_shape");
    const keff = kernel.map((k, i) => (k - 1) * dilation[i] + 1);
    const full = spatial.map((m, i) => stride[i] * (m - 1) + outPad[i] + keff[i]);
    let out: number[];
    if (outShape || autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
      out = outShape ? [...outShape.slice(-d)] : spatial.map((m, i) => m * stride[i]);
      const total = full.map((f, i) => Math.max(f - out[i], 0));
      const lower = autoPad === "SAME_LOWER";
      pads = [...total.map((t) => (lower ? t - Math.floor(t / 2) : Math.floor(t / 2))), ...total.map((t) => (lower ? Math.floor(t / 2) : t - Math.floor(t / 2)))];
    } else if (autoPad === "VALID") {
      pads = new Array<number>(2 * d).fill(0);
      out = full;
    } else out = full.map((f, i) => f - pads[i] - pads[d + i]);
    const O = w.dims[1] * groups;
    const label = this.label(n);
    this.weight(label, "weight", w.dims, w.data);
    if (b) this.weight(label, "bias", [O], b.data);
    // Our deconv is the transpose of the conv, with these pads, that maps `out` to the input:
    // output_padding and output_shape only change `out`, which `size:` states.
    const pad: PadSpec = { kind: "explicit", before: pads.slice(0, d), after: pads.slice(d) };
    const call = `deconv(${args([
      String(O), fmtSize(kernel),
      stride.some((s) => s !== 1) ? `stride: ${fmtSize(stride)}` : undefined,
      fmtPad(pad) && `pad: ${fmtPad(pad)}`,
      dilation.some((v) => v !== 1) ? `dilation: ${fmtSize(dilation)}` : undefined,
      groups !== 1 ? `groups: ${groups}` : undefined,
      `size: [${out.join(", ")}]`,
      b ? undefined : "bias: none",
    ])})`;
    this.emit(n, `${x.name} |> ${label}: ${call}`, [O, ...out], `${label}_y`);
  }

  private pool(n: OnnxNode): void {
    const x = this.act(n, 0);
    if (n.outputs.length > 1 && n.outputs[1] !== "" && this.consumers.has(n.outputs[1])) this.refuse(n, "MaxPool's indices output is not supported");
    const kernel = this.ints(n, "kernel_shape");
    if (!kernel) return this.refuse(n, "no kernel_shape");
    const d = kernel.length;
    if (x.shape.length !== d + 1) this.refuse(n, `a ${d}-D pool of a value with ${x.shape.length - 1} spatial axes`);
    const dilation = [...(this.ints(n, "dilations") ?? new Array<number>(d).fill(1))];
    const { stride, pad } = this.window(n, x.shape, kernel, dilation);
    const ceil = this.int(n, "ceil_mode", 0) === 1;
    const countPad = this.int(n, "count_include_pad", 0) === 1;
    const name = n.opType === "MaxPool" ? "maxpool" : n.opType === "AveragePool" ? "avgpool" : "lppool";
    const geo = windowGeometry(x.shape.slice(1), kernel, stride, dilation, pad, ceil);
    const call = `${name}(${args([
      fmtSize(kernel),
      `stride: ${fmtSize(stride)}`,
      fmtPad(pad) && `pad: ${fmtPad(pad)}`,
      dilation.some((v) => v !== 1) ? `dilation: ${fmtSize(dilation)}` : undefined,
      ceil ? "ceil: true" : undefined,
      name === "avgpool" && countPad && pad.kind !== "valid" ? "count_pad: true" : undefined,
      name === "lppool" ? `p: ${this.int(n, "p", 2)}` : undefined,
    ])})`;
    this.emit(n, `${x.name} |> ${call}`, [x.shape[0], ...geo.out]);
  }

  /** dense from a [K] value and a weight [units, K]; bias [units] or none. */
  private dense(n: OnnxNode, x: Extract<Val, { kind: "act" }>, weight: OnnxTensor, bias: Float64Array | undefined): void {
    if (x.shape.length !== 1) this.refuse(n, "a matrix product of an unflattened value (cnnc's dense reads [N, K])");
    const [units, k] = weight.dims;
    if (x.shape[0] !== k) this.refuse(n, `the weight is [${weight.dims.join(", ")}] for ${D.printDim(x.shape[0])} inputs`);
    const label = this.label(n);
    this.weight(label, "weight", [units, k], weight.data);
    if (bias) this.weight(label, "bias", [units], bias);
    this.emit(n, `${x.name} |> ${label}: dense(${args([String(units), bias ? undefined : "bias: none"])})`, [units], `${label}_y`);
  }

  private gemm(n: OnnxNode): void {
    const x = this.act(n, 0);
    if (this.int(n, "transA", 0) !== 0) this.refuse(n, "transA = 1 would transpose across the batch axis");
    const B = this.constIn(n, 1, "B");
    const alpha = this.float(n, "alpha", 1);
    const beta = this.float(n, "beta", 1);
    let w = this.int(n, "transB", 0) === 1 ? B : F.transpose(B, [1, 0]);
    if (alpha !== 1) w = { ...w, data: w.data.map((v) => v * alpha) };
    const C = this.optConst(n, 2, "C");
    const units = w.dims[0];
    const bias = C ? F.broadcast(C, F.tensorOf([units], new Array<number>(units).fill(0), "float"), (c, z) => c * beta + z, "float") : undefined;
    if (bias && F.size(bias.dims) !== units) this.refuse(n, `its C [${C?.dims.join(", ")}] is not a bias per output`);
    this.dense(n, x, w, bias?.data);
  }

  private matmul(n: OnnxNode): void {
    const x = this.act(n, 0);
    const other = this.val(n, 1);
    if (other?.kind === "act") {
      // Two computed values, each [N, M, K] / [N, B, M, K] with the batch axis in front.
      const r = x.shape.length;
      if ((r !== 2 && r !== 3) || other.shape.length !== r) this.refuse(n, `a matrix product of values with ${r} and ${other.shape.length} axes per sample; cnnc multiplies [M, K] by [K, N] or [B, M, K] by [B, K, N]`);
      return this.emit(n, `matmul(${x.name}, ${other.name})`, [...x.shape.slice(0, r - 1), other.shape[r - 1]]);
    }
    const B = this.constIn(n, 1, "B");
    if (B.dims.length !== 2) this.refuse(n, "a matrix product with a weight that is not a matrix");
    const w = F.transpose(B, [1, 0]);
    const units = w.dims[0];
    // MatMul + Add(bias), as older exporters write a linear layer: one dense with a bias.
    const out = n.outputs[0];
    const add = this.m.nodes.find((m) => m.opType === "Add" && m.inputs.includes(out));
    if (add && this.consumers.get(out) === 1 && !this.m.outputs.some((o) => o.name === out)) {
      const other = this.vals.get(add.inputs[0] === out ? add.inputs[1] : add.inputs[0]);
      if (other?.kind === "const" && F.size(other.t.dims) === units && other.t.dims.every((d, i) => d === 1 || i === other.t.dims.length - 1)) {
        this.absorbed.add(add.index);
        const merged: OnnxNode = { ...n, outputs: add.outputs };
        return this.dense(merged, x, w, other.t.data);
      }
    }
    this.dense(n, x, w, undefined);
  }

  private binary(n: OnnxNode): void {
    const op = n.opType;
    const ins = this.allInputs(n);
    const acts = ins.filter((v): v is Extract<Val, { kind: "act" }> => v.kind === "act");
    if (acts.length === ins.length) {
      if (op === "Add" || op === "Sum") {
        return this.emit(n, acts.map((a) => a.name).join(" + "), broadcastShape(acts.map((a) => a.shape)));
      }
      if (op === "Mul" && acts.length === 2) {
        return this.emit(n, `${acts[0].name} * ${acts[1].name}`, broadcastShape([acts[0].shape, acts[1].shape]));
      }
      // a - b and a / b of two values (the language lowers them to a + neg(b), a * reciprocal(b)).
      if ((op === "Sub" || op === "Div") && acts.length === 2) {
        const [a, b] = acts;
        return this.emit(n, `${a.name} ${op === "Sub" ? "-" : "/"} ${b.name}`, broadcastShape([a.shape, b.shape]));
      }
      return this.refuse(n, `${op} of more than two computed values`);
    }
    if (ins.length !== 2) this.refuse(n, `${op} of computed values and constants together`);
    // One constant: a per-channel scale and shift, written as a 1x1 depthwise convolution.
    const xFirst = ins[0].kind === "act";
    const x = acts[0];
    const c = (xFirst ? ins[1] : ins[0]) as Extract<Val, { kind: "const" }>;
    const rank = x.shape.length + 1;
    if (x.shape.length < 2) this.refuse(n, `${op} of a flattened value and a constant`);
    if (c.t.dims.length > rank) this.refuse(n, "a constant with more axes than the value");
    const dims = [...new Array<number>(rank - c.t.dims.length).fill(1), ...c.t.dims];
    const C = x.shape[0];
    // A constant that varies over space (or a constant divided by a value): a named constant.
    if (dims.some((d, i) => i !== 1 && d !== 1) || (op === "Div" && !xFirst)) {
      const k = this.namedConst(n, xFirst ? 1 : 0, c.t, x.shape);
      const sign = op === "Add" || op === "Sum" ? "+" : op === "Sub" ? "-" : op === "Mul" ? "*" : "/";
      return this.emit(n, xFirst ? `${x.name} ${sign} ${k}` : `${k} ${sign} ${x.name}`, x.shape);
    }
    if (typeof C !== "number" || (dims[1] !== 1 && dims[1] !== C)) this.refuse(n, "the constant does not match the channels");
    const per = (k: number): number => c.t.data[dims[1] === 1 ? 0 : k];
    const w = new Float64Array(C).fill(1);
    let b: Float64Array | undefined;
    for (let k = 0; k < C; k++) {
      const v = per(k);
      if (op === "Add" || op === "Sum") (b ??= new Float64Array(C))[k] = v;
      else if (op === "Sub") {
        (b ??= new Float64Array(C))[k] = xFirst ? -v : v;
        if (!xFirst) w[k] = -1;
      } else if (op === "Mul") w[k] = v;
      else if (op === "Div") w[k] = Math.fround(1 / v);
    }
    const label = this.label(n);
    this.weight(label, "weight", [C, 1, ...x.shape.slice(1).map(() => 1)], w);
    if (b) this.weight(label, "bias", [C], b);
    this.emit(n, `${x.name} |> ${label}: depthwise(1${b ? "" : ", bias: none"})`, x.shape, `${label}_y`);
  }
}

/** The nodes in an order where every input is defined first; undefined values and cycles refused. */
export function order(m: OnnxModel): OnnxNode[] {
  const producer = new Map<string, OnnxNode>();
  for (const n of m.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const known = new Set<string>([...m.inputs.map((i) => i.name), ...m.initializers.keys(), ""]);
  for (const n of m.nodes) {
    for (const i of n.inputs) {
      if (!known.has(i) && !producer.has(i)) throw new ImportError(`node ${quoted(n.name)} (${n.opType}) reads ${quoted(i)}, which no node, input or initializer defines`);
    }
  }
  const done = new Set<number>();
  const out: OnnxNode[] = [];
  const state = new Map<number, "visiting" | "done">();
  const visit = (n: OnnxNode): void => {
    const s = state.get(n.index);
    if (s === "done") return;
    if (s === "visiting") throw new ImportError(`the graph has a cycle through node ${quoted(n.name)} (${n.opType})`);
    state.set(n.index, "visiting");
    for (const i of n.inputs) {
      const p = known.has(i) ? undefined : producer.get(i);
      if (p) visit(p);
    }
    state.set(n.index, "done");
    done.add(n.index);
    out.push(n);
  };
  for (const n of m.nodes) visit(n);
  return out;
}

/** Op types with no mapping: one message per type, naming its opset, first node and count. */
function unsupported(m: OnnxModel): string[] {
  const seen = new Map<string, { first: OnnxNode; count: number }>();
  for (const n of m.nodes) {
    const domainOk = n.domain === "" || n.domain === "ai.onnx";
    const key = domainOk ? n.opType : `${n.domain}.${n.opType}`;
    if (domainOk && (COMPUTE_OPS.has(n.opType) || FOLD_OPS.has(n.opType))) continue;
    const s = seen.get(key);
    if (s) s.count++;
    else seen.set(key, { first: n, count: 1 });
  }
  return [...seen].map(
    ([op, { first, count }]) =>
      `unsupported ONNX op ${op} (opset ${m.opset}): used by ${count} node${count === 1 ? "" : "s"}, first ${quoted(first.name)}; cnnc cannot import this model`,
  );
}

export function convert(m: OnnxModel): ImportResult {
  if (m.opset < 7 || m.opset > 21) return { ok: false, errors: [`the model uses ONNX opset ${m.opset}; cnnc imports opsets 7 to 21`] };
  const missing = unsupported(m);
  if (missing.length) return { ok: false, errors: missing };
  const c = new Converter(m);
  try {
    const source = c.run();
    return { ok: true, value: { source, tensors: c.tensors } };
  } catch (e) {
    if (e instanceof ImportError || e instanceof FoldError) return { ok: false, errors: [e.message] };
    throw e;
  }
}
