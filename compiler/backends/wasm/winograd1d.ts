// 1-D Winograd F(4, R) for 1-D convolutions at any stride (algorithms/winograd1d.ts: the
// polyphase split turns each input channel into s * chunks virtual channels of R taps at
// stride 1). Why: a 1-D layer with many channels (audio1d's 16->32 channels, 9 taps, stride 2)
// is a GEMM that already runs near the machine's multiply-add peak, so only fewer
// multiply-adds make it faster: alpha = R + 3 products per 4 outputs and virtual channel
// (8 per 4 outputs for 2 phases x 5 taps, against 9 * 4 per channel for GEMM: 2.25x fewer).
// Kernels are transformed and packed at compile time (U = G g, in blocks of 4 filters per
// point ξ, as the 2-D Winograd does). At run time, per batch of quads (4 adjacent tiles of
// 4 outputs, one tile per SIMD lane):
//   1. input transform, per quad and channel: the alpha values of each virtual channel's
//      4 tiles as alpha vectors (lane = tile), V = B^T d with the constant matrix unrolled,
//      stored as the GEMMs' B operands V_ξ [K x tiles]. Interior quads load each tile's input
//      run with plain vector loads and transpose 4x4 blocks into the strided columns (the
//      phases fall out of the columns for free); quads that touch the padding or the end
//      load lane by lane and mask;
//   2. the batched GEMM: M_ξ = U_ξ V_ξ for every ξ, on the 4x8 micro-kernel of im2col;
//   3. output transform: Y = A^T M per filter and quad, a 4x4 transpose into four runs of 4
//      consecutive outputs, bias and epilogue (ReLU fused) on the way out.

