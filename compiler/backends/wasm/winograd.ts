// Winograd F(m x m, 3x3) convolution, m = 2 or 4 (matrices from algorithms/winograd.ts,
// derived from their interpolation points). The kernel transform U = G g G^T is done here at
// compile time and packed for the micro-kernel: per group and per transform position ξ
// (alpha^2 of them), the [O/g x C/g] matrix U_ξ in blocks of 4 filters. At run time, per
// batch of tiles (a few tile rows by a few quads of 4 horizontally adjacent tiles, so that
// scratch stays bounded):
//   1. input transform: for each quad and channel, the alpha x alpha input tiles of the four
//      tiles as alpha^2 vectors (lane = tile; lane loads, masked to zero in the padding: the
//      lane masks are computed once per quad),
//      V = B^T d B with the constant matrix unrolled (zeros skipped, ±1 as add/sub), stored as
//      the B operand of alpha^2 GEMMs: V_ξ [C/g x tiles];
//   2. the batched GEMM: M_ξ = U_ξ V_ξ for every ξ, on the same 4x8 micro-kernel as im2col
//      (alpha^2 * C/g multiplies per output tile and filter instead of m^2 * 9 * C/g);
//   3. output transform: Y = A^T M A per filter and quad (four tiles per vector), plus bias
//      and epilogue; a 4x4 transpose (m = 4) or a lane zip (m = 2) turns the tile lanes into
//      runs of consecutive outputs for vector stores.
// Boundary tiles compute padding zeros and their outputs past the edge are not stored.

import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import { transformKernel, winogradMatrices, type WinogradMatrices } from "../../algorithms/winograd.js";
import type { Expr, Int, Var } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dims } from "./dims.js";
import { overread } from "./gemm.js";
import { parallelNest } from "./threads.js";
import {
  type AlgorithmKernel,
  int,
  type KernelAddresses,
  intLocal,
  lanes,
  microKernel,
  OutputWriter,
  rangeMask,
  splat,
  stepWeights,
  TableBuilder,
  transpose4,
  vec,
  zero,
} from "./simd.js";

/** Scratch for one batch of tiles (V and M): at most about this many bytes (L2 holds it with room to spare). */
const BATCH_BYTES = 768 * 1024;

export interface WinogradTiling {
  /** Tile rows per batch. */
  readonly rows: number;
  /** Quads (4 tiles along a tile row) per batch row. */
  readonly seg: number;
  readonly quads: number;
  readonly quadsPadded: number;
}

/**
 * Batches of whole tile rows where they fit, else of equal segments of a row: the quads a
 * batch computes past the image's edge are wasted work, so a 14-tile row is one batch of 4
 * quads (2 tiles wasted), not segments of 3 + 1 quads padded to 4 + 4.
 */
export function winogradTiling(m: number, Cg: number, Og: number, tileCols: number | undefined, tileRows: number | undefined): WinogradTiling {
  const alpha2 = (m + 2) ** 2;
  const perQuad = alpha2 * (Cg + Math.ceil(Og / 4) * 4) * 16;
  const most = Math.max(2, Math.floor(BATCH_BYTES / perQuad));
  const rowQuads = tileCols !== undefined ? Math.ceil(tileCols / 4) : 4;
  const segments = Math.ceil(rowQuads / most);
  const seg = Math.ceil(rowQuads / segments);
  let rows = Math.max(1, Math.floor(most / seg));
  if (tileRows !== undefined) rows = Math.min(rows, tileRows);
  // An odd quad count is padded to even: prefer one row fewer over a padded quad per batch.
  if ((rows * seg) % 2 === 1 && rows > 1) rows -= 1;
  const q = rows * seg;
  return { rows, seg, quads: q, quadsPadded: Math.ceil(q / 2) * 2 };
}

/** U_ξ for every group and ξ, in blocks of 4 filters: [g][ξ][block][c][4]. */
function packKernels(op: ConvOp, weights: Float32Array, C: number, w: WinogradMatrices): Float32Array {
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const blocks = Math.ceil(Og / 4);
  const A2 = w.alpha * w.alpha;
  const out = new Float32Array(op.groups * A2 * blocks * Cg * 4);
  for (let o = 0; o < op.filters; o++) {
    const g = Math.floor(o / Og);
    const ol = o % Og;
    for (let c = 0; c < Cg; c++) {
      const u = transformKernel(w, weights, (o * Cg + c) * 9, op.flip);
      for (let xi = 0; xi < A2; xi++) out[((((g * A2 + xi) * blocks + Math.floor(ol / 4)) * Cg + c) * 4) + (ol % 4)] = u[xi];
    }
  }
  return out;
}

