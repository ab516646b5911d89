// Fusion on the WebAssembly backend (issue 5): random convolution-like producers (conv 1-D to
// 3-D with stride, padding, dilation, groups and flip; local; tiled; deconv; dense) with a
// fused activation, residual add and pool (max, avg, lp, gauss with stride, padding, ceil,
// count_pad and dilation), compiled through the real pipeline with fusion on, equal the
// reference interpreter run on the UNFUSED graph (`result.source`). Weights are random,
// biases included (the default initialiser leaves biases at zero, which would hide bugs).
// And a fused LeNet's plan has no buffer for the pre-pool activations.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../../compiler/index.js";
import * as D from "../../../compiler/ir/dim.js";
import { interpret } from "../../../compiler/reference/interpret.js";
import { writeSafetensors } from "../../../compiler/tensors/safetensors.js";
import { Rng } from "./plan-helper.js";

type Producer = "conv" | "local" | "tiled" | "deconv" | "dense";

interface Case {
  readonly description: string;
  /** The input's shape and the producer call (`x |> p: ...`), without the fused work. */
  readonly input: readonly number[];
  readonly producer: string;
  /** Flatten before the producer (dense). */
  readonly flatten: boolean;
  readonly pre?: string;
  readonly add?: "left" | "right";
  /** The residual is computed by a step of its own (sigmoid of an input) rather than an input. */
  readonly computedResidual?: boolean;
  readonly post?: string;
  readonly pool?: string;
  readonly after?: string;
}

const list = (xs: readonly number[]) => `[${xs.join(", ")}]`;
const ACTIVATIONS = ["relu", "leaky_relu(0.1)", "sigmoid", "tanh"];

function compileOrThrow(source: string, options: Parameters<typeof compile>[1] = {}): CompileSuccess {
  const r = compile(source, { fileName: "t.cnn", ...options });
  if (!r.ok) throw new Error(`${source}\n${r.diagnostics.map((d) => d.message).join("\n")}`);
  return r;
}

function randomPad(rng: Rng, rank: number, max: number): string {
  const kind = rng.pick(["valid", "same", "full", "explicit"]);
  if (kind !== "explicit") return kind;
  return `[${Array.from({ length: rank }, () => `[${rng.int(0, max)}, ${rng.int(0, max)}]`).join(", ")}]`;
}

function randomPool(rng: Rng, rank: number): string {
  const window = Array.from({ length: rank }, () => rng.int(1, 3));
  const dilation = Array.from({ length: rank }, () => (rng.next() < 0.3 ? 2 : 1));
  const stride = Array.from({ length: rank }, () => rng.int(1, 3));
  const pad = window.map((k, i) => {
    const half = Math.floor(((k - 1) * dilation[i] + 1) / 2);
    return `[${rng.int(0, half)}, ${rng.int(0, half)}]`;
  });
  const mode = rng.pick(["max", "avg", "lp", "lp", "gauss"]);
  const args = [list(window), `stride: ${list(stride)}`, `dilation: ${list(dilation)}`, `pad: [${pad.join(", ")}]`];
  if (rng.bool()) args.push("ceil: true");
  if (mode === "avg" && rng.bool()) args.push("count_pad: true");
  if (mode === "lp") args.push(`p: ${rng.pick([1, 2, 3])}`);
  if (mode === "gauss") args.push(`sigma: ${rng.pick([0.7, 1, 1.8])}`);
  return `${mode === "lp" ? "lppool" : `${mode}pool`}(${args.join(", ")})`;
}

