// What a training-step kernel is handed: the function under construction, the math imports,
// and addresses in the training module's memory (training-module.ts lays it out). Every
// tensor of a training step has a static shape (training specialises the sizes first), so
// each kernel is a loop nest over constants that binaryen unrolls and folds where it can.
// Sliding windows (conv, pool) read compile-time tap tables: for output position j and window
// offset n, the input position they meet (-1 in the padding), enumerated once by the same
// taps() the reference gradients use, so stride, padding, dilation and any number of spatial
// axes are one loop over (j, n) instead of a loop nest per rank.

import type { Weight } from "../../ir/graph.js";
import { type Expr, type Fn, type Int, View } from "./builder.js";
import type { MathImports } from "./math.js";

export interface GradKernelContext {
  readonly fn: Fn;
  readonly math: MathImports;
  /** The buffer of a training-graph value (one sample), flat. */
  value(id: number): View;
  /** A forward weight's tensor, flat. */
  weight(w: Weight): View;
  /** Places a compile-time table in memory (deduplicated by key); returns its byte address. */
  table(key: string, data: () => Int32Array | Float32Array): number;
  /** A float32 scratch buffer of `floats` elements for this kernel alone; returns its byte address. */
  scratch(floats: number): number;
  /**
   * A float32 buffer shared by every kernel that asks with the same key (the forward
   * convolution's im2col columns, which its kernel gradient reads again); `fresh` is true for
   * the first asker, which must fill it.
   */
  shared(key: string, floats: number): { readonly at: number; readonly fresh: boolean };
}

/** A flat view at a constant byte address. */
export function flatView(fn: Fn, address: number, length: number): View {
  return new View(fn, fn.const(address), [fn.const(length)]);
}

/** The i32 at index `i` of a table at byte address `base`. */
export function loadI32(fn: Fn, base: number, i: Int): Expr {
  return fn.m.i32.load(base, 4, i.mul(4).expr());
}

/** `if (cond) body` */
export function when(fn: Fn, cond: Expr, body: () => void): void {
  fn.emit(fn.m.if(cond, fn.block(body)));
}

/** dst[i] = 0 for i < n. */
export function zero(fn: Fn, dst: View, n: number): void {
  fn.for(0, n, (i) => fn.emit(dst.store(i, fn.m.f64.const(0))));
}

/** dst[i] = src[i] for i < n (reshape, flatten and their gradients). */
export function copy(fn: Fn, dst: View, src: View, n: number): void {
  fn.for(0, n, (i) => fn.emit(dst.store(i, src.load(i))));
}