export function prepareWinograd(step: Step, plan: Plan, op: ConvOp, m: 2 | 4): AlgorithmKernel {
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const w = winogradMatrices(m, 3);
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const [Ho, Wo] = step.output.shape.slice(1);
  const tiling = winogradTiling(m, Cg, Og, typeof Wo === "number" ? Math.ceil(Wo / m) : undefined, typeof Ho === "number" ? Math.ceil(Ho / m) : undefined);
  const tables = new TableBuilder();
  tables.add(packKernels(op, stepWeights(step, plan.weightData), C, w));
  const A2 = w.alpha * w.alpha;
  return {
    tables: tables.build(),
    scratchBytes: A2 * tiling.quadsPadded * (Cg + Math.ceil(Og / 4) * 4) * 16,
    overreadBytes: overread(op, 4 * m + w.alpha),
    emit: (ctx, at) => emitWinograd(ctx, op, w, tiling, at),
  };
}

/** T X for a constant matrix T (rows x n) and n rows of vector locals X[i][j]: new locals. */
function leftMultiply(ctx: KernelContext, T: readonly (readonly number[])[], X: readonly (readonly Var[])[]): Var[][] {
  const { fn } = ctx;
  const m = fn.m;
  return T.map((row) =>
    X[0].map((_, j) => {
      let acc: Expr | undefined;
      row.forEach((t, i) => {
        if (t === 0) return;
        const x = X[i][j].get();
        if (acc === undefined) acc = t === 1 ? x : t === -1 ? m.f32x4.neg(x) : m.f32x4.mul(splat(m, t), x);
        else if (t === 1) acc = m.f32x4.add(acc, x);
        else if (t === -1) acc = m.f32x4.sub(acc, x);
        else acc = m.f32x4.add(acc, m.f32x4.mul(splat(m, t), x));
      });
      return vec(fn, acc ?? zero(m));
    }),
  );
}

/** T X T^T. */
function sandwich(ctx: KernelContext, T: readonly (readonly number[])[], X: readonly (readonly Var[])[]): Var[][] {
  const left = leftMultiply(ctx, T, X);
  // (T X) T^T = (T (T X)^T)^T: transpose the locals (free), multiply, transpose back.
  const t = left[0].map((_, j) => left.map((r) => r[j]));
  const both = leftMultiply(ctx, T, t);
  return both[0].map((_, j) => both.map((r) => r[j]));
}

