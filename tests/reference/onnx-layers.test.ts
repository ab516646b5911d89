// The reference's other layers against onnxruntime on seeded random inputs: dense
// (Flatten then Gemm with transB, with or without bias), the elementwise nonlinearities,
// softmax over channels (Softmax axis 1 on [1, C, D..]: from opset 13 on, Softmax normalises
// along that one axis; before 13 it flattened every axis from `axis` on, which would be wrong
// here), add/mul with broadcasting, and concatenation along channels.
//
// Our broadcasting aligns the channel axis (trailing 1s); ONNX aligns trailing axes (NumPy).
// ORT is therefore given each operand already padded to full rank with trailing 1s, which
// is exactly our rule, and the batch axis in front.

import { describe, it } from "vitest";
import type { ActivationFn } from "../../compiler/ir/ops.js";
import { activation, binary, concat, dense, softmax } from "../../compiler/reference/index.js";
import type { Tensor } from "../../compiler/reference/tensor.js";
import { attr, type Attr, type GraphSpec } from "../onnx/model.js";
import { expectClose, type OrtResult, randomTensor, rng, type Rng, runOnnx } from "./helpers.js";

function randomActivationShape(r: Rng): number[] {
  const d = r.int(0, 3); // 0: a flat [N] vector, as after flatten or dense
  const sizes = [0, 12, 8, 5];
  return [r.int(1, 6), ...Array.from({ length: d }, () => r.int(1, sizes[d]))];
}

const single = (op: string, x: Tensor, attrs: Attr[] = []): Promise<OrtResult> =>
  runOnnx(
    { nodes: [{ op, inputs: ["x"], outputs: ["y"], attrs }], inputs: [{ name: "x", shape: [1, ...x.shape] }], outputs: [{ name: "y" }] },
    { x: { shape: [1, ...x.shape], data: x.data } },
  );

describe("Flatten + Gemm: dense equals onnxruntime", () => {
  for (let n = 0; n < 20; n++) {
    const seed = 20000 + n;
    const r = rng(seed);
    const x = randomTensor(r, randomActivationShape(r));
    const inputs = x.data.length;
    const units = r.int(1, 12);
    const withBias = r.bool(0.7);
    const w = randomTensor(r, [units, inputs]);
    const b = withBias ? randomTensor(r, [units]) : undefined;
    const name = `#${seed} x[${x.shape}] units ${units}${withBias ? "" : " no bias"}`;
    it(name, async () => {
      const want = dense(x, { kind: "dense", units, bias: withBias ? "channel" : "none" }, w, b);
      const graph: GraphSpec = {
        nodes: [
          { op: "Flatten", inputs: ["x"], outputs: ["f"], attrs: [attr.int("axis", 1)] },
          { op: "Gemm", inputs: withBias ? ["f", "w", "b"] : ["f", "w"], outputs: ["y"], attrs: [attr.int("transB", 1)] },
        ],
        inputs: [{ name: "x", shape: [1, ...x.shape] }],
        outputs: [{ name: "y" }],
        initializers: [{ name: "w", shape: w.shape, data: w.data }, ...(b ? [{ name: "b", shape: b.shape, data: b.data }] : [])],
      };
      expectClose(await runOnnx(graph, { x: { shape: [1, ...x.shape], data: x.data } }), want, name);
    });
  }
});

describe("activations and softmax equal onnxruntime", () => {
  const fns: { fn: ActivationFn; onnx: string }[] = [
    { fn: "relu", onnx: "Relu" },
    { fn: "leaky_relu", onnx: "LeakyRelu" },
    { fn: "sigmoid", onnx: "Sigmoid" },
    { fn: "tanh", onnx: "Tanh" },
    { fn: "identity", onnx: "Identity" },
  ];
  for (let n = 0; n < 30; n++) {
    const seed = 21000 + n;
    const r = rng(seed);
    const { fn, onnx } = fns[n % fns.length];
    const alpha = r.pick([0.01, 0.1, 0.2, 0.3]);
    const x = randomTensor(r, randomActivationShape(r), -6, 6);
    const name = `#${seed} ${fn}${fn === "leaky_relu" ? `(${alpha})` : ""} x[${x.shape}]`;
    it(name, async () => {
      const want = activation(x, { kind: "activation", fn, alpha });
      expectClose(await single(onnx, x, fn === "leaky_relu" ? [attr.float("alpha", alpha)] : []), want, name);
    });
  }
  for (let n = 0; n < 15; n++) {
    const seed = 22000 + n;
    const r = rng(seed);
    const x = randomTensor(r, randomActivationShape(r), -20, 20);
    const name = `#${seed} softmax x[${x.shape}]`;
    it(name, async () => {
      expectClose(await single("Softmax", x, [attr.int("axis", 1)]), softmax(x), name);
    });
  }
});

describe("Add / Mul with channel-first broadcasting equal onnxruntime", () => {
  for (let n = 0; n < 25; n++) {
    const seed = 23000 + n;
    const r = rng(seed);
    const kind = r.pick(["add", "mul"] as const);
    const full = [r.int(1, 6), ...Array.from({ length: r.int(1, 3) }, () => r.int(1, 6))];
    // The other operand: the same shape, [C, 1, ..], [C], [1], or a random mix of 1s.
    const other = r.pick([
      () => [...full],
      () => [full[0], ...full.slice(1).map(() => 1)],
      () => [full[0]],
      () => [1],
      () => full.map((d) => (r.bool() ? 1 : d)),
    ])();
    const [sa, sb] = r.bool() ? [full, other] : [other, full];
    const a = randomTensor(r, sa);
    const b = randomTensor(r, sb);
    const name = `#${seed} ${kind} [${sa}] and [${sb}]`;
    it(name, async () => {
      const want = binary(kind, a, b);
      const rank = Math.max(sa.length, sb.length);
      const asOnnx = (s: readonly number[]): number[] => [1, ...s, ...new Array<number>(rank - s.length).fill(1)];
      const graph: GraphSpec = {
        nodes: [{ op: kind === "add" ? "Add" : "Mul", inputs: ["a", "b"], outputs: ["y"] }],
        inputs: [
          { name: "a", shape: asOnnx(sa) },
          { name: "b", shape: asOnnx(sb) },
        ],
        outputs: [{ name: "y" }],
      };
      const got = await runOnnx(graph, { a: { shape: asOnnx(sa), data: a.data }, b: { shape: asOnnx(sb), data: b.data } });
      expectClose(got, want, name);
    });
  }
});

describe("Concat along channels equals onnxruntime", () => {
  for (let n = 0; n < 12; n++) {
    const seed = 24000 + n;
    const r = rng(seed);
    const spatial = Array.from({ length: r.int(1, 3) }, () => r.int(1, 6));
    const xs = Array.from({ length: r.int(1, 4) }, () => randomTensor(r, [r.int(1, 4), ...spatial]));
    const names = xs.map((_, i) => `x${i}`);
    const name = `#${seed} concat ${xs.map((x) => `[${x.shape}]`).join(" ")}`;
    it(name, async () => {
      const graph: GraphSpec = {
        nodes: [{ op: "Concat", inputs: names, outputs: ["y"], attrs: [attr.int("axis", 1)] }],
        inputs: xs.map((x, i) => ({ name: names[i], shape: [1, ...x.shape] })),
        outputs: [{ name: "y" }],
      };
      const feeds = Object.fromEntries(xs.map((x, i) => [names[i], { shape: [1, ...x.shape], data: x.data }]));
      expectClose(await runOnnx(graph, feeds), concat(xs), name);
    });
  }
});
