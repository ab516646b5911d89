// The reference pooling against onnxruntime on seeded random configurations.
// - MaxPool, AveragePool (count_include_pad 0/1), LpPool (p = 1, 2, 3): window, stride,
//   dilation, padding (valid, same, explicit and asymmetric, at most half the effective
//   window as our shape rule and PyTorch require), ceil_mode. ORT 1.23 at opset 19 follows
//   PyTorch's ceil-mode rules (a window that would start in the trailing padding is dropped;
//   with count_include_pad the divisor is the window clipped to input + padding, so the
//   overhang is not counted).
//   ORT disagrees in one place: its 2-D and 3-D AveragePool with count_include_pad=1 clamps
//   the window end with the wrong entry of `pads` (2-D: w_begin for the height's end; 3-D:
//   w_begin for height and h_end for width), microsoft/onnxruntime#26708, fixed by #27375
//   after 1.23. Those cases (asymmetric padding where the entries differ) get uniform
//   padding instead; 1-D cases and the hand tests keep asymmetric count_pad padding.
// - gauss has no ONNX op: it is checked as Conv(x, w) / Conv(mask, w) with w the Gaussian
//   weights per channel (depthwise) and mask the ones of the input: the denominator is then
//   exactly the sum of the weights of the real elements. The ceil overhang is emulated by
//   extra trailing padding (it holds no real element either).
// - adaptive pooling: out 1 is GlobalMaxPool / GlobalAveragePool; when n divides m it is an
//   ordinary pool with window and stride m/n.

import { describe, it } from "vitest";
import type { PadSpec, PoolOp } from "../../compiler/ir/ops.js";
import { effectiveKernel } from "../../compiler/ir/ops.js";
import { adaptivePool, pool } from "../../compiler/reference/index.js";
import { indices } from "../../compiler/reference/tensor.js";
import { attr, type GraphSpec } from "../onnx/model.js";
import { expectClose, onnxPads, poolOp, randomTensor, rng, type Rng, runOnnx } from "./helpers.js";

const MAX_SIZE = [0, 12, 10, 6];

function randomPoolOp(r: Rng, d: number, mode: PoolOp["mode"]): PoolOp {
  const window = Array.from({ length: d }, () => r.int(1, 3));
  const dilation = window.map(() => r.int(1, 2));
  const stride = window.map(() => r.int(1, 3));
  const half = window.map((k, i) => Math.floor(effectiveKernel(k, dilation[i]) / 2));
  let pad: PadSpec;
  switch (r.int(0, 2)) {
    case 0:
      pad = { kind: "valid" };
      break;
    case 1:
      pad = { kind: "same" };
      break;
    default:
      pad = { kind: "explicit", before: half.map((h) => r.int(0, h)), after: half.map((h) => r.int(0, h)) };
  }
  return poolOp({
    mode,
    window,
    stride,
    dilation,
    pad,
    ceil: r.bool(),
    countPad: r.bool(),
    p: r.pick([1, 2, 3]),
    sigma: r.pick([0.5, 1, 2]),
  });
}

function randomInput(r: Rng, op: PoolOp) {
  const d = op.window.length;
  const spatial = op.window.map((k, i) => r.int(effectiveKernel(k, op.dilation[i]), MAX_SIZE[d]));
  return randomTensor(r, [r.int(1, 4), ...spatial]);
}

const describeOp = (op: PoolOp, pads: readonly number[]): string =>
  `k${op.window.join("x")} s${op.stride.join("x")} r${op.dilation.join("x")} pad ${op.pad.kind}[${pads}]` +
  `${op.ceil ? " ceil" : ""}${op.mode === "avg" && op.countPad ? " countPad" : ""}${op.mode === "lp" ? ` p${op.p}` : ""}` +
  `${op.mode === "gauss" ? ` sigma${op.sigma}` : ""}`;

/** Whether ORT 1.23's AveragePool(count_include_pad=1) reads a wrong pad entry for these pads (see top). */
function hitsOrtPadIndexBug(pads: readonly number[]): boolean {
  const d = pads.length / 2;
  if (d === 2) return pads[1] !== pads[2]; // height end clamped with w_begin instead of h_end
  if (d === 3) return pads[1] !== pads[3] || pads[3] !== pads[4]; // h: w_begin for h_end; w: h_end for w_end
  return false;
}

const ONNX_POOL = { max: "MaxPool", avg: "AveragePool", lp: "LpPool" } as const;
const CASES = { max: 40, avg: 45, lp: 30 };