function randomCase(rng: Rng, kind: Producer): Case {
  const rank = kind === "dense" ? 1 : rng.int(1, 3);
  const sizes = () => Array.from({ length: rank }, () => rng.int(rank === 3 ? 3 : 4, rank === 1 ? 13 : rank === 2 ? 9 : 6));
  const sizeArgs = (n: number, hi: number) => Array.from({ length: n }, () => rng.int(1, hi));
  const stride = () => Array.from({ length: rank }, () => (rng.next() < 0.3 ? 2 : 1));
  const dilation = () => Array.from({ length: rank }, () => (rng.next() < 0.25 ? 2 : 1));
  let input: number[];
  let producer: string;
  switch (kind) {
    case "conv": {
      const groups = rng.pick([1, 1, 2, 3]);
      input = [groups * rng.int(1, 2), ...sizes()];
      const args = [`${groups * rng.int(1, 3)}`, list(sizeArgs(rank, 3)), `stride: ${list(stride())}`, `dilation: ${list(dilation())}`];
      args.push(`pad: ${randomPad(rng, rank, 2)}`, `groups: ${groups}`, `bias: ${rng.pick(["channel", "channel", "none", "location"])}`);
      if (rng.next() < 0.25) args.push("flip: true");
      producer = `conv(${args.join(", ")})`;
      break;
    }
    case "local":
    case "tiled": {
      input = [rng.int(1, 3), ...sizes()];
      const args = [`${rng.int(1, 3)}`, list(sizeArgs(rank, 3)), `stride: ${list(stride())}`, `dilation: ${list(dilation())}`, `pad: ${randomPad(rng, rank, 1)}`];
      if (kind === "tiled") args.push(`tiles: ${list(sizeArgs(rank, 3))}`, `bias: ${rng.pick(["tiled", "tiled", "none"])}`);
      else args.push(`bias: ${rng.pick(["location", "location", "none"])}`);
      producer = `${kind}(${args.join(", ")})`;
      break;
    }
    case "deconv": {
      const groups = rng.pick([1, 1, 2]);
      const out = sizes();
      const k = sizeArgs(rank, 3);
      const s = stride();
      const r = dilation();
      // The deconv's input is what the forward conv makes of `out`: floor((m - keff) / s) + 1 (valid).
      const spatial = out.map((m, i) => Math.floor((m - ((k[i] - 1) * r[i] + 1)) / s[i]) + 1);
      input = [groups * rng.int(1, 2), ...spatial];
      producer = `deconv(${groups * rng.int(1, 2)}, ${list(k)}, stride: ${list(s)}, dilation: ${list(r)}, groups: ${groups}, size: ${list(out)}, bias: ${rng.pick(["channel", "none"])})`;
      break;
    }
    case "dense":
      input = [rng.int(1, 4), rng.int(2, 9)];
      producer = `dense(${rng.int(1, 12)}, bias: ${rng.pick(["channel", "channel", "none"])})`;
      break;
  }
  const maybe = (p: number) => (rng.next() < p ? rng.pick(ACTIVATIONS) : undefined);
  const c: Case = {
    description: "",
    input,
    producer,
    flatten: kind === "dense",
    pre: maybe(0.5),
    add: rng.next() < 0.6 ? rng.pick(["left", "right"] as const) : undefined,
    computedResidual: rng.next() < 0.3,
    post: maybe(0.6),
    pool: kind === "dense" ? undefined : rng.next() < 0.85 ? randomPool(rng, rank) : undefined,
    after: maybe(0.4),
  };
  return { ...c, description: `${kind} ${list(input)}: ${source(c, undefined)}` };
}

/**
 * The network: y = after(pool(post(pre(producer(x)) + r))), each part optional. The residual
 * `rv` is the input r, or computed from it first; a dense layer's (rank 1) comes from an
 * input [N, 1] (inputs have a spatial axis) through flatten.
 */
function source(c: Case, residual: readonly number[] | undefined): string {
  const inputs = [`x: f32${list(c.input)}`];
  const lines: string[] = [];
  let chain = `x${c.flatten ? " |> flatten" : ""} |> p: ${c.producer}${c.pre ? ` |> ${c.pre}` : ""}`;
  if (c.add) {
    const vector = residual !== undefined && residual.length === 1;
    inputs.push(`r: f32${residual ? list(vector ? [...residual, 1] : residual) : "[...]"}`);
    const steps = [...(vector ? ["flatten"] : []), ...(c.computedResidual ? ["sigmoid"] : [])];
    lines.push(`rv = r${steps.map((st) => ` |> ${st}`).join("")}`);
    chain = c.add === "left" ? `rv + (${chain})` : `(${chain}) + rv`;
  }
  for (const stage of [c.post, c.pool, c.after]) if (stage) chain += ` |> ${stage}`;
  lines.push(`y = ${chain}`);
  return `network n(${inputs.join(", ")}) -> y {\n${lines.map((l) => `  ${l}\n`).join("")}}`;
}

