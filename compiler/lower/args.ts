// Binding and checking a call's arguments against an op's signature: positional then
// named, no unknown or repeated names, each value coerced to what the op expects (a count,
// a per-axis size like `5x5`, a padding form, a word from a fixed set). Every mismatch is a
// diagnostic at the argument; the reader then reports `ok === false` and the caller builds
// no node, so one mistake does not cascade.

import type { Arg, Expr, ListExpr } from "../../dsl/ast.js";
import type { DiagnosticLog } from "../diagnostics.js";
import type { PadSpec } from "../ir/ops.js";
import type { SourceFile, Span } from "../source.js";
import { didYouMean } from "../suggest.js";
import { sizeTooLarge } from "../limits.js";

/** Resolves a bare name to the constant expression it is bound to (block parameters), if any. */
export type ConstResolver = (e: Expr) => Expr;

export interface Signature {
  /** Names of the positional parameters, in order. */
  readonly positional: readonly string[];
  /** Names accepted only by name. */
  readonly named: readonly string[];
  /** Positional parameters that must be given. */
  readonly required?: readonly string[];
}

export function describe(e: Expr): string {
  switch (e.kind) {
    case "number":
      return String(e.value);
    case "size":
      return e.dims.join("x");
    case "string":
      return "a string";
    case "bool":
      return String(e.value);
    case "name":
      return `'${e.name.name}'`;
    case "neg":
      return e.operand.kind === "number" ? String(-e.operand.value) : "a negated expression";
    case "list":
      return "a list";
    case "call":
      return `'${e.callee.name}(...)'`;
    case "pipe":
    case "binary":
    case "repeat":
      return "a tensor expression";
  }
}

/** The numeric value of a literal number, or of `-number`. */
export function literalNumber(e: Expr): number | undefined {
  if (e.kind === "number") return e.value;
  if (e.kind === "neg") {
    const v = literalNumber(e.operand);
    return v === undefined ? undefined : -v;
  }
  return undefined;
}

export class ArgReader {
  private readonly values = new Map<string, Arg>();
  ok = true;

  constructor(
    private readonly log: DiagnosticLog,
    private readonly file: SourceFile,
    readonly opName: string,
    private readonly callSpan: Span,
    private readonly resolve: ConstResolver,
    sig: Signature,
    args: readonly Arg[],
  ) {
    const known = [...sig.positional, ...sig.named];
    let position = 0;
    for (const a of args) {
      let name: string;
      if (a.name) {
        name = a.name.name;
        if (!known.includes(name)) {
          this.fail(`${opName} has no argument '${name}'${didYouMean(name, known)}`, a.name.span);
          continue;
        }
      } else {
        if (position >= sig.positional.length) {
          const n = sig.positional.length;
          this.fail(
            `${opName} takes ${n === 0 ? "no" : `at most ${n}`} positional argument${n === 1 ? "" : "s"}`,
            a.span,
          );
          continue;
        }
        name = sig.positional[position++];
      }
      if (this.values.has(name)) {
        this.fail(`argument '${name}' of ${opName} is given twice`, a.span);
        continue;
      }
      this.values.set(name, a);
    }
    for (const r of sig.required ?? []) {
      if (!this.values.has(r)) this.fail(`${opName} needs the argument '${r}'`, callSpan);
    }
  }

