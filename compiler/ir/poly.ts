// Canonical form of symbolic sizes: a polynomial with integer coefficients over "atoms"
// (symbols, and the non-linear pieces floor/ceil division, mod, max, min, kept whole). Sums
// and products of sizes are normalised through it, so `(H + 2) - 2` is `H`, the FLOPs of a
// network total to one `c * H * W` term, and two spellings of one size compare equal.

import type { Dim, DimExpr } from "../../runtime/dim.js";

type Atom = Exclude<DimExpr, { op: "add" | "sub" | "mul" }>;
interface Term {
  coeff: number;
  /** Atoms of the monomial with their keys, sorted by key. */
  atoms: { key: string; atom: Atom }[];
}
export type Poly = Map<string, Term>;

const monoKey = (atoms: Term["atoms"]) => atoms.map((a) => a.key).join("*");

/**
 * Keys and printed forms are remembered per tree node: a size after n stacked pools nests n
 * divisions, and recomputing each child's text at every level made printing 2^n work.
 */
const keys = new WeakMap<DimExpr, string>();
const printed = new WeakMap<DimExpr, string>();

function atomKey(a: Atom): string {
  if (a.op === "sym") return a.name;
  let k = keys.get(a);
  if (k === undefined) {
    k = `${a.op}(${printDim(a.a)},${printDim(a.b)})`;
    keys.set(a, k);
  }
  return k;
}

function addTerm(p: Poly, t: Term): void {
  const key = monoKey(t.atoms);
  const old = p.get(key);
  const coeff = (old?.coeff ?? 0) + t.coeff;
  if (coeff === 0) p.delete(key);
  else p.set(key, { coeff, atoms: t.atoms });
}

export function toPoly(d: Dim): Poly {
  const p: Poly = new Map();
  if (typeof d === "number") {
    if (d !== 0) p.set("", { coeff: d, atoms: [] });
    return p;
  }
  switch (d.op) {
    case "add":
    case "sub": {
      const a = toPoly(d.a);
      const s = d.op === "add" ? 1 : -1;
      for (const t of toPoly(d.b).values()) addTerm(a, { coeff: s * t.coeff, atoms: t.atoms });
      return a;
    }
    case "mul": {
      const a = toPoly(d.a);
      const b = toPoly(d.b);
      for (const x of a.values()) {
        for (const y of b.values()) {
          const atoms = [...x.atoms, ...y.atoms].sort((u, v) => (u.key < v.key ? -1 : u.key > v.key ? 1 : 0));
          addTerm(p, { coeff: x.coeff * y.coeff, atoms });
        }
      }
      return p;
    }
    default:
      p.set(atomKey(d), { coeff: 1, atoms: [{ key: atomKey(d), atom: d }] });
      return p;
  }
}

/** Rebuilds a Dim from a polynomial: terms with the most atoms first, the constant last. */
export function fromPoly(p: Poly): Dim {
  const terms = [...p.values()].sort((a, b) => b.atoms.length - a.atoms.length || (monoKey(a.atoms) < monoKey(b.atoms) ? -1 : 1));
  let out: Dim | undefined;
  for (const t of terms) {
    let m: Dim = Math.abs(t.coeff);
    for (const a of t.atoms) m = m === 1 ? a.atom : { op: "mul", a: m, b: a.atom };
    if (out === undefined) out = t.coeff < 0 ? { op: "sub", a: 0, b: m } : m;
    else out = { op: t.coeff < 0 ? "sub" : "add", a: out, b: m };
  }
  return out ?? 0;
}

/** The constant c when every coefficient of p is a multiple of c (p / c is exact). */
export function divideExact(p: Poly, c: number): Poly | undefined {
  const q: Poly = new Map();
  for (const [k, t] of p) {
    if (t.coeff % c !== 0) return undefined;
    q.set(k, { coeff: t.coeff / c, atoms: t.atoms });
  }
  return q;
}

function printTermAtom(a: Atom): string {
  if (a.op === "sym") return a.name;
  switch (a.op) {
    case "floordiv":
      return `floor(${printDim(a.a)} / ${printDim(a.b)})`;
    case "ceildiv":
      return `ceil(${printDim(a.a)} / ${printDim(a.b)})`;
    case "mod":
      return `(${printDim(a.a)} mod ${printDim(a.b)})`;
    default:
      return `${a.op}(${printDim(a.a)}, ${printDim(a.b)})`;
  }
}

/** `16*H*W + 3`, `ceil(H / 2)`, `floor(H / 2)*2 - 1`. */
export function printDim(d: Dim): string {
  if (typeof d === "number") return String(d);
  let text = printed.get(d);
  if (text === undefined) {
    text = printFresh(d);
    printed.set(d, text);
  }
  return text;
}

function printFresh(d: DimExpr): string {
  const terms = [...toPoly(d).values()].sort((a, b) => b.atoms.length - a.atoms.length);
  if (terms.length === 0) return "0";
  return terms
    .map((t, i) => {
      const parts = t.atoms.map((a) => printTermAtom(a.atom));
      const c = Math.abs(t.coeff);
      const body = parts.length === 0 ? String(c) : c === 1 ? parts.join("*") : `${c}*${parts.join("*")}`;
      const sign = t.coeff < 0 ? (i === 0 ? "-" : " - ") : i === 0 ? "" : " + ";
      return sign + body;
    })
    .join("");
}

/**
 * Whether a >= b for every binding of the symbols (each symbol is a size, so >= 1; other
 * atoms such as floor(H / 2) are >= 0). Sound, not complete: false means "not known".
 */
export function knownAtLeast(a: Dim, b: Dim): boolean {
  if (typeof a === "number" && typeof b === "number") return a >= b;
  const diff = toPoly({ op: "sub", a, b });
  let least = 0;
  for (const t of diff.values()) {
    if (t.atoms.length === 0) least += t.coeff;
    else if (t.coeff < 0) return false;
    else if (t.atoms.every((x) => x.atom.op === "sym")) least += t.coeff;
  }
  return least >= 0;
}