/** Compiles the case fused (or undefined when its sizes do not fit), runs it on WASM and the reference; the relative error. */
async function runCase(c: Case, seed: number): Promise<{ error: number; fused: CompileSuccess } | undefined> {
  // The producer alone: its output shape (the residual's) and its weights' names and shapes.
  const probe = compile(source({ ...c, add: undefined, post: undefined, pool: undefined, after: undefined }, undefined), { fileName: "t.cnn", fuse: false });
  if (!probe.ok) return undefined;
  const residual = D.evalDims(probe.graph.values[probe.graph.outputs[0].value].shape, {});
  const rng = new Rng(seed);
  const weights = new Map(probe.source.weights.map((w) => [w.name, { shape: w.shape, data: rng.f32(w.data.length) }]));
  const text = source(c, residual);
  const attempt = compile(text, { fileName: "t.cnn", weights: writeSafetensors(weights) });
  if (!attempt.ok) {
    // Only a pool that does not fit the producer's output may be refused.
    if (attempt.diagnostics.some((d) => /pool|window/.test(d.message))) return undefined;
    throw new Error(`${text}\n${attempt.diagnostics.map((d) => d.message).join("\n")}`);
  }
  const inputs = attempt.source.inputs.map((io) => {
    const shape = D.evalDims(attempt.source.values[io.value].shape, {});
    return { name: io.name, shape, data: rng.f32(shape.reduce((a, b) => a * b, 1), 2) };
  });
  const net = await attempt.load({ backend: "wasm" });
  const got = await net.run(Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, shape: t.shape }])));
  const want = interpret(attempt.source, new Map(inputs.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data) }])));
  const y = want.get("y");
  if (!y) throw new Error("no output y");
  expect(got.y.shape).toEqual([1, ...y.shape]);
  // Relative to the output's own largest magnitude, as the e2e tests measure.
  expect(got.y.data.length).toBe(y.data.length);
  let diff = 0;
  let scale = 1e-30;
  y.data.forEach((v, i) => {
    const d = Math.abs(v - got.y.data[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(v));
  });
  net.dispose();
  return { error: diff / scale, fused: attempt };
}

const PRODUCERS: readonly Producer[] = ["conv", "local", "tiled", "deconv", "dense"];
const CASES = 24;

describe("wasm fusion: fused producers equal the unfused reference", () => {
  PRODUCERS.forEach((kind, k) => {
    it(`${kind}: ${CASES} random configurations with fused activation, residual add and pool`, async () => {
      const rng = new Rng(5000 + k);
      let ran = 0;
      let pooled = 0;
      let added = 0;
      for (let attempt = 0; ran < CASES && attempt < 10 * CASES; attempt++) {
        const c = randomCase(rng, kind);
        const seed = 100 * k + attempt;
        const r = await runCase(c, seed);
        if (!r) continue;
        ran++;
        // Everything after the producer is fused: one kernel (after the residual's own, if any).
        const steps = r.fused.plan.steps;
        expect(steps.length, c.description).toBe(c.add && c.computedResidual ? 2 : 1);
        const step = steps[steps.length - 1];
        expect(step.op.kind).toBe(kind);
        expect(step.epilogue.some((e) => e.kind !== "activation"), c.description).toBe(c.add !== undefined);
        if (c.pool) pooled++;
        if (c.add) added++;
        expect(step.pool !== undefined, c.description).toBe(c.pool !== undefined);
        expect(r.error, `${c.description} (seed ${seed})`).toBeLessThanOrEqual(1e-5);
      }
      expect(ran).toBe(CASES);
      if (kind !== "dense") expect(pooled).toBeGreaterThan(CASES / 2);
      expect(added).toBeGreaterThan(CASES / 4);
    }, 120_000);
  });

  it("a 3-D conv with groups, stride and padding, + residual, relu, ceil-mode avg pool counting padding", async () => {
    const c: Case = {
      description: "",
      input: [4, 7, 6, 5],
      producer: "conv(6, [3, 2, 3], stride: [1, 2, 1], pad: [[1, 1], [0, 1], [2, 0]], groups: 2)",
      flatten: false,
      add: "right",
      post: "relu",
      pool: "avgpool([2, 2, 3], stride: [2, 1, 2], pad: [[1, 0], [1, 1], [1, 1]], ceil: true, count_pad: true)",
      after: "tanh",
    };
    const r = await runCase(c, 7);
    expect(r).toBeDefined();
    expect(r?.error).toBeLessThanOrEqual(1e-5);
  });

  it("an overlapping dilated max pool (stride < window) recomputes shared positions correctly", async () => {
    const c: Case = {
      description: "",
      input: [2, 12, 11],
      producer: "conv(3, 3x3, pad: same)",
      flatten: false,
      pre: "leaky_relu(0.2)",
      pool: "maxpool(3x3, stride: 1, dilation: 2, pad: 2)",
    };
    const r = await runCase(c, 8);
    expect(r?.error).toBeLessThanOrEqual(1e-5);
  });
});

