// Gives every weight its numbers, in this order of precedence: a value written in the
// source (`weight: [[...]]`, `weight: sobel_x`, `weight: gaussian(sigma: 1.5)`), a tensor of
// the same name in the weights file (checked against the layer's shape), an initialiser the
// source asks for (`init: he(seed: 1)`), and otherwise a default (He-normal seeded from the
// weight's name, zero biases), which the tool reports so that nobody mistakes an untrained
// network for a trained one.

import type { Expr } from "../../dsl/ast.js";
import type { DiagnosticLog } from "../diagnostics.js";
import type { SourceFile } from "../source.js";
import { initialise, type InitSpec } from "../tensors/init.js";
import { namedKernel, NAMED_KERNELS } from "../tensors/kernels.js";
import type { StoredTensor } from "../tensors/safetensors.js";
import { didYouMean } from "../suggest.js";
import { describe, literalNumber } from "./args.js";
import type { PendingWeight } from "./lower.js";

export interface WeightsFile {
  readonly name: string;
  readonly tensors: ReadonlyMap<string, StoredTensor>;
}

/** Binds every pending weight; returns the layers that fell back to default initialisation. */
export function bindWeights(
  pending: readonly PendingWeight[],
  files: readonly WeightsFile[],
  log: DiagnosticLog,
  file: SourceFile,
): string[] {
  const defaulted = new Set<string>();
  const used = new Set<string>();
  for (const p of pending) {
    const w = p.weight;
    const shape = p.decl.shape;
    const size = shape.reduce((a, b) => a * b, 1);
    const source = p.decl.value ? p.resolve(p.decl.value) : undefined;
    const stored = files.map((f) => ({ f, t: f.tensors.get(w.name) })).find((x) => x.t !== undefined);
    if (p.decl.derive) {
      // Pending weights are in source order, so the constants these follow from are bound.
      w.data = p.decl.derive();
      w.source = { kind: "constant" };
      continue;
    }
    if (p.decl.constant !== undefined && !stored?.t) {
      const where = files.length ? `none of ${files.map((f) => f.name).join(", ")} holds it` : "no weights file is given (`weights \"file.safetensors\"` in the network, or --weights)";
      log.error(`constant '${p.decl.constant}' reads tensor '${w.name}' from the weights file, but ${where}${didYouMean(w.name, files.flatMap((f) => [...f.tensors.keys()]))}`, file, p.span);
      continue;
    }
    if (p.decl.constant !== undefined && stored?.t) {
      used.add(w.name);
      if (stored.t.shape.length !== shape.length || stored.t.shape.some((d, i) => d !== shape[i])) {
        log.error(`${stored.f.name}: tensor '${w.name}' has shape [${stored.t.shape.join(", ")}] but constant '${p.decl.constant}' is declared [${shape.join(", ")}]`, file, p.span);
        continue;
      }
      w.data = stored.t.data;
      w.source = { kind: "file", file: stored.f.name };
      continue;
    }
    if (source) {
      const data = fromSource(source, shape, p, log, file);
      if (data) {
        w.data = data.values;
        w.source = data.source;
      }
    } else if (stored?.t) {
      used.add(w.name);
      const also = p.decl.alsoShape;
      if (!sameShape(stored.t.shape, shape) && !(also && sameShape(stored.t.shape, also))) {
        log.error(
          `${stored.f.name}: tensor '${w.name}' has shape [${stored.t.shape.join(", ")}] but layer ${p.layer} needs [${shape.join(", ")}]${also ? ` (or [${also.join(", ")}])` : ""}`,
          file,
          p.span,
        );
        continue;
      }
      w.data = stored.t.data;
      w.source = { kind: "file", file: stored.f.name };
    } else if (p.decl.init) {
      const spec = initSpec(p.resolve(p.decl.init), p, log, file);
      if (spec) {
        w.data = initialise(spec.spec, shape, p.decl.fanIn, p.decl.fanOut);
        w.source = { kind: "init", description: spec.text, defaulted: false };
      }
    } else if (p.decl.fill !== undefined) {
      w.data = new Float32Array(size).fill(p.decl.fill);
      w.source = { kind: "init", description: `constant ${p.decl.fill}`, defaulted: true };
      if (p.decl.role === "weight") defaulted.add(p.layer);
    } else if (p.decl.role === "weight") {
      const seed = hashSeed(w.name);
      w.data = initialise({ kind: "he", seed }, shape, p.decl.fanIn, p.decl.fanOut);
      w.source = { kind: "init", description: `he(seed: ${seed})`, defaulted: true };
      defaulted.add(p.layer);
    } else {
      w.data = new Float32Array(size);
      w.source = { kind: "init", description: "zeros", defaulted: true };
    }
  }
  for (const f of files) {
    const all = [...pending.map((p) => p.weight.name)];
    for (const name of f.tensors.keys()) {
      if (!used.has(name) && !all.includes(name)) {
        log.warning(`${f.name}: tensor '${name}' matches no layer${didYouMean(name, all)}`, file);
      }
    }
  }
  return [...defaulted];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A stable 31-bit seed from a weight's name (FNV-1a), so default weights never change between runs. */
export function hashSeed(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}

function fromSource(
  e: Expr,
  shape: readonly number[],
  p: PendingWeight,
  log: DiagnosticLog,
  file: SourceFile,
): { values: Float32Array; source: PendingWeight["weight"]["source"] } | undefined {
  // One kernel for every filter and channel: only where the weight is [A, B, ...kernel].
  const spatial = p.decl.role === "weight" ? p.decl.kernel : undefined;
  const whole = p.decl.role === "weight" && !spatial && shape.length > 2 ? "; this layer takes its whole weight tensor (one kernel for every filter and channel is for conv, depthwise and deconv)" : "";
  if (e.kind === "list") {
    const flat: number[] = [];
    const dims = listShape(e, flat, p, log, file);
    if (!dims) return undefined;
    const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
    if (same(dims, shape) || (p.decl.alsoShape && same(dims, p.decl.alsoShape))) return { values: Float32Array.from(flat), source: { kind: "literal" } };
    if (spatial && same(dims, spatial)) return { values: replicate(flat, shape), source: { kind: "literal" } };
    log.error(
      `the weight literal has shape [${dims.join(", ")}] but layer ${p.layer} needs [${shape.join(", ")}]${p.decl.alsoShape ? ` or [${p.decl.alsoShape.join(", ")}]` : ""}${spatial ? ` (or one kernel of shape [${spatial.join(", ")}] for every filter and channel)` : whole}`,
      file,
      e.span,
    );
    return undefined;
  }
  if ((e.kind === "name" || e.kind === "call") && spatial) {
    const name = e.kind === "name" ? e.name.name : e.callee.name;
    const args: Record<string, number> = {};
    if (e.kind === "call") {
      for (const a of e.args) {
        const v = literalNumber(p.resolve(a.value));
        if (!a.name || v === undefined) {
          log.error(`arguments of the kernel '${name}' are named numbers, such as ${name}(sigma: 1.5)`, file, a.span);
          return undefined;
        }
        args[a.name.name] = v;
      }
    }
    const k = namedKernel(name, args, spatial);
    if (!k.ok) {
      log.error(k.error, file, e.span);
      return undefined;
    }
    return { values: replicate(Array.from(k.value), shape), source: { kind: "named", name } };
  }
  const kinds = spatial ? `a nested list of numbers or a named kernel (${NAMED_KERNELS.join(", ")})` : "a nested list of numbers";
  log.error(`argument 'weight' of layer ${p.layer} expects ${kinds}, but got ${describe(e)}${whole}`, file, e.span);
  return undefined;
}

/** Shape of a rectangular nested list of numbers, flattening it row-major into `flat`. */
function listShape(e: Expr, flat: number[], p: PendingWeight, log: DiagnosticLog, file: SourceFile): number[] | undefined {
  const r = p.resolve(e);
  const v = literalNumber(r);
  if (v !== undefined) {
    flat.push(v);
    return [];
  }
  if (r.kind !== "list" || r.items.length === 0) {
    log.error(`weight literals are nested lists of numbers, but this is ${describe(r)}`, file, r.span);
    return undefined;
  }
  let inner: number[] | undefined;
  for (const it of r.items) {
    const s = listShape(it, flat, p, log, file);
    if (!s) return undefined;
    if (inner && (inner.length !== s.length || inner.some((d, i) => d !== s[i]))) {
      log.error("the rows of this weight literal have different lengths", file, it.span);
      return undefined;
    }
    inner = s;
  }
  return [r.items.length, ...(inner ?? [])];
}

/** One spatial kernel copied to every (filter, channel) pair of the weight. */
function replicate(kernel: readonly number[], shape: readonly number[]): Float32Array {
  const total = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(total);
  for (let i = 0; i < total; i++) out[i] = kernel[i % kernel.length];
  return out;
}

const INITIALISERS = ["he", "glorot", "uniform", "normal", "zeros"];

function initSpec(e: Expr, p: PendingWeight, log: DiagnosticLog, file: SourceFile): { spec: InitSpec; text: string } | undefined {
  const name = e.kind === "name" ? e.name.name : e.kind === "call" ? e.callee.name : undefined;
  if (!name || !INITIALISERS.includes(name)) {
    const what = name ? `unknown initialiser '${name}'${didYouMean(name, INITIALISERS)}` : `argument 'init' expects an initialiser (${INITIALISERS.join(", ")}), but got ${describe(e)}`;
    log.error(what, file, e.span);
    return undefined;
  }
  const positional: number[] = [];
  const named: Record<string, number> = {};
  for (const a of e.kind === "call" ? e.args : []) {
    const v = literalNumber(p.resolve(a.value));
    if (v === undefined) {
      log.error(`arguments of the initialiser '${name}' are numbers, but got ${describe(a.value)}`, file, a.value.span);
      return undefined;
    }
    if (a.name) named[a.name.name] = v;
    else positional.push(v);
  }
  const allowed: Record<string, string[]> = {
    he: ["seed"],
    glorot: ["seed"],
    uniform: ["low", "high", "seed"],
    normal: ["mean", "std", "seed"],
    zeros: [],
  };
  const params = allowed[name];
  const values: Record<string, number> = {};
  for (const [i, v] of positional.entries()) {
    if (i >= params.length) {
      log.error(`${name} takes at most ${params.length} arguments (${params.join(", ")})`, file, e.span);
      return undefined;
    }
    values[params[i]] = v;
  }
  for (const [k, v] of Object.entries(named)) {
    if (!params.includes(k)) {
      log.error(`${name} has no argument '${k}'${didYouMean(k, params)}`, file, e.span);
      return undefined;
    }
    values[k] = v;
  }
  const seed = values.seed ?? hashSeed(p.weight.name);
  const text = `${name}(${Object.entries(values).map(([k, v]) => `${k}: ${v}`).join(", ")})`;
  switch (name) {
    case "he":
    case "glorot":
      return { spec: { kind: name, seed }, text };
    case "uniform": {
      const low = values.low ?? -0.05;
      const high = values.high ?? 0.05;
      if (!(high > low)) {
        log.error(`uniform needs low < high, got ${low} and ${high}`, file, e.span);
        return undefined;
      }
      return { spec: { kind: "uniform", low, high, seed }, text };
    }
    case "normal": {
      const std = values.std ?? 0.05;
      if (!(std >= 0)) {
        log.error(`normal needs a non-negative std, got ${std}`, file, e.span);
        return undefined;
      }
      return { spec: { kind: "normal", mean: values.mean ?? 0, std, seed }, text };
    }
    default:
      return { spec: { kind: "zeros" }, text };
  }
}
