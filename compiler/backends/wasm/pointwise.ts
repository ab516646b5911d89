// Pointwise (1x1, stride 1, unpadded, one group) convolution as a GEMM micro-kernel, the
// direct_simd variant for 1x1 layers: Y[O][P] = W[O][C] X[C][P] over the flattened positions
// P, with no im2col (in NCHW a 1x1 layer's input already is the GEMM's right-hand matrix).
//
// A block is RB output channels x V vectors of 4 positions, RB*V accumulators in registers.
// Per input channel it loads V input vectors and RB weights, each as a load32_splat from the
// weights packed at compile time in the block's order ([block][c][RB], so a block's weights
// are one contiguous run): no lane shuffles, which compete with the multiplies and adds for
// the vector ports (direct_simd's one weight vector plus four shuffles ran 1.1-1.2x slower).
// Addresses are computed from the loop index each channel, not bumped pointers, and the
// channel loop is not unrolled: both made V8's code slower here (unrolling 16 channels with
// immediate offsets ran 1.6x slower on the 32->64 layer). Tiles measured on that layer
// (32x112x112 -> 64, one thread, ms, plain / relaxed SIMD): 4x2 1.47 / 1.33, 2x4 1.37 / 1.31,
// 4x3 2.16 / 1.97 (spills), direct_simd's shuffling 4x2 1.61 / 1.41, GEMM 1.64 / 1.48.
//
// Loop order: chunks of positions outermost (threads split them), then output channel blocks,
// then the position blocks of the chunk: the chunk's inputs (C x 4V x CHUNK values) stay in
// L1 while every filter block uses them. The last position block runs past P: its loads read
// past the tensor (overreadBytes) and only its real lanes are stored (OutputWriter.run).

import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import type { Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { product } from "./dims.js";
import { type AlgorithmKernel, fmadd, int, type KernelAddresses, OutputWriter, stepWeights, TableBuilder, vec, zero } from "./simd.js";
import { parallelFor } from "./threads.js";

/**
 * Output channels per block (rb), vectors of four positions per block (v: rb*v + v + 3 vector
 * registers of V8's 15, the product's temporary included) and position blocks per chunk.
 * Measured on the 32->64 layer, one thread, ms (plain build, a loaded machine): 2x4 1.74,
 * 4x2 1.88, 3x3 2.62, 5x2 2.50, 6x2 2.45 (5 and 6 spill), 1x6 2.05; direct_simd 2.06.
 */
export const POINTWISE_TILE = { rb: 2, v: 4, chunk: 4 } as const;

/** Whether the op is one the pointwise micro-kernel computes: 1x1, stride 1, no padding, one group, a per-channel bias or none. */
export function pointwiseOp(op: ConvOp): boolean {
  if (op.kernel.some((k) => k !== 1) || op.stride.some((s) => s !== 1) || op.groups !== 1 || op.bias === "location") return false;
  return op.pad.kind !== "explicit" || [...op.pad.before, ...op.pad.after].every((p) => p === 0);
}

/** Whether the pointwise micro-kernel computes this direct_simd step (not with a fused pool). */
export function isPointwise(step: Step, op: ConvOp): boolean {
  if (!pointwiseOp(op) || step.pool !== undefined) return false;
  const geo = windowGeometry(step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  return [...geo.padBefore, ...geo.padAfter].every((p) => p === 0);
}

/** W[o][c] (a 1x1 kernel's [O, C] weight) as blocks of RB filters: [block][c][RB], zero past O. */
export function packPointwise(w: Float32Array, O: number, C: number, RB: number): Float32Array {
  const blocks = Math.ceil(O / RB);
  const out = new Float32Array(blocks * C * RB);
  for (let o = 0; o < O; o++) {
    const base = Math.floor(o / RB) * C * RB + (o % RB);
    for (let c = 0; c < C; c++) out[base + c * RB] = w[o * C + c];
  }
  return out;
}

export function preparePointwise(step: Step, plan: Plan, op: ConvOp): AlgorithmKernel {
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const tile = POINTWISE_TILE;
  const tables = new TableBuilder();
  tables.add(packPointwise(stepWeights(step, plan.weightData), op.filters, C, tile.rb));
  return {
    tables: tables.build(),
    scratchBytes: 0,
    // The last position block reads up to a block past the last channel's end.
    overreadBytes: 16 * tile.v + 16,
    emit: (ctx, at) => emitPointwise(ctx, op, at, C),
  };
}

function emitPointwise(ctx: KernelContext, op: ConvOp, at: KernelAddresses, C: number): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const O = op.filters;
  const { rb: RB, v: V, chunk: CH } = POINTWISE_TILE;
  const span = 4 * V;
  const P = fn.atEntry("pw.P", () => product(x.shape.slice(1), fn));
  const nb = fn.atEntry("pw.nb", () => P.ceilDiv(span));
  const nc = fn.atEntry("pw.nc", () => nb.ceilDiv(CH));
  const writer = new OutputWriter(ctx, op, at.spill);

  parallelFor(fn, nc, (chunk) => {
    const bLo = int(fn, chunk.mul(CH));
    const bHi = int(fn, bLo.add(CH).min(nb));
    /** Filters o0.. (rows of them, block `ob` of the packing) at every position block of the chunk. */
    const block = (ob: Int, rows: number) => {
      const o0 = int(fn, ob.mul(RB));
      const wBlock = int(fn, ob.mul(C * RB * 4).add(at.tables));
      const biases = Array.from({ length: rows }, (_, r) => writer.channelBias(int(fn, o0.add(r))));
      fn.for(bLo, bHi, (b) => {
        const p0 = int(fn, b.mul(span));
        const xBlock = int(fn, x.base.add(p0.mul(4)));
        const acc = Array.from({ length: rows }, () => Array.from({ length: V }, () => vec(fn, zero(m))));
        fn.for(0, C, (c) => {
          const xp = int(fn, xBlock.add(c.mul(P).mul(4)));
          const wp = int(fn, wBlock.add(c.mul(RB * 4)));
          const ins = Array.from({ length: V }, (_, v) => vec(fn, m.v128.load(16 * v, 4, xp.expr())));
          for (let r = 0; r < rows; r++) {
            const w = vec(fn, m.v128.load32_splat(4 * r, 4, wp.expr()));
            for (let v = 0; v < V; v++) fn.emit(acc[r][v].set(fmadd(fn, acc[r][v].get(), w.get(), ins[v].get())));
          }
        });
        const left = int(fn, P.sub(p0), false);
        for (let r = 0; r < rows; r++) {
          const o = int(fn, o0.add(r));
          for (let v = 0; v < V; v++) {
            const flat = int(fn, o.mul(P).add(p0).add(4 * v));
            fn.emit(writer.run(acc[r][v], o, flat, int(fn, left.sub(4 * v), false), biases[r]));
          }
        }
      });
    };
    fn.for(0, Math.floor(O / RB), (ob) => block(ob, RB));
    if (O % RB) block(fn.const(Math.floor(O / RB)), O % RB);
  });
}
