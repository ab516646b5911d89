// Multithreading (issue 6), the compiler's side. Every step function takes, after the plan's
// size symbols, three more i32 parameters: the thread's index `tid` (whose scratch to use),
// and a part `p` of `parts` (which share of the work to do); `run` passes 0, 0, 1: one thread
// is today's code path, its outermost loop bounds computed once per step instead of folded.
// A kernel that can split its work calls `parallelFor` on its outermost loop whose iterations
// write disjoint outputs (output-channel blocks, tiles, strips): part p runs iterations
// [p q + min(p, r), (p + 1) q + min(p + 1, r)) with T = q parts + r, each exactly as one thread runs it, so the
// results are bit-identical for any split. Such a step is listed as parallel in the manifest;
// the runtime (runtime/threads.ts) cuts it into more parts than threads, which the threads
// claim one at a time (so a thread the OS is slow to wake costs at most a part), and runs
// every other step on the main thread alone. Scratch and the spill slot are per thread
// (module.ts), so threads share nothing they write.
//
// The parameters are named like size symbols that no user can write (`@tid`), so `Fn` reads
// them with `symbol()` and needs no change.

import { binaryen } from "./binaryen.js";
import * as D from "../../ir/dim.js";
import type { Step } from "../../plan/plan.js";
import { type Fn, Int } from "./builder.js";

export const TID = "@tid";
const PART = "@part";
const PARTS = "@parts";

/** The parameters of a step function: the plan's symbols, then tid, part and parts. */
export function stepParams(symbols: readonly string[]): string[] {
  return [...symbols, TID, PART, PARTS];
}

const parallelFns = new WeakSet<Fn>();

/** Whether the function split a loop across threads. */
export function isParallel(fn: Fn): boolean {
  return parallelFns.has(fn);
}

/**
 * `for (i = 0; i < total; i++) body(i)`, this thread's contiguous share of it. Iterations must
 * write disjoint memory (apart from the thread's own scratch); one such loop per function, with
 * nothing outside it that writes memory, because threads meet only at the end of the step.
 */
export function parallelFor(fn: Fn, total: Int | number, body: (i: Int) => void): void {
  if (parallelFns.has(fn)) throw new Error("internal error: a step function splits two loops across threads");
  parallelFns.add(fn);
  const m = fn.m;
  const T = typeof total === "number" ? fn.const(total) : fn.let(total);
  const part = fn.symbol(PART);
  const parts = fn.symbol(PARTS);
  // Part p starts at p q + min(p, r), with T = q parts + r: the first r parts get one more
  // iteration. No product of T and p, which could pass 2^32 (T may count rows of a volume).
  const q = fn.let(Int.of(m, () => m.i32.div_u(T.expr(), parts.expr()), true));
  const r = fn.let(Int.of(m, () => m.i32.rem_u(T.expr(), parts.expr()), true));
  const start = (p: Int) => fn.let(p.mul(q).add(p.min(r)));
  const lo = start(part);
  const hi = start(part.add(1));
  fn.for(lo, hi, body);
}

/** Loops nested over `counts` (outermost first) as one split loop over their product; the body gets the indices. */
export function parallelNest(fn: Fn, counts: readonly Int[], body: (indices: Int[]) => void): void {
  const total = counts.reduce<Int>((p, c) => p.mul(c), fn.const(1));
  parallelFor(fn, total, (flat) => {
    const indices: Int[] = [];
    let rest = flat;
    for (let a = counts.length - 1; a >= 0; a--) {
      const c = counts[a];
      if (a === 0) indices[a] = rest;
      else if (c.constant === 1) indices[a] = fn.const(0);
      else {
        indices[a] = fn.let(unsignedRem(fn, rest, c));
        rest = fn.let(unsignedDiv(fn, rest, c));
      }
    }
    body(indices);
  });
}

// Indices and counts are never negative: plain unsigned division (Int's floorDiv takes the
// signed path when the divisor is not a constant).
function unsignedDiv(fn: Fn, a: Int, b: Int): Int {
  if (a.constant !== undefined && b.constant !== undefined) return fn.const(Math.floor(a.constant / b.constant));
  return Int.of(fn.m, () => fn.m.i32.div_u(a.expr(), b.expr()), true);
}

function unsignedRem(fn: Fn, a: Int, b: Int): Int {
  if (a.constant !== undefined && b.constant !== undefined) return fn.const(a.constant % b.constant);
  return Int.of(fn.m, () => fn.m.i32.rem_u(a.expr(), b.expr()), true);
}

/** Multiply-adds below which splitting a step costs more in waking threads and meeting than it saves. */
const PARALLEL_MIN_WORK = 1 << 17;
let minWork = PARALLEL_MIN_WORK;

/** Runs `f` (a compilation) with every step that can split marked parallel, however small: for tests. */
export function splittingEverything<T>(f: () => T): T {
  const saved = minWork;
  minWork = 0;
  try {
    return f();
  } finally {
    minWork = saved;
  }
}

/**
 * Whether a step that can split is worth splitting: its multiply-adds, about (output elements,
 * before a fused pool) x (weights per output channel), or its elements for an op without
 * weights. Symbolic sizes: assumed large.
 */
export function worthSplitting(step: Step): boolean {
  const output = D.product(step.pool ? step.pool.inShape : step.output.shape);
  const input = step.inputs.length ? D.product(step.inputs[0].shape) : 0;
  if (typeof input !== "number" || typeof output !== "number") return true;
  const channels = step.output.shape[0];
  const work = step.weight && typeof channels === "number" && channels > 0 ? output * (step.weight.length / channels) : Math.max(input, output);
  return work >= minWork;
}

/**
 * `step(index, syms..., tid, part, parts)`: calls step function `index` (a br_table over the steps), so
 * that the runtime drives the steps one at a time on every thread.
 */
export function emitStepDispatch(m: binaryen.Module, names: readonly string[], symbols: readonly string[]): void {
  const params = stepParams(symbols);
  const type = binaryen.createType([binaryen.i32, ...params.map(() => binaryen.i32)]);
  const args = () => params.map((_, i) => m.local.get(i + 1, binaryen.i32));
  // block $s_last (... block $s0 (br_table $s0..$s_last $done (index)) call step0; return ...)
  let inner = m.switch(
    names.map((_, i) => `s${i}`),
    "done",
    m.local.get(0, binaryen.i32),
  );
  names.forEach((name, i) => {
    inner = m.block(`s${i}`, [inner]);
    inner = m.block(null, [inner, m.call(name, args(), binaryen.none), m.return()]);
  });
  m.addFunction("step", type, binaryen.none, [], m.block("done", [inner]));
  m.addFunctionExport("step", "step");
}
