// Export of the composite ops as their one ONNX operator (PRelu, InstanceNormalization,
// Max/Min/Mean, ReduceMean/Max/Sum/L2) and of named constants as ONNX's op on their
// initializer: seeded random shapes, axes and weights, 20 cases per op; onnxruntime-node on
// the exported file equals cnnc's reference (1e-5 relative), and the exported graph holds
// the one operator and none of the chain's.

import { describe, expect, it } from "vitest";
import { exportOnnx } from "../../compiler/export/onnx.js";
import { decodeModel } from "../../compiler/import/onnx/decode.js";
import { analyse } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";
import { relativeError, rng, type Rng } from "../reference/helpers.js";
import { runOrt, seeded } from "./compare.js";

const CASES = 20;

interface Case {
  readonly source: string;
  readonly x: readonly number[];
  readonly tensors?: Map<string, { shape: number[]; data: Float32Array }>;
  /** The ONNX op the case must export to. */
  readonly op: string;
}

const shapeOf = (r: Rng): number[] => [r.int(1, 4), ...Array.from({ length: r.int(1, 3) }, () => r.int(2, 5))];
const dims = (s: readonly number[]): string => s.join(", ");

const GENERATORS: Record<string, (r: Rng, seed: number) => Case> = {
  PRelu: (r, seed) => {
    const x = shapeOf(r);
    const c = x[0];
    const flat = r.bool();
    const slope = seeded(seed, c, -1, 1);
    return {
      source: `network p(x: f32[${dims(x)}]) -> y {\n  y = x |> act: prelu\n}`,
      x,
      tensors: new Map([["act.weight", { shape: flat ? [c] : [c, 1, ...x.slice(1).map(() => 1)], data: slope }]]),
      op: "PRelu",
    };
  },
  InstanceNormalization: (r, seed) => {
    const x = shapeOf(r);
    const c = x[0];
    const eps = r.pick([1e-5, 1e-3, 0.1]);
    return {
      source: `network i(x: f32[${dims(x)}]) -> y {\n  y = x |> norm: instancenorm(eps: ${eps})\n}`,
      x,
      tensors: new Map([
        ["norm.weight", { shape: [c], data: seeded(seed, c, -2, 2) }],
        ["norm.bias", { shape: [c], data: seeded(seed + 1, c, -1, 1) }],
      ]),
      op: "InstanceNormalization",
    };
  },
  MaxMinMean: (r) => {
    const x = shapeOf(r);
    const word = r.pick(["max", "min", "mean"]);
    const other = r.pick(["x |> tanh", "x |> sigmoid", "x |> avgpool(out: 1)"]);
    const call = word === "mean" && r.bool() ? `mean(x, ${other}, x |> abs)` : `${word}(x, ${other})`;
    return { source: `network m(x: f32[${dims(x)}]) -> y {\n  y = ${call}\n}`, x, op: { max: "Max", min: "Min", mean: "Mean" }[word] ?? "" };
  },
  Reduce: (r) => {
    const x = shapeOf(r);
    const kind = r.pick(["mean", "max", "sum", "l2"]);
    const all = Array.from({ length: x.length }, (_, i) => i);
    let axes = all.filter(() => r.bool());
    if (axes.length === 0) axes = [r.pick(all)];
    const keep = axes.length < all.length ? r.bool() : true;
    return {
      source: `network r(x: f32[${dims(x)}]) -> y {\n  y = x |> reduce_${kind}(axes: [${axes.join(", ")}]${keep ? "" : ", keep: false"})\n}`,
      x,
      op: { mean: "ReduceMean", max: "ReduceMax", sum: "ReduceSum", l2: "ReduceL2" }[kind] ?? "",
    };
  },
  NamedConstant: (r, seed) => {
    const x = shapeOf(r);
    const k = x.map((d, i) => (i === 0 ? r.pick([d, 1]) : r.pick([d, 1])));
    const [form, op] = r.pick([["x + k", "Add"], ["k - x", "Sub"], ["x - k", "Sub"], ["x * k", "Mul"], ["k * x", "Mul"], ["x / k", "Div"]]);
    return {
      source: `network c(x: f32[${dims(x)}]) -> y {\n  const k = f32[${dims(k)}] from "k"\n  y = ${form}\n}`,
      x,
      tensors: new Map([["k", { shape: k, data: seeded(seed, k.reduce((a, b) => a * b, 1), 0.5, 2) }]]),
      op,
    };
  },
};

describe("export: one ONNX operator per composite op and named constant, equal to onnxruntime", () => {
  for (const [name, gen] of Object.entries(GENERATORS)) {
    it(name, async () => {
      const r = rng(name.length * 131 + name.charCodeAt(0));
      for (let i = 0; i < CASES; i++) {
        const c = gen(r, 500 + i);
        const a = analyse(c.source, { fileName: "c.cnn", ...(c.tensors ? { weights: writeSafetensors(c.tensors) } : {}) });
        if (!a.graph) throw new Error(`${c.source}\n${a.log.items.map((d) => d.message).join("\n")}`);
        const e = exportOnnx(a.graph);
        if (!e.ok) throw new Error(e.errors.join("\n"));
        const d = decodeModel(e.bytes);
        if (!d.ok) throw new Error(d.error);
        const ops = d.model.nodes.map((n) => n.opType).filter((o) => o !== "Reshape" && o !== "Tanh" && o !== "Sigmoid" && o !== "Abs" && o !== "GlobalAveragePool");
        expect(ops, c.source).toEqual([c.op]);
        const n = c.x.reduce((p, q) => p * q, 1);
        const data = seeded(700 + i, n, -3, 3);
        const got = await runOrt(e.bytes, { x: { shape: [1, ...c.x], data } });
        const ref = interpret(a.graph, new Map([["x", { shape: [...c.x], data: Float64Array.from(data) }]]));
        const want = ref.get("y");
        if (!want) throw new Error("no output y");
        expect(got.y.dims, c.source).toEqual([1, ...want.shape]);
        expect(relativeError(got.y.data, want.data), c.source).toBeLessThan(1e-5);
      }
    }, 120_000);
  }
});
