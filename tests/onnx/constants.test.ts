// Named constant tensors (`const k = f32[..] from "name"`): the lowering onto existing ops
// (compiler/lower/constants.ts) gives, on the reference, the elementwise formula computed
// here directly with numpy's broadcasting; WebAssembly and WebGPU equal the reference (1e-4
// relative to max(1, |ref|); WebGPU skipped without an adapter, not in CI); and the mistakes
// get diagnostics.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../compiler/diagnostics.js";
import { analyse, compile } from "../../compiler/index.js";
import { evalDims } from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import { relativeError } from "../relative-error.js";

const adapter = await testAdapter();
const gpu = Boolean(adapter || process.env.CI);

type Fn = (x: number, k: number) => number;
const MAX: Fn = (x, k) => Math.max(x, k);
const MIN: Fn = (x, k) => Math.min(x, k);

/** One output per form: the expression, and the formula of x (the input) and k. */
const FORMS: [string, Fn][] = [
  ["x + k", (x, k) => x + k],
  ["k + x", (x, k) => x + k],
  ["x - k", (x, k) => x - k],
  ["k - x", (x, k) => k - x],
  ["x * k", (x, k) => x * k],
  ["k * x", (x, k) => x * k],
  ["x / k", (x, k) => x / k],
  ["k / x", (x, k) => k / x],
  ["max(x, k)", MAX],
  ["max(k, x)", MAX],
  ["min(x, k)", MIN],
  ["x |> min(k)", MIN],
];

/** Constant shapes against an input [3, 5, 4]: whole, per channel, one for all, broadcast along axes. */
const SHAPES: number[][] = [
  [3, 5, 4],
  [3, 1, 1],
  [1, 1, 1],
  [1, 5, 4],
  [3, 1, 4],
  [1, 5, 1],
];
const X = [3, 5, 4];

function broadcastIndex(i: number, full: readonly number[], ks: readonly number[]): number {
  let src = 0;
  let rest = i;
  const idx = full.map(() => 0);
  for (let a = full.length - 1; a >= 0; a--) {
    idx[a] = rest % full[a];
    rest = Math.floor(rest / full[a]);
  }
  for (let a = 0; a < full.length; a++) src = src * ks[a] + (ks[a] === 1 ? 0 : idx[a]);
  return src;
}

function weightsFor(ks: readonly number[], seed: number): { bytes: Uint8Array; data: Float32Array } {
  // Away from zero, so that k / x and x / k stay well conditioned.
  const data = initialise({ kind: "uniform", low: 0.5, high: 2, seed }, ks, 1, 1).map((v, i) => (i % 3 === 1 ? -v : v));
  return { bytes: writeSafetensors(new Map([["consts.k", { shape: ks, data }]])), data };
}