for (const mode of ["max", "avg", "lp"] as const) {
  describe(`${ONNX_POOL[mode]}: reference equals onnxruntime`, () => {
    for (let n = 0; n < CASES[mode]; n++) {
      const seed = 5000 + 1000 * ["max", "avg", "lp"].indexOf(mode) + n;
      const r = rng(seed);
      const d = r.int(1, 3);
      let op = randomPoolOp(r, d, mode);
      const x = randomInput(r, op);
      const spatial = x.shape.slice(1);
      let geo = onnxPads(spatial, op.window, op.stride, op.dilation, op.pad, op.ceil);
      if (mode === "avg" && op.countPad && hitsOrtPadIndexBug(geo.pads)) {
        const p = r.int(0, Math.min(...op.window.map((k, i) => Math.floor(effectiveKernel(k, op.dilation[i]) / 2))));
        op = { ...op, pad: { kind: "explicit", before: op.window.map(() => p), after: op.window.map(() => p) } };
        geo = onnxPads(spatial, op.window, op.stride, op.dilation, op.pad, op.ceil);
      }
      const name = `#${seed} x[${x.shape}] ${describeOp(op, geo.pads)}`;
      it(name, async () => {
        const want = pool(x, op);
        const attrs = [
          attr.ints("kernel_shape", op.window),
          attr.ints("strides", op.stride),
          attr.ints("dilations", op.dilation),
          attr.ints("pads", geo.pads),
          attr.int("ceil_mode", op.ceil ? 1 : 0),
        ];
        if (mode === "avg") attrs.push(attr.int("count_include_pad", op.countPad ? 1 : 0));
        if (mode === "lp") attrs.push(attr.int("p", op.p));
        const graph: GraphSpec = {
          nodes: [{ op: ONNX_POOL[mode], inputs: ["x"], outputs: ["y"], attrs }],
          inputs: [{ name: "x", shape: [1, ...x.shape] }],
          outputs: [{ name: "y" }],
        };
        expectClose(await runOnnx(graph, { x: { shape: [1, ...x.shape], data: x.data } }), want, name);
      });
    }
  });
}

describe("gauss pooling: reference equals Conv(x, w) / Conv(mask, w) in onnxruntime", () => {
  for (let n = 0; n < 25; n++) {
    const seed = 9000 + n;
    const r = rng(seed);
    const d = r.int(1, 3);
    const op = randomPoolOp(r, d, "gauss");
    const x = randomInput(r, op);
    const [C, ...spatial] = x.shape;
    const geo = onnxPads(spatial, op.window, op.stride, op.dilation, op.pad, op.ceil);
    const name = `#${seed} x[${x.shape}] ${describeOp(op, geo.pads)}`;
    it(name, async () => {
      const want = pool(x, op);
      // Trailing padding that makes an ordinary (floor) convolution produce the ceil outputs.
      const after = geo.after.map((a, i) => Math.max(a, (geo.out[i] - 1) * op.stride[i] + effectiveKernel(op.window[i], op.dilation[i]) - spatial[i] - geo.before[i]));
      const weights: number[] = [];
      for (let c = 0; c < C; c++) {
        for (const k of indices(op.window)) {
          const d2 = k.reduce((s, ki, i) => s + ((ki - (op.window[i] - 1) / 2) * op.dilation[i]) ** 2, 0);
          weights.push(Math.exp(-d2 / (2 * op.sigma * op.sigma)));
        }
      }
      const convAttrs = [
        attr.ints("kernel_shape", op.window),
        attr.ints("strides", op.stride),
        attr.ints("dilations", op.dilation),
        attr.ints("pads", [...geo.before, ...after]),
        attr.int("group", C),
      ];
      const shape = [1, ...x.shape];
      const graph: GraphSpec = {
        nodes: [
          { op: "Conv", inputs: ["x", "w"], outputs: ["num"], attrs: convAttrs },
          { op: "Conv", inputs: ["ones", "w"], outputs: ["den"], attrs: convAttrs },
          { op: "Div", inputs: ["num", "den"], outputs: ["y"] },
        ],
        inputs: [{ name: "x", shape }],
        outputs: [{ name: "y" }],
        initializers: [
          { name: "w", shape: [C, 1, ...op.window], data: weights },
          { name: "ones", shape, data: new Float32Array(x.data.length).fill(1) },
        ],
      };
      expectClose(await runOnnx(graph, { x: { shape, data: x.data } }), want, name);
    });
  }
});

describe("adaptive pooling: reference equals onnxruntime's global or evenly divided pooling", () => {
  for (let n = 0; n < 20; n++) {
    const seed = 9500 + n;
    const r = rng(seed);
    const d = r.int(1, 3);
    const mode = r.pick(["max", "avg"] as const);
    const global = r.bool();
    const out = Array.from({ length: d }, () => (global ? 1 : r.int(1, 3)));
    const factor = out.map(() => r.int(1, d === 3 ? 2 : 4));
    const x = randomTensor(r, [r.int(1, 4), ...out.map((o, i) => (global ? r.int(1, MAX_SIZE[d]) : o * factor[i]))]);
    const name = `#${seed} ${mode} x[${x.shape}] out ${out.join("x")}`;
    it(name, async () => {
      const want = adaptivePool(x, { kind: "adaptive_pool", mode, out });
      const window = x.shape.slice(1).map((m, i) => m / out[i]);
      const node = global
        ? { op: mode === "max" ? "GlobalMaxPool" : "GlobalAveragePool", inputs: ["x"], outputs: ["y"] }
        : {
            op: mode === "max" ? "MaxPool" : "AveragePool",
            inputs: ["x"],
            outputs: ["y"],
            attrs: [attr.ints("kernel_shape", window), attr.ints("strides", window)],
          };
      const graph: GraphSpec = { nodes: [node], inputs: [{ name: "x", shape: [1, ...x.shape] }], outputs: [{ name: "y" }] };
      expectClose(await runOnnx(graph, { x: { shape: [1, ...x.shape], data: x.data } }), want, name);
    });
  }
});