  fail(message: string, span: Span): undefined {
    this.log.error(message, this.file, span);
    this.ok = false;
    return undefined;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The argument's expression with constants resolved, or undefined when not given. */
  expr(name: string): Expr | undefined {
    const a = this.values.get(name);
    return a ? this.resolve(a.value) : undefined;
  }

  span(name: string): Span {
    return this.values.get(name)?.value.span ?? this.callSpan;
  }

  private expected(name: string, what: string, e: Expr): undefined {
    return this.fail(`argument '${name}' of ${this.opName} expects ${what}, but got ${describe(e)}`, e.span);
  }

  /** A whole number >= min. */
  int(name: string, fallback: number, min?: number): number;
  int(name: string, fallback: undefined, min?: number): number | undefined;
  int(name: string, fallback: number | undefined, min = 1): number | undefined {
    const e = this.expr(name);
    if (!e) return fallback;
    const v = literalNumber(e);
    if (v === undefined || !Number.isInteger(v)) return this.expected(name, "a whole number", e);
    if (v < min) return this.fail(`argument '${name}' of ${this.opName} must be at least ${min}, got ${v}`, e.span);
    const big = sizeTooLarge(v);
    if (big) return this.fail(`argument '${name}' of ${this.opName}: ${big}`, e.span);
    return v;
  }

  number(name: string, fallback: number): number;
  number(name: string, fallback: undefined): number | undefined;
  number(name: string, fallback: number | undefined): number | undefined {
    const e = this.expr(name);
    if (!e) return fallback;
    const v = literalNumber(e);
    if (v === undefined) return this.expected(name, "a number", e);
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const e = this.expr(name);
    if (!e) return fallback;
    if (e.kind === "bool") return e.value;
    this.expected(name, "true or false", e);
    return fallback;
  }

  /** One of a fixed set of bare words (`channel`, `none`). */
  word<W extends string>(name: string, words: readonly W[], fallback: W): W {
    const e = this.expr(name);
    if (!e) return fallback;
    if (e.kind === "name" && (words as readonly string[]).includes(e.name.name)) return e.name.name as W;
    this.expected(name, words.map((w) => `'${w}'`).join(" or "), e);
    return fallback;
  }

  /**
   * A size per spatial axis: `5` (every axis), `5x5`, or `[5, 5]`; each >= min. `rank` is the
   * number of spatial axes of the input, so `5x5` on a 1-D input is a diagnostic.
   */
  size(name: string, rank: number, fallback: number | undefined, min = 1): number[] | undefined {
    const e = this.expr(name);
    if (!e) return fallback === undefined ? undefined : new Array<number>(rank).fill(fallback);
    let dims: number[] | undefined;
    if (e.kind === "number" && Number.isInteger(e.value)) dims = new Array<number>(rank).fill(e.value);
    else if (e.kind === "size") dims = [...e.dims];
    else if (e.kind === "list") dims = this.intList(e);
    if (!dims) return this.expected(name, `a size such as 3 or ${new Array<number>(Math.max(rank, 1)).fill(3).join("x")}`, e);
    if (dims.length !== rank) {
      const axes = (n: number) => `${n} ${n === 1 ? "axis" : "axes"}`;
      const sp = rank === 1 ? "spatial axis" : "spatial axes";
      return this.fail(`${name} ${dims.join("x")} has ${axes(dims.length)} but the input has ${rank} ${sp}`, e.span);
    }
    const bad = dims.find((d) => d < min);
    if (bad !== undefined) return this.fail(`argument '${name}' of ${this.opName} must be at least ${min} on every axis, got ${bad}`, e.span);
    const big = dims.map(sizeTooLarge).find((m) => m);
    if (big) return this.fail(`argument '${name}' of ${this.opName}: ${big}`, e.span);
    return dims;
  }

  private intList(e: ListExpr): number[] | undefined {
    const out: number[] = [];
    for (const it of e.items) {
      const v = literalNumber(this.resolve(it));
      if (v === undefined || !Number.isInteger(v)) return undefined;
      out.push(v);
    }
    return out;
  }

  /** `valid | same | full | 2 | [1, 2] | [[t, b], [l, r]]`. */
  pad(name: string, rank: number): PadSpec | undefined {
    const e = this.expr(name);
    if (!e) return { kind: "valid" };
    if (e.kind === "name" && (e.name.name === "valid" || e.name.name === "same" || e.name.name === "full")) {
      return { kind: e.name.name };
    }
    const what = "'valid', 'same', 'full', a number, a list per axis or a list of [before, after] pairs";
    const n = literalNumber(e);
    if (n !== undefined) {
      if (!Number.isInteger(n) || n < 0) return this.expected(name, what, e);
      const big = sizeTooLarge(n);
      if (big) return this.fail(`argument '${name}' of ${this.opName}: ${big}`, e.span);
      const all = new Array<number>(rank).fill(n);
      return { kind: "explicit", before: all, after: all };
    }
    if (e.kind !== "list") return this.expected(name, what, e);
    if (e.items.length !== rank) {
      return this.fail(`pad has ${e.items.length} entries but the input has ${rank} spatial ${rank === 1 ? "axis" : "axes"}`, e.span);
    }
    const before: number[] = [];
    const after: number[] = [];
    for (const raw of e.items) {
      const it = this.resolve(raw);
      const v = literalNumber(it);
      if (v !== undefined && Number.isInteger(v) && v >= 0) {
        before.push(v);
        after.push(v);
        continue;
      }
      const pair = it.kind === "list" ? this.intList(it) : undefined;
      if (!pair || pair.length !== 2 || pair.some((p) => p < 0)) return this.expected(name, what, e);
      before.push(pair[0]);
      after.push(pair[1]);
    }
    const big = [...before, ...after].map(sizeTooLarge).find((m) => m);
    if (big) return this.fail(`argument '${name}' of ${this.opName}: ${big}`, e.span);
    return { kind: "explicit", before, after };
  }
}
