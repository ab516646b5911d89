// Random fused networks for the backends' fusion tests (issue 5): a convolution-like
// producer (conv 1-D to 3-D with stride, padding, dilation, groups and flip; local; tiled;
// deconv; dense) followed by an activation, a residual add, another activation, a pool (max,
// avg, lp, gauss with stride, padding, ceil, count_pad and dilation) and an activation, each
// optional, written as .cnn source and compiled through the real pipeline with fusion on, so
// that all of it becomes one kernel. The oracle is the reference interpreter on the UNFUSED
// graph (`result.source`). Weights are random, biases included (the default initialiser
// leaves biases at zero, which would hide a bias bug).
import { expect } from "vitest";
import { compile, type CompileOptions, type CompileSuccess } from "../../compiler/index.js";
import * as D from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";
import { Rng } from "./wasm/plan-helper.js";

export type Producer = "conv" | "local" | "tiled" | "deconv" | "dense";

export interface Case {
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

export function compileOrThrow(source: string, options: Parameters<typeof compile>[1] = {}): CompileSuccess {
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

export function randomCase(rng: Rng, kind: Producer): Case {
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
export function source(c: Case, residual: readonly number[] | undefined): string {
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

/**
 * Compiles the case with fusion on for `target` (undefined when its sizes do not fit), runs it
 * on `backend` and the reference interpreter on the unfused graph. The error is relative to
 * the output's largest magnitude (`error`) and to max(1, that) (`errorMax1`, the WebGPU
 * tests' measure).
 */
export async function runCase(
  c: Case,
  seed: number,
  backend: "wasm" | "webgpu" = "wasm",
  options: CompileOptions = {},
): Promise<{ error: number; errorMax1: number; fused: CompileSuccess } | undefined> {
  // The producer alone: its output shape (the residual's) and its weights' names and shapes.
  const probe = compile(source({ ...c, add: undefined, post: undefined, pool: undefined, after: undefined }, undefined), { fileName: "t.cnn", fuse: false });
  if (!probe.ok) return undefined;
  const residual = D.evalDims(probe.graph.values[probe.graph.outputs[0].value].shape, {});
  const rng = new Rng(seed);
  const weights = new Map(probe.source.weights.map((w) => [w.name, { shape: w.shape, data: rng.f32(w.data.length) }]));
  const text = source(c, residual);
  const target = backend === "wasm" ? "wasm" : "webgpu";
  const attempt = compile(text, { fileName: "t.cnn", weights: writeSafetensors(weights), target, ...options });
  if (!attempt.ok) {
    // Only a pool that does not fit the producer's output may be refused.
    if (attempt.diagnostics.some((d) => /pool|window/.test(d.message))) return undefined;
    throw new Error(`${text}\n${attempt.diagnostics.map((d) => d.message).join("\n")}`);
  }
  const inputs = attempt.source.inputs.map((io) => {
    const shape = D.evalDims(attempt.source.values[io.value].shape, {});
    return { name: io.name, shape, data: rng.f32(shape.reduce((a, b) => a * b, 1), 2) };
  });
  const net = await attempt.load({ backend });
  try {
    const got = await net.run(Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, shape: t.shape }])));
    const want = interpret(attempt.source, new Map(inputs.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data) }])));
    const y = want.get("y");
    if (!y) throw new Error("no output y");
    expect(got.y.shape).toEqual([1, ...y.shape]);
    expect(got.y.data.length).toBe(y.data.length);
    let diff = 0;
    let scale = 0;
    y.data.forEach((v, i) => {
      const d = Math.abs(v - got.y.data[i]);
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
      scale = Math.max(scale, Math.abs(v));
    });
    return { error: diff / Math.max(scale, 1e-30), errorMax1: diff / Math.max(scale, 1), fused: attempt };
  } finally {
    net.dispose();
  }
}

/** Random cases of one producer kind until `count` compiled; checks each is fused into one kernel. */
export async function runRandomCases(
  kind: Producer,
  count: number,
  seed: number,
  check: (c: Case, r: { error: number; errorMax1: number; fused: CompileSuccess }, seed: number) => void,
  backend: "wasm" | "webgpu" = "wasm",
  options: CompileOptions = {},
): Promise<void> {
  const rng = new Rng(seed);
  let ran = 0;
  let pooled = 0;
  let added = 0;
  for (let attempt = 0; ran < count && attempt < 10 * count; attempt++) {
    const c = randomCase(rng, kind);
    const caseSeed = seed * 100 + attempt;
    const r = await runCase(c, caseSeed, backend, options);
    if (!r) continue;
    ran++;
    // Everything after the producer is fused: one kernel (after the residual's own, if any),
    // but for a pool after a convolution that gets a faster algorithm than direct (fuse.ts).
    const steps = r.fused.plan.steps;
    const step = steps.find((s) => s.op.kind === kind);
    if (!step) throw new Error(`no ${kind} step`);
    const poolFused = c.pool !== undefined && (step.algorithm === undefined || step.algorithm.name === "direct");
    expect(steps.length, c.description).toBe((c.add && c.computedResidual ? 2 : 1) + (c.pool && !poolFused ? 1 : 0));
    expect(step.epilogue.some((e) => e.kind !== "activation"), c.description).toBe(c.add !== undefined);
    expect(step.pool !== undefined, c.description).toBe(poolFused);
    if (poolFused) pooled++;
    if (c.add) added++;
    check(c, r, caseSeed);
  }
  expect(ran).toBe(count);
  if (kind !== "dense" && options.algorithms?.p !== undefined && options.algorithms.p !== "direct") expect(pooled).toBe(0);
  else if (kind !== "dense" && (kind !== "conv" || options.algorithms?.p === "direct")) expect(pooled).toBeGreaterThan(count / 2);
  expect(added).toBeGreaterThan(count / 4);
}
