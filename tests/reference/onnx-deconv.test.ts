// The reference transposed convolution against onnxruntime's ConvTranspose on seeded random
// configurations: 1-D/2-D/3-D, stride, dilation, groups, every padding form, bias or none,
// and every returned size a strided conv could have come from. ConvTranspose is exactly our
// deconv: W = the forward conv's kernel [C_in, O/g, k..], the same strides, dilations and
// group, pads = the forward conv's (before, after) resolved on ITS input size (op.out), and
// output_padding = out - ((in - 1) * s - before - after + (k - 1) * r + 1), which is in
// [0, s): the rows a strided forward conv never reads, which the transpose fills with bias.

import { describe, it } from "vitest";
import type { DeconvOp, PadSpec } from "../../compiler/ir/ops.js";
import { windowGeometry } from "../../compiler/ir/ops.js";
import { inferShape } from "../../compiler/ir/shapes.js";
import { deconv } from "../../compiler/reference/index.js";
import { attr, type GraphSpec } from "../onnx/model.js";
import { expectClose, randomTensor, rng, type Rng, runOnnx } from "./helpers.js";

const MAX_SIZE = [0, 16, 10, 6]; // returned spatial size per axis, by rank

function randomPad(r: Rng, d: number): PadSpec {
  switch (r.int(0, 3)) {
    case 0:
      return { kind: "valid" };
    case 1:
      return { kind: "same" };
    case 2:
      return { kind: "full" };
    default:
      return { kind: "explicit", before: Array.from({ length: d }, () => r.int(0, 2)), after: Array.from({ length: d }, () => r.int(0, 2)) };
  }
}

function randomCase(seed: number, d: number) {
  const r = rng(seed);
  for (;;) {
    const groups = r.pick([1, 1, 2, 3]);
    const Cin = groups * r.int(1, 2);
    const O = groups * r.int(1, 2);
    const kernel = Array.from({ length: d }, () => r.int(1, 3));
    const dilation = kernel.map(() => r.int(1, 2));
    const stride = kernel.map(() => r.int(1, 3));
    const out = kernel.map(() => r.int(1, MAX_SIZE[d]));
    const pad = randomPad(r, d);
    const bias = r.pick(["channel", "none"] as const);
    const op: DeconvOp = { kind: "deconv", filters: O, kernel, stride, dilation, pad, groups, out, bias };
    const geo = windowGeometry(out, kernel, stride, dilation, pad);
    const inSpatial = geo.out as number[];
    if (!inferShape(op, [[Cin, ...inSpatial]]).ok) continue;
    const before = geo.padBefore as number[];
    const after = geo.padAfter as number[];
    const outputPadding = out.map((m, i) => m - ((inSpatial[i] - 1) * stride[i] - before[i] - after[i] + (kernel[i] - 1) * dilation[i] + 1));
    const x = randomTensor(r, [Cin, ...inSpatial]);
    const weight = randomTensor(r, [Cin, O / groups, ...kernel]);
    const b = bias === "channel" ? randomTensor(r, [O]) : undefined;
    return { op, x, weight, bias: b, pads: [...before, ...after], outputPadding };
  }
}

const COUNTS = [0, 16, 20, 12];

for (const d of [1, 2, 3]) {
  describe(`ConvTranspose ${d}-D: reference equals onnxruntime`, () => {
    for (let n = 0; n < COUNTS[d]; n++) {
      const seed = 40000 + 1000 * d + n;
      const c = randomCase(seed, d);
      const o = c.op;
      const name =
        `#${seed} x[${c.x.shape}] -> ${o.filters}x${o.out.join("x")} k${o.kernel.join("x")} s${o.stride.join("x")} r${o.dilation.join("x")} ` +
        `${o.pad.kind} pads[${c.pads}] output_padding[${c.outputPadding}] g${o.groups} bias ${o.bias}`;
      it(name, async () => {
        const want = deconv(c.x, o, c.weight, c.bias);
        const graph: GraphSpec = {
          nodes: [
            {
              op: "ConvTranspose",
              inputs: c.bias ? ["x", "w", "b"] : ["x", "w"],
              outputs: ["y"],
              attrs: [
                attr.ints("kernel_shape", o.kernel),
                attr.ints("strides", o.stride),
                attr.ints("dilations", o.dilation),
                attr.ints("pads", c.pads),
                attr.ints("output_padding", c.outputPadding),
                attr.int("group", o.groups),
              ],
            },
          ],
          inputs: [{ name: "x", shape: [1, ...c.x.shape] }],
          outputs: [{ name: "y" }],
          initializers: [{ name: "w", shape: c.weight.shape, data: c.weight.data }, ...(c.bias ? [{ name: "b", shape: c.bias.shape, data: c.bias.data }] : [])],
        };
        expectClose(await runOnnx(graph, { x: { shape: [1, ...c.x.shape], data: c.x.data } }), want, name);
      });
    }
  });
}
