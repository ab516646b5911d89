// Every gradient op against central finite differences of the forward reference, in float64,
// on seeded random layers: 1-D, 2-D and 3-D, strides, every padding kind, dilation, groups,
// flipped kernels, every bias kind; the ops that move elements (slice, pad in every mode,
// resize nearest and linear under every coordinate mapping) and log_softmax; 24 cases per op. Each case is a one-layer graph (two
// for ops with several operands) under an mse loss against a random target, differentiated
// by autodiff, so the rule that wires each op and its reference definition are checked together.

import { describe, it } from "vitest";
import type { ActivationFn, PadSpec, PoolMode } from "../../compiler/ir/ops.js";
import { windowGeometry } from "../../compiler/ir/ops.js";
import { expect } from "vitest";
import { Builder, checkGradients, classes, type Rng, randomWindow, rng } from "./helpers.js";

const CASES = 24;


const dims = (i: number): number => 1 + (i % 3);

function each(name: string, body: (r: Rng, i: number) => void): void {
  it(`${name}: ${CASES} seeded cases`, () => {
    for (let i = 0; i < CASES; i++) body(rng(1000 * name.length + i), i);
  });
}

describe("gradients against finite differences", () => {
  each("conv", (r, i) => {
    const w = randomWindow(r, dims(i));
    const groups = r.pick([1, 2]);
    const C = groups * r.int(1, 2);
    const O = groups * r.int(1, 2);
    const bias = r.pick(["channel", "location", "none"] as const);
    const b = new Builder();
    const x = b.input([C, ...w.spatial]);
    const op = { kind: "conv" as const, filters: O, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, groups, flip: r.bool(), bias };
    const ws = { weight: () => [O, C / groups, ...w.kernel], ...(bias === "none" ? {} : { bias: (_: number[], y: number[]) => (bias === "channel" ? [O] : y) }) };
    checkGradients(b.graph(b.node(op, [x], ws)), r);
  });

  each("deconv", (r, i) => {
    const w = randomWindow(r, dims(i));
    const groups = r.pick([1, 2]);
    const Cin = groups * r.int(1, 2);
    const O = groups * r.int(1, 2);
    const geo = windowGeometry(w.spatial, w.kernel, w.stride, w.dilation, w.pad);
    const b = new Builder();
    const x = b.input([Cin, ...(geo.out as number[])]);
    const bias = r.pick(["channel", "none"] as const);
    const op = { kind: "deconv" as const, filters: O, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, groups, out: w.spatial, bias };
    checkGradients(b.graph(b.node(op, [x], { weight: () => [Cin, O / groups, ...w.kernel], ...(bias === "none" ? {} : { bias: () => [O] }) })), r);
  });

  each("local", (r, i) => {
    const w = randomWindow(r, dims(i));
    const C = r.int(1, 2);
    const O = r.int(1, 2);
    const bias = r.pick(["location", "none"] as const);
    const b = new Builder();
    const x = b.input([C, ...w.spatial]);
    const op = { kind: "local" as const, filters: O, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, bias };
    checkGradients(b.graph(b.node(op, [x], { weight: (_, y) => [O, ...y.slice(1), C, ...w.kernel], ...(bias === "none" ? {} : { bias: (_: number[], y: number[]) => y }) })), r);
  });

  each("tiled", (r, i) => {
    const w = randomWindow(r, dims(i));
    const C = r.int(1, 2);
    const O = r.int(1, 2);
    const tiles = w.kernel.map(() => r.int(1, 2));
    const bias = r.pick(["tiled", "none"] as const);
    const b = new Builder();
    const x = b.input([C, ...w.spatial]);
    const op = { kind: "tiled" as const, filters: O, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, tiles, bias };
    checkGradients(b.graph(b.node(op, [x], { weight: () => [O, C, ...w.kernel, ...tiles], ...(bias === "none" ? {} : { bias: () => [O, ...tiles] }) })), r);
  });

  for (const mode of ["max", "avg", "lp", "gauss"] as PoolMode[]) {
    each(`${mode} pool`, (r, i) => {
      const w = randomWindow(r, dims(i));
      // Padding may not exceed half the window (the SPEC's rule for pools).
      const half = (): number[] => w.kernel.map((k) => r.int(0, Math.floor(k / 2)));
      const pad: PadSpec = r.bool() ? { kind: "valid" } : { kind: "explicit", before: half(), after: half() };
      const b = new Builder();
      const x = b.input([r.int(1, 2), ...w.spatial]);
      const op = { kind: "pool" as const, mode, window: w.kernel, stride: w.stride, dilation: w.dilation, pad, ceil: r.bool(), countPad: r.bool(), p: r.pick([2, 3]), sigma: 0.5 + r.next() };
      // |x|^p is smooth away from 0 only: keep lp's inputs positive.
      checkGradients(b.graph(b.node(op, [x])), r, mode === "lp" ? { inputRange: [0.2, 1.5] } : {});
    });
  }

  each("adaptive pool", (r, i) => {
    const d = dims(i);
    const spatial = Array.from({ length: d }, () => r.int(1, d === 3 ? 4 : 7));
    const b = new Builder();
    const x = b.input([r.int(1, 2), ...spatial]);
    const op = { kind: "adaptive_pool" as const, mode: r.pick(["max", "avg"] as const), out: spatial.map((m) => r.int(1, m)) };
    checkGradients(b.graph(b.node(op, [x])), r);
  });

  each("maxout", (r, i) => {
    const k = r.int(1, 3);
    const b = new Builder();
    const x = b.input([k * r.int(1, 2), ...Array.from({ length: dims(i) }, () => r.int(1, 3))]);
    checkGradients(b.graph(b.node({ kind: "maxout", k }, [x])), r);
  });

  each("dense", (r, i) => {
    const b = new Builder();
    const x = b.input([r.int(1, 3), ...Array.from({ length: dims(i) - 1 }, () => r.int(1, 3))]);
    const units = r.int(1, 5);
    const bias = r.pick(["channel", "none"] as const);
    checkGradients(b.graph(b.node({ kind: "dense", units, bias }, [x], { weight: (s) => [units, s.reduce((p, q) => p * q, 1)], ...(bias === "none" ? {} : { bias: () => [units] }) })), r);
  });

  const fns: ActivationFn[] = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"];
  each("activation", (r, i) => {
    const b = new Builder();
    const x = b.input([r.int(1, 3), ...Array.from({ length: dims(i) }, () => r.int(1, 4))]);
    checkGradients(b.graph(b.node({ kind: "activation", fn: fns[i % fns.length], alpha: 0.1 + r.next() * 0.2 }, [x])), r);
  });

  // The activations ONNX import brought, on positive inputs (log, sqrt, reciprocal, pow need them);
  // alpha and beta put clip's and hardsigmoid's kinks inside the range.
  const onnxFns: { fn: ActivationFn; alpha: number; beta?: number }[] = [
    { fn: "clip", alpha: 0.8, beta: 1.6 },
    { fn: "hardsigmoid", alpha: 0.5, beta: -0.5 },
    { fn: "hardswish", alpha: 0 },
    { fn: "elu", alpha: 1.3 },
    { fn: "selu", alpha: 1.67, beta: 1.05 },
    { fn: "exp", alpha: 0 },
    { fn: "log", alpha: 0 },
    { fn: "abs", alpha: 0 },
    { fn: "neg", alpha: 0 },
    { fn: "sqrt", alpha: 0 },
    { fn: "reciprocal", alpha: 0 },
    { fn: "pow", alpha: 2.5 },
  ];
  each("activation (ONNX's)", (r, i) => {
    const b = new Builder();
    const x = b.input([r.int(1, 3), ...Array.from({ length: dims(i) }, () => r.int(1, 4))]);
    const { fn, alpha, beta } = onnxFns[i % onnxFns.length];
    checkGradients(b.graph(b.node({ kind: "activation", fn, alpha, ...(beta === undefined ? {} : { beta }) }, [x])), r, { inputRange: [0.25, 2] });
  });

  each("softmax", (r, i) => {
    const b = new Builder();
    const x = b.input([r.int(2, 4), ...Array.from({ length: dims(i) - 1 }, () => r.int(1, 3))]);
    checkGradients(b.graph(b.node({ kind: "softmax" }, [x])), r, { inputRange: [-3, 3] });
  });

  each("batchnorm (fixed statistics)", (r, i) => {
    const b = new Builder();
    const x = b.input([r.int(1, 3), ...Array.from({ length: dims(i) }, () => r.int(1, 3))]);
    const c = (s: number[]): number[] => [s[0]];
    const y = b.node({ kind: "batchnorm", eps: 1e-3 }, [x], { weight: c, bias: c, running_mean: c, running_var: c });
    checkGradients(b.graph(y), r, { weightRange: { running_var: [0.5, 2] } });
  });

  each("flatten and reshape", (r, i) => {
    const b = new Builder();
    const C = r.int(1, 3);
    const spatial = Array.from({ length: dims(i) }, () => r.int(1, 3));
    const x = b.input([C, ...spatial]);
    // A conv before, so that the reshaped gradient must reach a weight in the right order.
    const h = b.node({ kind: "conv", filters: 2, kernel: spatial.map(() => 1), stride: spatial.map(() => 1), dilation: spatial.map(() => 1), pad: { kind: "valid" }, groups: 1, flip: false, bias: "none" }, [x], { weight: () => [2, C, ...spatial.map(() => 1)] });
    const n = 2 * spatial.reduce((p, q) => p * q, 1);
    const y = i % 2 === 0 ? b.node({ kind: "flatten" }, [h]) : b.node({ kind: "reshape", shape: [n] }, [h]);
    checkGradients(b.graph(y), r);
  });

  each("slice (any axis, step)", (r, i) => {
    const b = new Builder();
    const shape = [r.int(1, 3), ...Array.from({ length: dims(i) }, () => r.int(2, 5))];
    const axis = r.int(0, shape.length - 1);
    const start = r.int(0, shape[axis] - 1);
    const end = r.int(start + 1, shape[axis]);
    const x = b.input(shape);
    checkGradients(b.graph(b.node({ kind: "slice", axis, start, end, step: r.int(1, 2) }, [x])), r);
  });

  each("pad (constant, reflect, edge)", (r, i) => {
    const b = new Builder();
    const spatial = Array.from({ length: dims(i) }, () => r.int(2, 4));
    const mode = (["constant", "reflect", "edge"] as const)[i % 3];
    // Reflect pads stay below the axis' size.
    const amount = (m: number) => r.int(0, mode === "reflect" ? m - 1 : 3);
    const x = b.input([r.int(1, 2), ...spatial]);
    const op = { kind: "pad" as const, mode, before: spatial.map(amount), after: spatial.map(amount), value: r.pick([0, -1.5]) };
    checkGradients(b.graph(b.node(op, [x])), r);
  });

  each("resize (nearest and linear, every coordinate mapping)", (r, i) => {
    const b = new Builder();
    const spatial = Array.from({ length: dims(i) }, () => r.int(1, 4));
    const out = spatial.map((m) => r.int(1, 2 * m + 1));
    const mode = i % 2 === 0 ? ("linear" as const) : ("nearest" as const);
    const coord = (["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"] as const)[(i >> 1) % 4];
    const x = b.input([r.int(1, 2), ...spatial]);
    const op = { kind: "resize" as const, mode, coord, round: "round_prefer_floor" as const, out, scale: out.map((o, a) => o / spatial[a]) };
    checkGradients(b.graph(b.node(op, [x])), r);
  });

  each("log_softmax", (r, i) => {
    const b = new Builder();
    const x = b.input([r.int(2, 4), ...Array.from({ length: dims(i) - 1 }, () => r.int(1, 3))]);
    checkGradients(b.graph(b.node({ kind: "log_softmax" }, [x])), r, { inputRange: [-3, 3] });
  });

  each("add and mul (broadcasting)", (r, i) => {
    const b = new Builder();
    const C = r.int(1, 3);
    const spatial = Array.from({ length: dims(i) }, () => r.int(1, 3));
    const x = b.input([C, ...spatial]);
    const other = b.input(r.pick([[C, ...spatial], [C], [1]]));
    const kind = i % 2 === 0 ? ("add" as const) : ("mul" as const);
    checkGradients(b.graph(b.node({ kind }, r.bool() ? [x, other] : [other, x])), r);
  });

  each("concat, and a value read twice", (r, i) => {
    const b = new Builder();
    const spatial = Array.from({ length: dims(i) }, () => r.int(1, 3));
    const x = b.input([r.int(1, 2), ...spatial]);
    const z = b.input([r.int(1, 3), ...spatial]);
    // x appears twice in the concat: its gradient is the sum of two slices.
    checkGradients(b.graph(b.node({ kind: "concat" }, [x, z, x])), r);
  });

  each("losses: softmax + cross-entropy fused, cross-entropy on probabilities, mse, l1 (classifiers and per pixel)", (r, i) => {
    const b = new Builder();
    const C = r.int(2, 5);
    const x = b.input([C, ...Array.from({ length: i % 3 }, () => r.int(1, 3))]);
    const p = b.node({ kind: "softmax" }, [x]);
    const which = i % 4;
    const y = which === 1 ? b.node({ kind: "activation", fn: "identity", alpha: 0 }, [p]) : p;
    const loss = which < 2 ? ("cross_entropy" as const) : which === 2 ? ("mse" as const) : ("l1" as const);
    const tg = checkGradients(b.graph(y), r, { loss, inputRange: [-3, 3], ...(which < 2 ? { target: classes(C) } : {}) });
    expect(tg.lossKind).toBe(["softmax_cross_entropy", "cross_entropy", "mse", "l1"][which]);
  });
});