describe("wasm fusion: symbolic sizes", () => {
  it("one fused kernel (conv + residual + relu + ceil-mode avg pool + tanh) serves several input sizes", async () => {
    const r = compileOrThrow(`network n(x: f32[2, H, W]) -> y {
  h = x |> a: conv(3, 3x3, pad: same, init: uniform(-1, 1, seed: 4))
  y = h + (x |> b: conv(3, 3x3, stride: 1, dilation: 2, pad: same, init: uniform(-1, 1, seed: 5)) |> sigmoid) |> relu |> avgpool(3, stride: 2, pad: 1, ceil: true) |> tanh
}`);
    expect(r.plan.steps.map((s) => [s.layer, s.pool?.op.mode ?? "-"])).toEqual([["a", "-"], ["b", "avg"]]);
    const net = await r.load({ backend: "wasm" });
    const rng = new Rng(11);
    for (const [H, W] of [[9, 7], [12, 5], [4, 4]]) {
      const shape = [2, H, W];
      const data = rng.f32(2 * H * W);
      const got = await net.run({ x: { data, shape } });
      const want = interpret(r.source, new Map([["x", { shape, data: Float64Array.from(data) }]])).get("y");
      if (!want) throw new Error("no output");
      expect(got.y.shape).toEqual([1, ...want.shape]);
      const scale = Math.max(...Array.from(want.data, Math.abs));
      const diff = Math.max(...Array.from(want.data, (v, i) => Math.abs(v - got.y.data[i])));
      expect(diff / scale, `${H}x${W}`).toBeLessThanOrEqual(1e-5);
    }
    net.dispose();
  });
});

describe("wasm fusion: the plan", () => {
  it("splits the fused list at the pool: epilogue before it (with the residual's input index), activations after it", () => {
    const r = compileOrThrow(`network n(x: f32[2, 8, 8], r: f32[3, 8, 8]) -> y {
  y = r + (x |> c: conv(3, 3x3, pad: same) |> tanh) |> relu |> maxpool(2) |> sigmoid
}`);
    expect(r.plan.steps.length).toBe(1);
    const [step] = r.plan.steps;
    const bufferOf = (name: string) => r.plan.inputs.find((i) => i.name === name)?.buffer;
    expect(step.inputs.map((t) => t.buffer)).toEqual([bufferOf("x"), bufferOf("r")]);
    expect(step.epilogue).toEqual([
      { kind: "activation", fn: "tanh", alpha: 0 },
      { kind: "add", input: 1 },
      { kind: "activation", fn: "relu", alpha: 0 },
    ]);
    expect(step.pool?.op.mode).toBe("max");
    expect(step.pool?.inShape).toEqual([3, 8, 8]);
    expect(step.pool?.epilogue).toEqual([{ kind: "activation", fn: "sigmoid", alpha: 0 }]);
    expect(step.output.shape).toEqual([3, 4, 4]);
  });

  it("a fused LeNet stores no pre-pool activations: fewer steps, a smaller arena", () => {
    const text = readFileSync("examples/lenet.cnn", "utf8");
    const fused = compileOrThrow(text);
    const unfused = compileOrThrow(text, { fuse: false });
    // conv1 + relu + pool, conv2 + relu + pool, fc1 + relu, fc2 + relu, fc3, softmax: 6
    // kernels instead of 12.
    expect(fused.plan.steps.map((s) => [s.op.kind, s.epilogue.length, s.pool?.op.mode ?? "-"])).toEqual([
      ["conv", 1, "max"],
      ["conv", 1, "max"],
      ["dense", 1, "-"],
      ["dense", 1, "-"],
      ["dense", 0, "-"],
      ["softmax", 0, "-"],
    ]);
    expect(unfused.plan.steps.length).toBe(12);
    const elements = (r: CompileSuccess) => r.plan.buffers.map((b) => D.evalDim(b.elements, {}));
    // conv1's pre-pool output [6, 28, 28] and conv2's [16, 10, 10]: buffers without fusion only.
    for (const n of [6 * 28 * 28, 16 * 10 * 10]) {
      expect(elements(unfused)).toContain(n);
      expect(elements(fused)).not.toContain(n);
    }
    expect(D.evalDim(fused.plan.arenaElements, {})).toBeLessThan(D.evalDim(unfused.plan.arenaElements, {}));
  });
});
