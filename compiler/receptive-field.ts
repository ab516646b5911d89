// Receptive fields (figure 9.4 of the chapter): for every value of a graph, which input pixels
// one of its elements can depend on, per spatial axis of the network's input. The classic
// recurrence, one op at a time from the inputs: a window of effective size k moved by s on a
// value whose neighbouring elements are `jump` input pixels apart grows the field by
// (k - 1) * jump and multiplies the jump by s; padding moves the field's start back by
// pad * jump. Element j of a value sees input pixels [start + j * jump, start + j * jump + size).
//
// A transposed convolution divides the jump by its stride, so jumps and starts are fractions;
// its fields are upper bounds (not every output sees as many inputs), flagged `exact: false`.
// Ops that mix whole axes (dense, flatten, reshape, global pooling) see the `whole` input.
// Pure (no Node imports): the playground and the language server run it too.

import * as D from "./ir/dim.js";
import type { Dim } from "./ir/dim.js";
import type { FusedOp, Graph, Node } from "./ir/graph.js";
import { assertNever, effectiveKernel, type Op, padAmounts, type PadSpec, windowGeometry } from "./ir/ops.js";

/** A non-negative rational num/den in lowest terms (den >= 1). */
export interface Fraction {
  readonly num: number;
  readonly den: number;
}

/** One spatial axis of a receptive field, in pixels of the network's input. */
export interface AxisField {
  /**
   * How many input pixels one element can depend on (an upper bound when the field is not
   * exact); when `whole`, the input axis' size, which may be symbolic (`H`).
   */
  readonly size: Dim;
  /** Input pixels between neighbouring elements of the value (1/2 after a stride-2 deconv). */
  readonly jump: Fraction;
  /**
   * The input coordinate where element 0's field starts (negative inside padding); undefined
   * when it depends on the input's size (`same` padding with a stride over a symbolic size).
   */
  readonly start: Fraction | undefined;
  /** Every element depends on the whole input axis. */
  readonly whole: boolean;
}

export interface ReceptiveField {
  /** One per spatial axis of the network input it derives from (none for a 0-D input). */
  readonly axes: readonly AxisField[];
  /** False after a deconv or an uneven adaptive pool: `size` is then an upper bound. */
  readonly exact: boolean;
}

const frac = (num: number, den = 1): Fraction => {
  const g = gcd(Math.abs(num), den);
  return { num: num / g, den: den / g };
};
function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a || 1;
}
const fmul = (a: Fraction, b: Fraction) => frac(a.num * b.num, a.den * b.den);
const fadd = (a: Fraction, b: Fraction) => frac(a.num * b.den + b.num * a.den, a.den * b.den);
const fcmp = (a: Fraction, b: Fraction) => a.num * b.den - b.num * a.den;
const fceil = (a: Fraction) => Math.ceil(a.num / a.den);

/** `3` or `1/2`. */
export function printFraction(f: Fraction): string {
  return f.den === 1 ? String(f.num) : `${f.num}/${f.den}`;
}

/** `5x5 (jump 2x2)`, `whole`, `<= 7x7 (jump 1/2x1/2)`: a field for explain and hovers. */
export function printField(f: ReceptiveField): string {
  if (f.axes.length === 0) return "whole";
  if (f.axes.every((a) => a.whole)) return "whole";
  const size = f.axes.map((a) => (a.whole ? `${D.printDim(a.size)}(all)` : D.printDim(a.size))).join("x");
  const jump = f.axes.map((a) => printFraction(a.jump)).join("x");
  return `${f.exact ? "" : "<= "}${size} (jump ${jump})`;
}

/**
 * The receptive field of every value of `g`, indexed by value id (lowered or optimised graphs:
 * fused epilogues are followed). A value computed from several inputs gets the union.
 */
