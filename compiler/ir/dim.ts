// Constructors for symbolic sizes that fold constants and simple identities, so that a
// fully static network never carries an expression tree, and printing for IR dumps and
// diagnostics. The tree itself is defined in runtime/dim.ts (the runtime evaluates it too).

import type { Dim, DimExpr } from "../../runtime/dim.js";
export type { Dim, DimExpr, DimEnv } from "../../runtime/dim.js";
export { evalDim, evalDims } from "../../runtime/dim.js";

export const sym = (name: string): Dim => ({ op: "sym", name });

export function isStatic(d: Dim): d is number {
  return typeof d === "number";
}

export function allStatic(ds: readonly Dim[]): ds is number[] {
  return ds.every(isStatic);
}

export function add(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (b === 0) return a;
  if (a === 0) return b;
  return { op: "add", a, b };
}

export function sub(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (b === 0) return a;
  return { op: "sub", a, b };
}

export function mul(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === 0 || b === 0) return 0;
  return { op: "mul", a, b };
}

export function floordiv(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.floor(a / b);
  if (b === 1) return a;
  return { op: "floordiv", a, b };
}

export function ceildiv(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.ceil(a / b);
  if (b === 1) return a;
  return { op: "ceildiv", a, b };
}

export function mod(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return ((a % b) + b) % b;
  if (b === 1) return 0;
  return { op: "mod", a, b };
}

export function max(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.max(a, b);
  return { op: "max", a, b };
}

export function min(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.min(a, b);
  return { op: "min", a, b };
}

export function product(ds: readonly Dim[]): Dim {
  return ds.reduce<Dim>((p, d) => mul(p, d), 1);
}

/** Structural equality: enough to compare shapes of `a + b` operands. */
export function dimEquals(a: Dim, b: Dim): boolean {
  if (typeof a === "number" || typeof b === "number") return a === b;
  if (a.op === "sym" || b.op === "sym") return a.op === b.op && (a as { name: string }).name === (b as { name: string }).name;
  return a.op === b.op && dimEquals(a.a, b.a) && dimEquals(a.b, b.b);
}

/** Symbols a size depends on. */
export function dimSymbols(d: Dim, into: Set<string> = new Set()): Set<string> {
  if (typeof d === "number") return into;
  if (d.op === "sym") into.add(d.name);
  else {
    dimSymbols(d.a, into);
    dimSymbols(d.b, into);
  }
  return into;
}

const infix: Partial<Record<DimExpr["op"], string>> = { add: "+", sub: "-", mul: "*", floordiv: "//", mod: "%" };

export function printDim(d: Dim): string {
  if (typeof d === "number") return String(d);
  if (d.op === "sym") return d.name;
  const op = infix[d.op];
  if (op) return `(${printDim(d.a)} ${op} ${printDim(d.b)})`;
  return `${d.op}(${printDim(d.a)}, ${printDim(d.b)})`;
}

export function printShape(ds: readonly Dim[]): string {
  return `[${ds.map(printDim).join(", ")}]`;
}
