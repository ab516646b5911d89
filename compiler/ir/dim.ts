// Constructors for symbolic sizes that fold constants and simple identities, so that a
// fully static network never carries an expression tree, and printing for IR dumps and
// diagnostics. The tree itself is defined in runtime/dim.ts (the runtime evaluates it too).

import type { Dim } from "../../runtime/dim.js";
import { divideExact, fromPoly, knownAtLeast, printDim, toPoly } from "./poly.js";
export { knownAtLeast };
export type { Dim, DimExpr, DimEnv } from "../../runtime/dim.js";
export { evalDim, evalDims } from "../../runtime/dim.js";

export const sym = (name: string): Dim => ({ op: "sym", name });

export function isStatic(d: Dim): d is number {
  return typeof d === "number";
}

export function allStatic(ds: readonly Dim[]): ds is number[] {
  return ds.every(isStatic);
}

/** Sums and products go through the polynomial normal form (poly.ts), so sizes stay short. */
function normal(d: Dim): Dim {
  return fromPoly(toPoly(d));
}

export function add(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  return normal({ op: "add", a, b });
}

export function sub(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return normal({ op: "sub", a, b });
}

export function mul(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  return normal({ op: "mul", a, b });
}

export function floordiv(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.floor(a / b);
  if (b === 1) return a;
  if (typeof b === "number") {
    const q = divideExact(toPoly(a), b);
    if (q) return fromPoly(q);
    // floor(floor(x / m) / n) = floor(x / (m * n)) for positive integers.
    if (typeof a !== "number" && a.op === "floordiv" && typeof a.b === "number") return floordiv(a.a, a.b * b);
  }
  return { op: "floordiv", a, b };
}

export function ceildiv(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.ceil(a / b);
  if (b === 1) return a;
  if (typeof b === "number") {
    const q = divideExact(toPoly(a), b);
    if (q) return fromPoly(q);
    if (typeof a !== "number" && a.op === "ceildiv" && typeof a.b === "number") return ceildiv(a.a, a.b * b);
  }
  return { op: "ceildiv", a, b };
}

export function mod(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return ((a % b) + b) % b;
  if (b === 1) return 0;
  return { op: "mod", a, b };
}

export function max(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.max(a, b);
  if (knownAtLeast(a, b)) return a;
  if (knownAtLeast(b, a)) return b;
  // max(max(x, y), b) is max(x, y) when x or y is known to be at least b.
  if (typeof a !== "number" && a.op === "max" && (knownAtLeast(a.a, b) || knownAtLeast(a.b, b))) return a;
  return { op: "max", a, b };
}

export function min(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return Math.min(a, b);
  if (knownAtLeast(a, b)) return b;
  if (knownAtLeast(b, a)) return a;
  return { op: "min", a, b };
}

export function product(ds: readonly Dim[]): Dim {
  return ds.reduce<Dim>((p, d) => mul(p, d), 1);
}

/** Equality of canonical forms: enough to compare shapes of `a + b` operands. */
export function dimEquals(a: Dim, b: Dim): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b;
  return printDim(sub(a, b)) === "0";
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

export { printDim };

export function printShape(ds: readonly Dim[]): string {
  return `[${ds.map(printDim).join(", ")}]`;
}
