// Dims (sizes that may depend on the input's size symbols) as i32 expressions. A constant
// stays a constant, so a static network's loops have constant bounds that binaryen can
// unroll and strength-reduce; a symbolic size is computed once at function entry from
// `run`'s parameters (each step function takes the same parameters) with the semantics of
// runtime/dim.ts (floor division, Python-style mod). Every node of the expression gets its
// own local, keyed by the node object: Dims are DAGs that share subtrees (an output size is
// used in the next layer's sizes twice over), and unfolding them would grow exponentially.

import type { Dim } from "../../ir/dim.js";
import { type Fn, Int } from "./builder.js";

export function dim(fn: Fn, d: Dim): Int {
  if (typeof d === "number") return fn.const(d);
  if (d.op === "sym") return fn.symbol(d.name);
  return fn.atEntry(d, () => lower(fn, d));
}

export function dims(fn: Fn, ds: readonly Dim[]): Int[] {
  return ds.map((d) => dim(fn, d));
}

/** The product of sizes (1 for none), e.g. the element count of a shape. */
export function product(xs: readonly Int[], fn: Fn): Int {
  return xs.reduce<Int>((p, x) => p.mul(x), fn.const(1));
}

function lower(fn: Fn, d: Dim): Int {
  if (typeof d === "number") return fn.const(d);
  if (d.op === "sym") return fn.symbol(d.name);
  const a = dim(fn, d.a);
  const b = dim(fn, d.b);
  switch (d.op) {
    case "add":
      return a.add(b);
    case "sub":
      return a.sub(b);
    case "mul":
      return a.mul(b);
    case "floordiv":
      return a.floorDiv(b);
    case "ceildiv":
      return a.ceilDiv(b);
    case "mod":
      return a.mod(b);
    case "max":
      return a.max(b);
    case "min":
      return a.min(b);
  }
}
