// Max and average pooling whose windows tile the input (stride = window, no padding, dilation
// or ceil mode: the common `maxpool(2)` after a convolution that keeps its pool apart) on
// SIMD lanes: four pooled outputs of the last axis per f32x4. Along the last axis a window of
// 1, 2 or 4 is one, two or four consecutive vectors reduced within (2: even and odd lanes by
// two shuffles; 4: a 4x4 transpose), and the windows' rows combine as whole vectors; the last
// axis's final partial group of four goes lane by lane. Every window is whole and real, so
// an average divides by the window's size. The scalar kernel (pool.ts) does every other pool.
//
// The outermost loop runs over channels x pooled rows: independent blocks of outputs.

import { parallelFor } from "./threads.js";
import type { PoolOp } from "../../ir/ops.js";
import type { Epilogue } from "../../plan/plan.js";
import type { Expr, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { activate, VECTOR_ACTIVATIONS } from "./direct-simd.js";
import { product } from "./dims.js";
import { int, lanes, splat, transpose4, vec, zero } from "./simd.js";

/** Whether the SIMD kernel computes this pool step (see the header). */
export function tilingPool(op: PoolOp, epilogue: readonly Epilogue[]): boolean {
  const d = op.window.length;
  const noPad = op.pad.kind === "valid" || (op.pad.kind === "explicit" && [...op.pad.before, ...op.pad.after].every((p) => p === 0));
  return (
    (op.mode === "max" || op.mode === "avg") &&
    noPad &&
    !op.ceil &&
    op.window.every((w, i) => w === op.stride[i]) &&
    op.dilation.every((r) => r === 1) &&
    [1, 2, 4].includes(op.window[d - 1]) &&
    epilogue.every((e) => e.kind === "activation" && VECTOR_ACTIVATIONS.has(e.fn))
  );
}

export function emitTilingPool(ctx: KernelContext, op: PoolOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const y = ctx.output();
  const M = x.shape.slice(1);
  const J = y.shape.slice(1);
  const d = M.length;
  const w = op.window;
  const wl = w[d - 1];
  const isMax = op.mode === "max";
  const vol = w.reduce((a, b) => a * b, 1);
  const lead = J.slice(0, d - 1);
  const rows = fn.atEntry("tpool.rows", () => x.shape[0].mul(product(lead, fn)));
  const Jl = J[d - 1];
  const Ml = M[d - 1];
  const full = fn.atEntry("tpool.full", () => Jl.floorDiv(4));
  const addr = (base: Int, flat: Int) => (base.constant !== undefined ? flat.mul(4).expr() : base.add(flat.mul(4)).expr());
  const xOff = x.base.constant ?? 0;
  const yOff = y.base.constant ?? 0;
  // pmax: one instruction where f32x4.max is about seven; as in pool-lanes.ts, a NaN in a window may be dropped.
  const combine = (a: Expr, b: Expr) => (isMax ? m.f32x4.pmax(a, b) : m.f32x4.add(a, b));
  const finish = (v: Expr) => activate(ctx.step.epilogue, isMax ? v : m.f32x4.mul(v, splat(m, 1 / vol)), fn);

  // Threads take whole rows (threads.ts).
  parallelFor(fn, rows, (row) => {
    // Channel and pooled leading coordinates of this row.
    const js: Int[] = [];
    let rest: Int = row;
    for (let i = d - 2; i >= 0; i--) {
      js[i] = int(fn, rest.mod(lead[i]));
      rest = int(fn, rest.floorDiv(lead[i]));
    }
    const c = rest;
    /** Visits every input row of the window: its flat row index (channel and leading coordinates). */
    const windowRows = (visit: (inRow: Int) => void) => {
      const walk = (axis: number, inRow: Int): void => {
        if (axis === d - 1) return visit(inRow);
        for (let t = 0; t < w[axis]; t++) walk(axis + 1, int(fn, inRow.mul(M[axis]).add(js[axis].mul(w[axis]).add(t))));
      };
      walk(0, c);
    };
    const outRow = int(fn, row.mul(Jl));
    fn.for(0, full, (q) => {
      const acc = vec(fn, isMax ? splat(m, -Infinity) : zero(m));
      windowRows((inRow) => {
        const at = int(fn, inRow.mul(Ml).add(q.mul(4 * wl)));
        const vs = Array.from({ length: wl }, (_, i) => vec(fn, m.v128.load(xOff + 16 * i, 4, addr(x.base, at))));
        let red: Expr;
        if (wl === 1) red = vs[0].get();
        else if (wl === 2) red = combine(m.i8x16.shuffle(vs[0].get(), vs[1].get(), lanes([0, 2, 4, 6])), m.i8x16.shuffle(vs[0].get(), vs[1].get(), lanes([1, 3, 5, 7])));
        else {
          const t = transpose4(fn, vs);
          red = combine(combine(t[0].get(), t[1].get()), combine(t[2].get(), t[3].get()));
        }
        fn.emit(acc.set(combine(acc.get(), red)));
      });
      fn.emit(m.v128.store(yOff, 4, addr(y.base, outRow.add(q.mul(4))), finish(acc.get())));
    });
    // The last axis's remaining outputs (fewer than four), one lane each.
    fn.for(full.mul(4), Jl, (j) => {
      const acc = vec(fn, isMax ? splat(m, -Infinity) : zero(m));
      windowRows((inRow) => {
        for (let t = 0; t < wl; t++) {
          const v = m.v128.load32_splat(xOff, 4, addr(x.base, inRow.mul(Ml).add(j.mul(wl)).add(t)));
          fn.emit(acc.set(combine(acc.get(), v)));
        }
      });
      fn.emit(m.f32.store(yOff, 4, addr(y.base, outRow.add(j)), m.f32x4.extract_lane(finish(acc.get()), 0)));
    });
  });
}