import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import { transformKernel1d, winograd1dPlan, type Winograd1dPlan } from "../../algorithms/winograd1d.js";
import type { Expr, Int, Var } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dims } from "./dims.js";
import { overread } from "./gemm.js";
import { parallelNest } from "./threads.js";
import {
  type AlgorithmKernel,
  int,
  type KernelAddresses,
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

/** Scratch for one batch of quads (V and M): at most about this many bytes (well inside L2). */
const BATCH_BYTES = 512 * 1024;
/** Quads per batch when the length is symbolic. */
const SYMBOLIC_QUADS = 16;

export interface Winograd1dTiling {
  /** Quads per batch, and that rounded up to even (the micro-kernel takes two at a time). */
  readonly quads: number;
  readonly quadsPadded: number;
}

/** Batches of equal quad counts that cover the row, each within BATCH_BYTES of scratch. */
export function winograd1dTiling(alpha: number, K: number, O: number, tiles: number | undefined): Winograd1dTiling {
  const perQuad = alpha * (K + Math.ceil(O / 4) * 4) * 16;
  const most = Math.max(2, Math.floor(BATCH_BYTES / perQuad));
  let quads = Math.min(most, SYMBOLIC_QUADS);
  if (tiles !== undefined) {
    const all = Math.ceil(tiles / 4);
    quads = Math.ceil(all / Math.ceil(all / most));
  }
  return { quads, quadsPadded: Math.ceil(quads / 2) * 2 };
}

/** U_ξ in blocks of 4 filters: [ξ][block][k][4], k = c * perChannel + v. */
function packKernels(op: ConvOp, weights: Float32Array, C: number, plan: Winograd1dPlan): Float32Array {
  const { alpha } = plan.w;
  const K = C * plan.perChannel;
  const blocks = Math.ceil(op.filters / 4);
  const out = new Float32Array(alpha * blocks * K * 4);
  for (let o = 0; o < op.filters; o++)
    for (let c = 0; c < C; c++)
      for (let v = 0; v < plan.perChannel; v++) {
        const u = transformKernel1d(plan, weights, op, C, o, c, v);
        const k = c * plan.perChannel + v;
        for (let xi = 0; xi < alpha; xi++) out[((xi * blocks + Math.floor(o / 4)) * K + k) * 4 + (o % 4)] = u[xi];
      }
  return out;
}

export function prepareWinograd1d(step: Step, plan: Plan, op: ConvOp): AlgorithmKernel {
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const wp = winograd1dPlan(op);
  const K = C * wp.perChannel;
  const Lo = step.output.shape[1];
  const tiling = winograd1dTiling(wp.w.alpha, K, op.filters, typeof Lo === "number" ? Math.ceil(Lo / 4) : undefined);
  const tables = new TableBuilder();
  tables.add(packKernels(op, stepWeights(step, plan.weightData), C, wp));
  return {
    tables: tables.build(),
    scratchBytes: wp.w.alpha * tiling.quadsPadded * (K + Math.ceil(op.filters / 4) * 4) * 16,
    // A quad reads up to 16 + alpha tile positions (times the stride) past its start, plus the largest offset.
    overreadBytes: overread(op, 16 + wp.w.alpha + Math.max(...wp.offsets)),
    emit: (ctx, at) => emitWinograd1d(ctx, op, wp, tiling, at),
  };
}

/** T x for a constant matrix T (rows x n) and n vector locals: new locals (zeros skipped, ±1 as add/sub). */
function applyConstant(fn: KernelContext["fn"], T: readonly (readonly number[])[], x: readonly Var[]): Var[] {
  const m = fn.m;
  return T.map((row) => {
    let acc: Expr | undefined;
    row.forEach((t, i) => {
      if (t === 0) return;
      const v = x[i].get();
      if (acc === undefined) acc = t === 1 ? v : t === -1 ? m.f32x4.neg(v) : m.f32x4.mul(splat(m, t), v);
      else if (t === 1) acc = m.f32x4.add(acc, v);
      else if (t === -1) acc = m.f32x4.sub(acc, v);
      else acc = m.f32x4.add(acc, m.f32x4.mul(splat(m, t), v));
    });
    return vec(fn, acc ?? zero(m));
  });
}

function emitWinograd1d(ctx: KernelContext, op: ConvOp, wp: Winograd1dPlan, tiling: Winograd1dTiling, at: KernelAddresses): void {
  const { fn } = ctx;
  const { tables: table, scratch } = at;
  const m = fn.m;
  const x = ctx.input(0);
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const [pad] = dims(fn, geo.padBefore);
  const L = x.shape[1];
  const Lo = ctx.output().shape[1];
  const C = x.shape[0].constant as number;
  const O = op.filters;
  const { w, stride: s, offsets, perChannel } = wp;
  const { alpha } = w;
  const K = C * perChannel;
  const blocks = Math.ceil(O / 4);
  const { quads: Q, quadsPadded: QP } = tiling;
  const T = fn.atEntry("wino1d.T", () => Lo.ceilDiv(4));
  const vBuf = scratch;
  const mBuf = fn.atEntry("wino1d.mbuf", () => scratch.add(alpha * QP * K * 16));
  const writer = new OutputWriter(ctx, op, at.spill);
  // Input columns a tile reads (relative to its first element): s * j + offset for every j < alpha.
  const span = s * (alpha - 1) + Math.max(...offsets) + 1;
  const cols = Math.ceil(span / 4) * 4;

  // Threads take whole batches (threads.ts): V and M are in each thread's scratch.
  parallelNest(fn, [fn.let(T.ceilDiv(4 * Q))], ([b]) => {
    const q0 = int(fn, b.mul(Q));
    inputTransform(q0);
    batchedGemm();
    outputTransform(q0);
  });

  function inputTransform(q0: Int): void {
    fn.for(0, Q, (quad) => {
      const t0 = int(fn, q0.add(quad).mul(4));
      const body = fn.block(() => {
        // Input index of lane 0's column 0; lane l adds 4s * l.
        const i0 = int(fn, t0.mul(4 * s).sub(pad), false);
        // Every column of all four lanes inside [0, L): plain loads and transposes.
        const inside = m.i32.and(m.i32.ge_s(i0.expr(), m.i32.const(0)), m.i32.le_s(i0.add(12 * s + cols).expr(), L.expr()));
        fn.emit(m.if(inside, channels(quad, i0, false), channels(quad, i0, true)));
      });
      fn.emit(m.if(t0.lt(T), body));
    });
  }

  function channels(quad: Int, i0: Int, masked: boolean): Expr {
    return fn.block(() =>
      fn.for(0, C, (c) => {
        const rowBase = int(fn, x.base.add(c.mul(L).add(i0).mul(4)), false);
        const column = masked ? maskedColumns(rowBase, i0) : loadedColumns(rowBase);
        const dst = int(fn, vBuf.add(quad.mul(K * 16)).add(c.mul(perChannel * 16)));
        offsets.forEach((off, v) => {
          const d = Array.from({ length: alpha }, (_, j) => column(s * j + off));
          const V = applyConstant(fn, w.BT, d);
          V.forEach((vv, xi) => fn.emit(m.v128.store((xi * QP * K + v) * 16, 16, dst.expr(), vv.get())));
        });
      }),
    );
  }

  /** Column e of the quad (lane l: input i0 + 4s*l + e) from vector loads of each lane's run, transposed in 4x4 blocks. */
  function loadedColumns(rowBase: Int): (e: number) => Var {
    const made: Var[] = [];
    return (e) => {
      const blk = Math.floor(e / 4);
      if (!made[4 * blk]) {
        const rows = [0, 1, 2, 3].map((l) => vec(fn, m.v128.load(4 * (4 * s * l + 4 * blk), 4, rowBase.expr())));
        transpose4(fn, rows).forEach((v, i) => (made[4 * blk + i] = v));
      }
      return made[e];
    };
  }

  /** Column e by lane loads, zero where the index falls outside [0, L). */
  function maskedColumns(rowBase: Int, i0: Int): (e: number) => Var {
    return (e) => {
      let v = zero(m);
      for (let l = 0; l < 4; l++) v = m.v128.load32_lane(4 * (4 * s * l + e), 4, l, rowBase.expr(), v);
      return vec(fn, m.v128.and(v, rangeMask(m, i0.add(e), 4 * s, L)));
    };
  }

  function batchedGemm(): void {
    fn.for(0, alpha, (xi) => {
      fn.for(0, QP / 2, (nb) => {
        const b0 = int(fn, vBuf.add(xi.mul(QP * K * 16)).add(nb.mul(2 * K * 16)));
        const b1 = int(fn, b0.add(K * 16));
        const block = (mb: Int, rows: number) => {
          const a = int(fn, xi.mul(blocks).add(mb).mul(K * 16).add(table));
          const acc = microKernel(fn, K, rows, a, b0, b1);
          for (let r = 0; r < rows; r++) {
            for (let h = 0; h < 2; h++) {
              const to = mBuf.add(mb.mul(4).add(r).mul(QP).add(nb.mul(2).add(h)).mul(alpha * 16)).add(xi.mul(16));
              fn.emit(m.v128.store(0, 16, to.expr(), acc[r][h].get()));
            }
          }
        };
        fn.for(0, Math.floor(O / 4), (mb) => block(mb, 4));
        if (O % 4) block(fn.const(Math.floor(O / 4)), O % 4);
      });
    });
  }

  function outputTransform(q0: Int): void {
    fn.for(0, O, (o) => {
      const bias = writer.channelBias(o);
      fn.for(0, Q, (quad) => {
        const t0 = int(fn, q0.add(quad).mul(4));
        const body = fn.block(() => {
          const src = int(fn, mBuf.add(o.mul(QP).add(quad).mul(alpha * 16)));
          const M = Array.from({ length: alpha }, (_, xi) => vec(fn, m.v128.load(xi * 16, 16, src.expr())));
          // Lane l of Y[i] is output (t0 + l) * 4 + i: transposed, run l is tile t0 + l's four outputs.
          const runs = transpose4(fn, applyConstant(fn, w.AT, M));
          runs.forEach((run, l) => {
            const first = int(fn, t0.add(l).mul(4));
            fn.emit(writer.run(run, o, int(fn, o.mul(Lo).add(first)), int(fn, Lo.sub(first), false), bias));
          });
        });
        fn.emit(m.if(t0.lt(T), body));
      });
    });
  }
}