describe("named constants: the lowering gives the formula, backends equal the reference", () => {
  for (const [s, ks] of SHAPES.entries()) {
    it(`k of shape [${ks.join(", ")}]`, async () => {
      const outs = FORMS.map((_, i) => `y${i}`);
      const src = `network c(x: f32[${X.join(", ")}]) -> (${outs.join(", ")}) {
        const k = f32[${ks.join(", ")}] from "consts.k"
        ${FORMS.map(([e], i) => `y${i} = ${e}`).join("\n        ")}
      }`;
      const { bytes, data: k } = weightsFor(ks, 70 + s);
      const r = compile(src, { fileName: "c.cnn", target: gpu ? "all" : "wasm", weights: bytes });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => formatDiagnostic(d)).join("\n"));
      const x = initialise({ kind: "uniform", low: -3, high: 3, seed: 7 + s }, X, 1, 1);
      const ref = interpret(r.source, new Map([["x", { shape: X, data: Float64Array.from(x) }]]));
      FORMS.forEach(([e, fn], i) => {
        const want = Float64Array.from(x, (v, j) => fn(v, k[broadcastIndex(j, X, ks)]));
        expect(relativeError(ref.get(`y${i}`)?.data ?? new Float64Array(), want), e).toBeLessThan(1e-5);
      });
      for (const backend of gpu ? (["wasm", "webgpu"] as const) : (["wasm"] as const)) {
        const net = await r.load({ backend });
        try {
          const got = await net.run({ x: { data: x, shape: X } });
          for (const [out, want] of ref) expect(relativeError(got[out].data, want.data), `${backend} ${out}`).toBeLessThan(1e-4);
        } finally {
          net.dispose();
        }
      }
    }, 60_000);
  }

  it("concat with constants, inside a network with convolutions (fused and not)", async () => {
    const src = `network c(x: f32[3, 6, 5]) -> (y, z) {
      const a = f32[2, 6, 5] from "a"
      const b = f32[4, 1, 1] from "b"
      h = x |> conv(4, 3, pad: same) |> relu
      z = concat(a, h * b + b, x)
      y = z |> conv(5, 1) |> relu
    }`;
    const tensors = new Map([
      ["a", { shape: [2, 6, 5], data: initialise({ kind: "uniform", low: -1, high: 1, seed: 3 }, [2, 6, 5], 1, 1) }],
      ["b", { shape: [4, 1, 1], data: initialise({ kind: "uniform", low: -1, high: 1, seed: 4 }, [4, 1, 1], 1, 1) }],
    ]);
    const x = initialise({ kind: "uniform", low: -3, high: 3, seed: 9 }, [3, 6, 5], 1, 1);
    for (const fuse of [true, false]) {
      const r = compile(src, { fileName: "c.cnn", target: gpu ? "all" : "wasm", weights: writeSafetensors(tensors), fuse });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => formatDiagnostic(d)).join("\n"));
      const ref = interpret(r.source, new Map([["x", { shape: [3, 6, 5], data: Float64Array.from(x) }]]));
      // The first two channels are a itself, the last three x.
      const z = ref.get("z")?.data ?? new Float64Array();
      expect(Array.from(z.slice(0, 60))).toEqual(Array.from(tensors.get("a")?.data ?? []));
      expect(Array.from(z.slice(6 * 30))).toEqual(Array.from(x));
      for (const backend of gpu ? (["wasm", "webgpu"] as const) : (["wasm"] as const)) {
        const net = await r.load({ backend });
        try {
          const got = await net.run({ x: { data: x, shape: [3, 6, 5] } });
          for (const out of ["y", "z"]) expect(relativeError(got[out].data, ref.get(out)?.data ?? new Float64Array()), backend).toBeLessThan(1e-4);
        } finally {
          net.dispose();
        }
      }
    }
  }, 60_000);
});

const K = writeSafetensors(new Map([["k", { shape: [3, 1, 1], data: new Float32Array([1, 2, 3]) }]]));

/** Compiles and returns the formatted diagnostics (errors and warnings). */
function diagnose(src: string, weights: Uint8Array | undefined): string {
  const r = analyse(src, { fileName: "m.cnn", ...(weights ? { weights } : {}) });
  return r.log.items.map((d) => formatDiagnostic(d)).join("\n");
}