export function receptiveFields(g: Graph): ReceptiveField[] {
  const fields: ReceptiveField[] = new Array<ReceptiveField>(g.values.length);
  // The input's own axes: the whole-input field of a flat value has one axis per input axis.
  const inputAxes = (g.inputs.length ? g.values[g.inputs[0].value].shape.slice(1) : []);
  for (const io of g.inputs) {
    const shape = g.values[io.value].shape;
    fields[io.value] = {
      axes: shape.slice(1).map(() => ({ size: 1, jump: frac(1), start: frac(0), whole: false })),
      exact: true,
    };
  }
  const whole = (): ReceptiveField => ({
    axes: inputAxes.map((m) => ({ size: m, jump: frac(0), start: frac(0), whole: true })),
    exact: true,
  });
  const get = (v: number): ReceptiveField => fields[v] ?? whole();
  for (const n of g.nodes) {
    let f = nodeField(g, n, n.op, n.inputs.map(get), whole);
    for (const e of n.epilogue ?? []) f = fusedField(g, n, e, f, get);
    fields[n.output] = f;
  }
  for (let v = 0; v < fields.length; v++) fields[v] ??= whole();
  return fields;
}

/** The field of a node's main op (before its epilogue) from its inputs' fields. */
function nodeField(g: Graph, n: Node, op: Op, ins: readonly ReceptiveField[], whole: () => ReceptiveField): ReceptiveField {
  const x = ins[0];
  const spatial = g.values[n.inputs[0]].shape.slice(1);
  switch (op.kind) {
    case "conv":
    case "local":
    case "tiled":
      return windowField(x, spatial, op.kernel, op.stride, op.dilation, op.pad);
    case "pool":
      return windowField(x, spatial, op.window, op.stride, op.dilation, op.pad);
    case "deconv":
      return deconvField(x, op.out, op.kernel, op.stride, op.dilation, op.pad);
    case "adaptive_pool":
      return adaptiveField(x, spatial, op.out, whole);
    case "slice": {
      if (op.axis === 0) return x;
      const i = op.axis - 1;
      return mapAxis(x, i, (a) => (a.whole ? a : {
        size: a.size,
        jump: fmul(a.jump, frac(op.step)),
        start: a.start && fadd(a.start, fmul(a.jump, frac(op.start))),
        whole: false,
      }));
    }
    case "batchnorm":
    case "maxout":
    case "activation":
    case "softmax":
    case "log_softmax":
      return x;
    // Padding, resampling, axis permutation and matrix products: every output may depend on
    // the whole input as far as this analysis can say simply.
    case "pad":
    case "resize":
    case "transpose":
    case "matmul":
      return whole();
    case "add":
    case "mul":
    case "concat":
      return ins.reduce(union);
    case "dense":
    case "flatten":
    case "reshape":
      return whole();
    default:
      return assertNever(op);
  }
}

function fusedField(g: Graph, n: Node, e: FusedOp, f: ReceptiveField, get: (v: number) => ReceptiveField): ReceptiveField {
  switch (e.kind) {
    case "activation":
      return f;
    case "add":
      return union(f, get(e.value));
    case "pool":
      return windowField(f, mainOutSpatial(g, n), e.op.window, e.op.stride, e.op.dilation, e.op.pad);
  }
}

/**
 * The spatial size a node's main op computes, before a fused pool shrinks it: what that pool
 * reads (only `same` padding with a stride needs it; its amount depends on the size).
 */
function mainOutSpatial(g: Graph, n: Node): readonly Dim[] {
  const spatial = g.values[n.inputs[0]].shape.slice(1);
  const op = n.op;
  switch (op.kind) {
    case "conv":
    case "local":
    case "tiled":
      return windowGeometry(spatial, op.kernel, op.stride, op.dilation, op.pad).out;
    case "deconv":
      return op.out;
    default:
      return spatial;
  }
}

function mapAxis(f: ReceptiveField, i: number, m: (a: AxisField) => AxisField): ReceptiveField {
  return { axes: f.axes.map((a, j) => (j === i ? m(a) : a)), exact: f.exact };
}

function windowField(
  x: ReceptiveField,
  spatial: readonly Dim[],
  kernel: readonly number[],
  stride: readonly number[],
  dilation: readonly number[],
  pad: PadSpec,
): ReceptiveField {
  return {
    axes: x.axes.map((a, i) => {
      if (a.whole || i >= kernel.length) return a;
      const keff = effectiveKernel(kernel[i], dilation[i]);
      const [before] = padAmounts(pad, i, spatial[i], keff, stride[i]);
      return {
        size: D.add(a.size, fceil(fmul(a.jump, frac(keff - 1)))),
        jump: fmul(a.jump, frac(stride[i])),
        start: a.start && typeof before === "number" ? fadd(a.start, fmul(a.jump, frac(-before))) : undefined,
        whole: false,
      };
    }),
    exact: x.exact,
  };
}

