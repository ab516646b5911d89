// The reference convolution against onnxruntime's Conv on seeded random configurations:
// 1-D/2-D/3-D, stride, dilation, groups, every padding form (resolved to ONNX's explicit
// pads by the shared geometry, so asymmetric `same` is covered), bias per channel, per
// location (ORT: Conv then Add of an initializer) or none, and `flip` (ORT is given the
// kernel flipped by the test, since ONNX only has cross-correlation).

import { describe, it } from "vitest";
import type { PadSpec } from "../../compiler/ir/ops.js";
import { conv } from "../../compiler/reference/index.js";
import { attr, type GraphSpec } from "../onnx/model.js";
import { convOp, expectClose, flipKernel, onnxPads, randomTensor, rng, type Rng, runOnnx } from "./helpers.js";

const MAX_SIZE = [0, 12, 10, 6]; // spatial size per axis, by rank

function randomCase(seed: number, d: number) {
  const r = rng(seed);
  const groups = r.pick([1, 1, 2, 3]);
  const C = groups * r.int(1, 2);
  const O = groups * r.int(1, 2);
  const kernel = Array.from({ length: d }, () => r.int(1, 3));
  const dilation = kernel.map(() => r.int(1, 2));
  const stride = kernel.map(() => r.int(1, 3));
  const spatial = kernel.map((k, i) => r.int((k - 1) * dilation[i] + 1, MAX_SIZE[d]));
  const pad = randomPad(r, d);
  const bias = r.pick(["channel", "location", "none"] as const);
  const flip = r.bool(0.3);
  const op = convOp({ filters: O, kernel, stride, dilation, pad, groups, flip, bias });
  const x = randomTensor(r, [C, ...spatial]);
  const weight = randomTensor(r, [O, C / groups, ...kernel]);
  const geo = onnxPads(spatial, kernel, stride, dilation, pad);
  const b = bias === "channel" ? randomTensor(r, [O]) : bias === "location" ? randomTensor(r, [O, ...geo.out]) : undefined;
  return { op, x, weight, bias: b, pads: geo.pads };
}

function randomPad(r: Rng, d: number): PadSpec {
  switch (r.int(0, 3)) {
    case 0:
      return { kind: "valid" };
    case 1:
      return { kind: "same" };
    case 2:
      return { kind: "full" };
    default:
      return {
        kind: "explicit",
        before: Array.from({ length: d }, () => r.int(0, 2)),
        after: Array.from({ length: d }, () => r.int(0, 2)),
      };
  }
}

const COUNTS = [0, 35, 45, 30];

for (const d of [1, 2, 3]) {
  describe(`Conv ${d}-D: reference equals onnxruntime`, () => {
    for (let n = 0; n < COUNTS[d]; n++) {
      const seed = 1000 * d + n;
      const c = randomCase(seed, d);
      const o = c.op;
      const name =
        `#${seed} x[${c.x.shape}] k${o.kernel.join("x")} s${o.stride.join("x")} r${o.dilation.join("x")} ` +
        `g${o.groups} pad ${o.pad.kind}[${c.pads}] bias ${o.bias}${o.flip ? " flip" : ""}`;
      it(name, async () => {
        const want = conv(c.x, o, c.weight, c.bias);
        const w = o.flip ? flipKernel(c.weight) : c.weight;
        const inputs = ["x", "w"];
        if (o.bias === "channel") inputs.push("b");
        const graph: GraphSpec = {
          nodes: [
            {
              op: "Conv",
              inputs,
              outputs: [o.bias === "location" ? "z" : "y"],
              attrs: [
                attr.ints("kernel_shape", o.kernel),
                attr.ints("strides", o.stride),
                attr.ints("dilations", o.dilation),
                attr.ints("pads", c.pads),
                attr.int("group", o.groups),
              ],
            },
            ...(o.bias === "location" ? [{ op: "Add", inputs: ["z", "b"], outputs: ["y"] }] : []),
          ],
          inputs: [{ name: "x", shape: [1, ...c.x.shape] }],
          outputs: [{ name: "y" }],
          initializers: [
            { name: "w", shape: w.shape, data: w.data },
            ...(c.bias ? [{ name: "b", shape: o.bias === "location" ? [1, ...c.bias.shape] : c.bias.shape, data: c.bias.data }] : []),
          ],
        };
        const got = await runOnnx(graph, { x: { shape: [1, ...c.x.shape], data: c.x.data } });
        expectClose(got, want, name);
      });
    }
  });
}