function emitWinograd(ctx: KernelContext, op: ConvOp, w: WinogradMatrices, tiling: WinogradTiling, at: KernelAddresses): void {
  const { fn } = ctx;
  const { tables: table, scratch } = at;
  const m = fn.m;
  const x = ctx.input(0);
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const [pt, pl] = dims(fn, geo.padBefore);
  const [H, W] = x.shape.slice(1);
  const [Ho, Wo] = ctx.output().shape.slice(1);
  const C = x.shape[0].constant as number;
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const blocks = Math.ceil(Og / 4);
  const { alpha } = w;
  const mt = w.m;
  const A2 = alpha * alpha;
  const { rows: TRB, seg: SEGQ, quads: Q, quadsPadded: QP } = tiling;
  const TH = fn.atEntry("wino.TH", () => Ho.ceilDiv(mt));
  const TW = fn.atEntry("wino.TW", () => Wo.ceilDiv(mt));
  const plane = fn.atEntry("wino.plane", () => H.mul(W));
  const outPlane = fn.atEntry("wino.outPlane", () => Ho.mul(Wo));
  const vBuf = scratch;
  const mBuf = fn.atEntry("wino.mbuf", () => scratch.add(A2 * QP * Cg * 16));
  const writer = new OutputWriter(ctx, op, at.spill);
  const staging = at.spill.add(16);

  // Threads take whole batches of tiles (threads.ts): V and M are in each thread's scratch.
  parallelNest(fn, [fn.const(op.groups), fn.let(TH.ceilDiv(TRB)), fn.let(TW.ceilDiv(SEGQ * 4))], ([g, bt, sb]) => {
    const t0 = int(fn, bt.mul(TRB));
    const q0 = int(fn, sb.mul(SEGQ));
    inputTransform(g, t0, q0);
    batchedGemm(g);
    outputTransform(g, t0, q0);
  });

  /** The quad's tile row and first tile column; `ok` when any of its tiles is real. */
  function quadAt(t0: Int, q0: Int, quad: Int): { ti: Int; tj0: Int; ok: Int } {
    const ti = int(fn, t0.add(quad.floorDiv(SEGQ)));
    const tj0 = int(fn, q0.add(quad.mod(SEGQ)).mul(4));
    const ok = intLocal(fn, m.i32.and(ti.lt(TH), tj0.lt(TW)));
    return { ti, tj0, ok };
  }

  function inputTransform(g: Int, t0: Int, q0: Int): void {
    fn.for(0, Q, (quad) => {
      const { ti, tj0, ok } = quadAt(t0, q0, quad);
      const body = fn.block(() => {
        const y0 = int(fn, ti.mul(mt).sub(pt), false);
        const x0 = int(fn, tj0.mul(mt).sub(pl), false);
        const channels = (masked: boolean) =>
          fn.block(() => {
            // Lane masks of each tile column offset j, and row validity of each i: once per quad.
            const colMask = masked ? Array.from({ length: alpha }, (_, j) => vec(fn, rangeMask(m, x0.add(j), mt, W))) : [];
            const rowOk = masked ? Array.from({ length: alpha }, (_, i) => intLocal(fn, m.i32.lt_u(y0.add(i).expr(), H.expr()))) : [];
            fn.for(0, Cg, (c) => {
              const rowBase = int(fn, x.base.add(g.mul(Cg).add(c).mul(plane).add(y0.mul(W)).add(x0).mul(4)), false);
              const d: Var[][] = [];
              for (let i = 0; i < alpha; i++) {
                d.push([]);
                for (let j = 0; j < alpha; j++) {
                  let v = zero(m);
                  for (let l = 0; l < 4; l++) {
                    const ptr = rowBase.add(W.mul(4 * i)).expr();
                    v = m.v128.load32_lane(4 * (j + l * mt), 4, l, ptr, v);
                  }
                  if (masked) v = m.v128.and(v, colMask[j].get());
                  d[i].push(vec(fn, zero(m)));
                  const cell = d[i][j];
                  if (masked) fn.emit(m.if(rowOk[i].expr(), cell.set(v)));
                  else fn.emit(cell.set(v));
                }
              }
              const V = sandwich(ctx, w.BT, d);
              const dst = int(fn, vBuf.add(quad.mul(Cg * 16)).add(c.mul(16)));
              for (let a = 0; a < alpha; a++) for (let b = 0; b < alpha; b++) {
                fn.emit(m.v128.store((a * alpha + b) * QP * Cg * 16, 16, dst.expr(), V[a][b].get()));
              }
            });
          });
        // One path for interior and boundary quads: the masks cost a few ANDs, a second copy of the transform would double the code.
        fn.emit(channels(true));
      });
      fn.emit(m.if(ok.expr(), body));
    });
  }

  function batchedGemm(g: Int): void {
    fn.for(0, A2, (xi) => {
      fn.for(0, QP / 2, (nb) => {
        const b0 = int(fn, vBuf.add(xi.mul(QP * Cg * 16)).add(nb.mul(2 * Cg * 16)));
        const b1 = int(fn, b0.add(Cg * 16));
        const block = (mb: Int, rows: number) => {
          const a = int(fn, g.mul(A2).add(xi).mul(blocks).add(mb).mul(Cg * 16).add(table));
          const acc = microKernel(fn, Cg, rows, a, b0, b1);
          for (let r = 0; r < rows; r++) {
            for (let h = 0; h < 2; h++) {
              const at = mBuf.add(mb.mul(4).add(r).mul(QP).add(nb.mul(2).add(h)).mul(A2 * 16)).add(xi.mul(16));
              fn.emit(m.v128.store(0, 16, at.expr(), acc[r][h].get()));
            }
          }
        };
        fn.for(0, Math.floor(Og / 4), (mb) => block(mb, 4));
        if (Og % 4) block(fn.const(Math.floor(Og / 4)), Og % 4);
      });
    });
  }

  function outputTransform(g: Int, t0: Int, q0: Int): void {
    fn.for(0, Og, (ol) => {
      const o = int(fn, g.mul(Og).add(ol));
      const bias = writer.channelBias(o);
      fn.for(0, Q, (quad) => {
        const { ti, tj0, ok } = quadAt(t0, q0, quad);
        const body = fn.block(() => {
          const src = int(fn, mBuf.add(ol.mul(QP).add(quad).mul(A2 * 16)));
          const M: Var[][] = [];
          for (let a = 0; a < alpha; a++) {
            M.push([]);
            for (let b = 0; b < alpha; b++) M[a].push(vec(fn, m.v128.load((a * alpha + b) * 16, 16, src.expr())));
          }
          const Y = sandwich(ctx, w.AT, M);
          // Consecutive outputs per vector: lane l of Y[a][b] is output column (tj0 + l)*m + b;
          // the runs go to the staging slots, and one loop stores them all.
          const R = mt === 4 ? 4 : 2;
          for (let a = 0; a < mt; a++) {
            const runs =
              mt === 4
                ? transpose4(fn, Y[a])
                : [0, 1].map((half) => vec(fn, m.i8x16.shuffle(Y[a][0].get(), Y[a][1].get(), lanes(half === 0 ? [0, 4, 1, 5] : [2, 6, 3, 7]))));
            runs.forEach((v, j) => fn.emit(m.v128.store((a * R + j) * 16, 16, staging.expr(), v.get())));
          }
          fn.for(0, mt, (a) => {
            const row = int(fn, ti.mul(mt).add(a));
            const stores = fn.block(() =>
              fn.for(0, R, (j) => {
                const c0 = int(fn, tj0.mul(mt).add(j.mul(4)));
                const v = vec(fn, m.v128.load(0, 16, a.mul(R).add(j).mul(16).add(staging).expr()));
                const flat = int(fn, o.mul(outPlane).add(row.mul(Wo)).add(c0));
                fn.emit(writer.run(v, o, flat, Wo.sub(c0), bias));
              }),
            );
            fn.emit(m.if(row.lt(Ho), stores));
          });
        });
        fn.emit(m.if(ok.expr(), body));
      });
    });
  }
}