/**
 * Output o of a transposed convolution reads input i where o = i * s - pad + t * dilation, so
 * i lies in [(o + pad - keff + 1) / s, (o + pad) / s]: a field of (keff - 1) / s input jumps
 * beyond the input's own, at a jump of jump / s.
 */
function deconvField(
  x: ReceptiveField,
  out: readonly Dim[],
  kernel: readonly number[],
  stride: readonly number[],
  dilation: readonly number[],
  pad: PadSpec,
): ReceptiveField {
  return {
    axes: x.axes.map((a, i) => {
      if (a.whole || i >= kernel.length) return a;
      const keff = effectiveKernel(kernel[i], dilation[i]);
      // The padding of the forward conv this deconv transposes, resolved on that conv's input
      // size: this op's output size.
      const [before] = padAmounts(pad, i, out[i], keff, stride[i]);
      const s = stride[i];
      const extent = fmul(a.jump, frac(keff - 1, s));
      const size = typeof a.size === "number" ? fceil(fadd(frac(a.size), extent)) : D.add(a.size, fceil(extent));
      const shift = typeof before === "number" ? fmul(a.jump, frac(before - keff + 1, s)) : undefined;
      return {
        size,
        jump: fmul(a.jump, frac(1, s)),
        start: a.start && shift ? fadd(a.start, shift) : undefined,
        whole: false,
      };
    }),
    exact: false,
  };
}

/**
 * Region i of n over m spans [floor(i m / n), ceil((i + 1) m / n)): a window of at most
 * ceil(m / n) + 1 moved by m / n; exact when n divides m. One region, or a symbolic m: whole.
 */
function adaptiveField(x: ReceptiveField, spatial: readonly Dim[], out: readonly number[], whole: () => ReceptiveField): ReceptiveField {
  let exact = x.exact;
  const axes = x.axes.map((a, i) => {
    const m = spatial[i];
    const n = out[i];
    if (a.whole || n === undefined) return a;
    if (n === 1 || typeof m !== "number") return whole().axes[i] ?? a;
    let window = 0;
    for (let r = 0; r < n; r++) window = Math.max(window, Math.ceil(((r + 1) * m) / n) - Math.floor((r * m) / n));
    if (m % n !== 0) exact = false;
    const extent = fmul(a.jump, frac(window - 1));
    return {
      size: D.add(a.size, fceil(extent)),
      jump: fmul(a.jump, frac(m, n)),
      start: a.start,
      whole: false,
    };
  });
  return { axes, exact };
}

/** The smallest field that covers both (add, mul, concat): element j reads from both. */
function union(a: ReceptiveField, b: ReceptiveField): ReceptiveField {
  let exact = a.exact && b.exact;
  const n = Math.max(a.axes.length, b.axes.length);
  const axes: AxisField[] = [];
  for (let i = 0; i < n; i++) {
    const p = a.axes[i];
    const q = b.axes[i];
    if (!p || !q) {
      axes.push((p ?? q) as AxisField);
      continue;
    }
    if (p.whole) axes.push(p);
    else if (q.whole) axes.push(q);
    else if (fcmp(p.jump, q.jump) === 0 && p.start && q.start && typeof p.size === "number" && typeof q.size === "number") {
      const start = fcmp(p.start, q.start) <= 0 ? p.start : q.start;
      const endP = fadd(p.start, frac(p.size));
      const endQ = fadd(q.start, frac(q.size));
      const end = fcmp(endP, endQ) >= 0 ? endP : endQ;
      const span = fadd(end, frac(-start.num, start.den));
      axes.push({ size: fceil(span), jump: p.jump, start, whole: false });
    } else {
      // Different jumps (or unknown starts): the larger field, no longer exact.
      exact = false;
      axes.push({
        size: D.max(p.size, q.size),
        jump: fcmp(p.jump, q.jump) >= 0 ? p.jump : q.jump,
        start: undefined,
        whole: false,
      });
    }
  }
  return { axes, exact };
}