describe("named constants: diagnostics", () => {
  const net = (body: string, params = "x: f32[3, 5, 4]", outs = "y") => `network m(${params}) -> ${outs} {\n${body}\n}`;
  const cases: [string, string, RegExp][] = [
    ["symbolic size", net(`const k = f32[3, H, 1] from "k"\ny = x + k`), /sizes of constant 'k' are numbers .* not the symbol 'H'/],
    ["element type", net(`const k = i32[3, 1, 1] from "k"\ny = x + k`), /element type 'i32'; only f32/],
    ["too many axes", net(`const k = f32[3, 1, 1, 1, 1] from "k"\ny = x + k`), /0 to 3 spatial axes/],
    ["zero size", net(`const k = f32[3, 0, 1] from "k"\ny = x + k`), /positive whole numbers, got 0/],
    ["not in the file", net(`const k = f32[3, 1, 1] from "kk"\ny = x + k`), /constant 'k' reads tensor 'kk' from the weights file, but none of weights holds it \(did you mean 'k'\?\)/],
    ["no file", net(`const k = f32[3, 1, 1] from "k"\ny = x + k`), /no weights file is given/],
    ["shape differs", net(`const k = f32[3, 1, 4] from "k"\ny = x + k`), /tensor 'k' has shape \[3, 1, 1\] but constant 'k' is declared \[3, 1, 4\]/],
    ["no broadcast", net(`const k = f32[3, 1, 1] from "k"\ny = x + k`, "x: f32[2, 5, 4]"), /constant 'k' of shape \[3, 1, 1\] does not broadcast onto a value of shape \[2, 5, 4\]/],
    ["rank", net(`const k = f32[3, 1, 1] from "k"\ny = x + k`, "x: f32[3, 5]"), /needs the value's 2 axes/],
    ["symbolic value", net(`const k = f32[3, 1, 4] from "k"\ny = x * k`, "x: f32[3, H, 4]"), /varies over space, so the value it meets needs fixed sizes/],
    ["two constants", net(`const k = f32[3, 1, 1] from "k"\nconst j = f32[3, 1, 1] from "k"\ny = x + k`), /reads tensor 'k', which another constant or layer's weight already uses/],
    ["both operands", net(`const k = f32[3, 1, 1] from "k"\ny = k + k`), /both operands of '\+' are constants/],
    ["alone", net(`const k = f32[3, 1, 1] from "k"\ny = k`), /'k' is a named constant; it is an operand of/],
    ["output", net(`const k = f32[3, 1, 1] from "k"\ny = x`, "x: f32[3, 5, 4]", "(y, k)"), /output 'k' is a constant/],
    ["piped", net(`const k = f32[3, 1, 1] from "k"\ny = k |> relu`), /constant 'k' cannot be piped/],
    ["other op", net(`const k = f32[3, 1, 1] from "k"\ny = matmul(x, k)`), /matmul does not take a named constant/],
    ["bound twice", net(`const k = f32[3, 1, 1] from "k"\nk = x |> relu\ny = x`), /'k' is already bound/],
    ["in a block", `block b(v) {\nconst k = f32[3, 1, 1] from "k"\nreturn v + k\n}\n${net("y = x |> b")}`, /`const` belongs in the network's body/],
  ];
  for (const [name, src, want] of cases) {
    it(name, () => {
      const text = diagnose(src, name === "no file" ? undefined : K);
      expect(text).toMatch(want);
      // file:line:col and a caret, as for every diagnostic.
      expect(text).toMatch(/m\.cnn:\d+:\d+/);
    });
  }

  it("a syntax error in a const statement is reported where it is", () => {
    const text = diagnose(net(`const k = f32[3, 1, 1] "k"\ny = x`), K);
    expect(text).toMatch(/m\.cnn:2:24/);
    expect(text).toMatch(/'from'/);
  });

  it("the tensor a constant reads is not reported as matching no layer", () => {
    expect(diagnose(net(`const k = f32[3, 1, 1] from "k"\ny = x + k`), K)).toBe("");
  });
});

describe("named constants: docs/language.md", () => {
  it("the example network compiles with its tensors and runs on WebAssembly like the reference", async () => {
    const doc = readFileSync("docs/language.md", "utf8");
    const section = doc.slice(doc.indexOf("### Named constant tensors"));
    const src = /```\n(network embed[\s\S]*?)```/.exec(section)?.[1] ?? "";
    expect(src).toMatch(/const pos/);
    const shapes: [string, number[]][] = [["pos_embed", [8, 16, 16]], ["gain", [8, 1, 1]], ["mask", [1, 16, 16]]];
    const tensors = new Map(shapes.map(([n, sh], i) => [n, { shape: sh, data: initialise({ kind: "uniform", low: -1, high: 1, seed: 90 + i }, sh, 1, 1) }]));
    const r = compile(src, { fileName: "embed.cnn", weights: writeSafetensors(tensors) });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => formatDiagnostic(d)).join("\n"));
    expect(evalDims(r.graph.values[r.graph.outputs[0].value].shape, {})).toEqual([9, 16, 16]);
    const x = initialise({ kind: "uniform", low: -1, high: 1, seed: 5 }, [8, 16, 16], 1, 1);
    const ref = interpret(r.source, new Map([["x", { shape: [8, 16, 16], data: Float64Array.from(x) }]]));
    const net = await r.load({ backend: "wasm" });
    try {
      const got = await net.run({ x: { data: x, shape: [8, 16, 16] } });
      expect(relativeError(got.y.data, ref.get("y")?.data ?? new Float64Array())).toBeLessThan(1e-4);
    } finally {
      net.dispose();
    }
  }, 60_000);
});