describe("eq. 9.13: the input gradient is the transposed convolution", () => {
  it("conv_grad_input equals the deconv op with the forward kernel (24 seeded geometries)", async () => {
    const { convGradInput } = await import("../../compiler/reference/grad/conv-grad.js");
    const { deconv } = await import("../../compiler/reference/deconv.js");
    const { randomTensor } = await import("./helpers.js");
    for (let i = 0; i < CASES; i++) {
      const r = rng(7000 + i);
      const w = randomWindow(r, dims(i));
      const groups = r.pick([1, 2]);
      const C = groups * r.int(1, 2);
      const O = groups * r.int(1, 2);
      const conv = { kind: "conv" as const, filters: O, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, groups, flip: false, bias: "none" as const };
      const out = windowGeometry(w.spatial, w.kernel, w.stride, w.dilation, w.pad).out as number[];
      const K = randomTensor(r, [O, C / groups, ...w.kernel]);
      const dy = randomTensor(r, [O, ...out]);
      const a = convGradInput(dy, { kind: "conv_grad_input", conv, inShape: [C, ...w.spatial] }, K);
      const b = deconv(dy, { kind: "deconv", filters: C, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, groups, out: w.spatial, bias: "none" }, K, undefined);
      expect(a.shape).toEqual(b.shape);
      a.data.forEach((v, k) => expect(v).toBeCloseTo(b.data[k], 12));
    }
  });
});
