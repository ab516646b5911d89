// im2col + GEMM convolution (see algorithms/im2col.ts for the math). Per group, the weights
// are the A matrix [O/g, K = C/g * kVol], packed at compile time into blocks of 4 rows
// ([block][k][4], zero rows past O/g) so that the micro-kernel broadcasts one weight per row
// with a single load. The output positions are cut into tiles of TR output rows (all axes
// but the last, flattened) by SEG positions of the last axis; for each tile the patch matrix
// B [K, TR*SEG] is packed into quads of 4 positions ([quad][k][4]), four lanes per load from
// the input (a masked vector load at stride 1, lane loads otherwise; zero padding is the
// mask, never materialised), so scratch memory is K * TR * SEG floats whatever the image
// size. Then every 4x8 block of the tile's output is one micro-kernel run (simd.ts) over the
// whole K, its 8 accumulators in registers: each packed value is loaded once per 4 filters
// and each weight once per 8 positions. Groups run one after another. f32 accumulation.

import * as D from "../../ir/dim.js";
import { type ConvOp, effectiveKernel, windowGeometry } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import { weightMatrix } from "../../algorithms/im2col.js";
import type { Expr, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dims, product } from "./dims.js";
import { parallelNest } from "./threads.js";
import { type AlgorithmKernel, int, type KernelAddresses, intLocal, microKernel, OutputWriter, rangeMask, stepWeights, TableBuilder, zero } from "./simd.js";

/** Patch-matrix scratch per tile: about this many bytes (well inside the L2 cache). */
const TILE_BYTES = 96 * 1024;
/** Positions of the last axis per tile when that axis's size is symbolic. */
const SYMBOLIC_SEGMENT = 64;

export interface GemmTiling {
  /** Tile rows (of the flattened leading output axes). */
  readonly rows: number;
  /** Positions of the last axis per tile row (a multiple of 4). */
  readonly seg: number;
  /** Quads per tile, and that rounded up to even (the micro-kernel takes two at a time). */
  readonly quads: number;
  readonly quadsPadded: number;
}

/**
 * Tiles of about TILE_BYTES of packed patches: K rows by up to 512 positions. A row of the
 * last axis longer than a tile is cut into equal segments (a multiple of 4 each), so that
 * little of the last tile is padding.
 */
export function gemmTiling(K: number, outSpatial: readonly D.Dim[]): GemmTiling {
  const last = outSpatial[outSpatial.length - 1];
  const lead = D.product(outSpatial.slice(0, -1));
  const columns = Math.max(8, Math.min(512, Math.floor(TILE_BYTES / (4 * K) / 8) * 8));
  let seg = SYMBOLIC_SEGMENT;
  if (typeof last === "number") {
    const quads = Math.ceil(last / 4);
    const segments = Math.ceil((quads * 4) / columns);
    seg = Math.ceil(quads / segments) * 4;
  }
  let rows = Math.max(1, Math.floor(columns / seg));
  if (typeof lead === "number") rows = Math.min(rows, lead);
  if (((rows * seg) / 4) % 2 === 1 && rows > 1) rows -= 1;
  const quads = (rows * seg) / 4;
  return { rows, seg, quads, quadsPadded: Math.ceil(quads / 2) * 2 };
}

/** Compile-time packing of A: per group, blocks of 4 filters, [k][4] within a block. */
export function packWeights(op: ConvOp, weights: Float32Array, C: number): Float32Array {
  const Og = op.filters / op.groups;
  const K = (C / op.groups) * op.kernel.reduce((a, b) => a * b, 1);
  const blocks = Math.ceil(Og / 4);
  const out = new Float32Array(op.groups * blocks * K * 4);
  for (let g = 0; g < op.groups; g++) {
    const A = weightMatrix(weights, op, C, g);
    for (let o = 0; o < Og; o++) {
      const block = (g * blocks + Math.floor(o / 4)) * K * 4;
      for (let k = 0; k < K; k++) out[block + k * 4 + (o % 4)] = A[o * K + k];
    }
  }
  return out;
}

/** Bytes a masked load of the last axis may reach past a row's end or before its start. */
export function overread(op: ConvOp, seg: number): number {
  const d = op.kernel.length;
  const kEff = effectiveKernel(op.kernel[d - 1], op.dilation[d - 1]);
  const pads = op.pad.kind === "explicit" ? Math.max(...op.pad.before, ...op.pad.after) : kEff;
  return 4 * ((seg + 4) * op.stride[d - 1] + kEff + pads + 16);
}

export function prepareGemm(step: Step, plan: Plan, op: ConvOp): AlgorithmKernel {
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const K = (C / op.groups) * op.kernel.reduce((a, b) => a * b, 1);
  const tiling = gemmTiling(K, step.output.shape.slice(1));
  const tables = new TableBuilder();
  tables.add(packWeights(op, stepWeights(step, plan.weightData), C));
  return {
    tables: tables.build(),
    scratchBytes: tiling.quadsPadded * K * 16,
    overreadBytes: overread(op, tiling.seg),
    emit: (ctx, at) => emitGemm(ctx, op, tiling, at),
  };
}

function emitGemm(ctx: KernelContext, op: ConvOp, tiling: GemmTiling, at: KernelAddresses): void {
  const { fn } = ctx;
  const { tables: table, scratch } = at;
  const m = fn.m;
  const x = ctx.input(0);
  const geo = windowGeometry(ctx.step.inputs[0].shape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const M = x.shape.slice(1);
  const J = ctx.output().shape.slice(1);
  const d = M.length;
  const C = x.shape[0].constant as number;
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const kVol = op.kernel.reduce((a, b) => a * b, 1);
  const K = Cg * kVol;
  const blocks = Math.ceil(Og / 4);
  const { rows: TR, seg: SEG, quads: Q, quadsPadded: QP } = tiling;
  const lead = J.slice(0, d - 1);
  const Lr = fn.atEntry("gemm.Lr", () => product(lead, fn));
  const Jl = J[d - 1];
  const Ml = M[d - 1];
  const P = fn.atEntry("gemm.P", () => Lr.mul(Jl));
  const sl = op.stride[d - 1];
  const rl = op.dilation[d - 1];
  const kl = op.kernel[d - 1];
  const writer = new OutputWriter(ctx, op, at.spill);

  // Threads take whole tiles (threads.ts): each packs into its own scratch.
  parallelNest(fn, [fn.const(op.groups), fn.let(Lr.ceilDiv(TR)), fn.let(Jl.ceilDiv(SEG))], ([g, rt, sg]) => {
    const r0 = int(fn, rt.mul(TR));
    const s0 = int(fn, sg.mul(SEG));
    pack(g, r0, s0);
    multiply(g, r0, s0);
  });

  /** B [quad][k][4] for the tile at leading rows r0.. and last-axis positions s0.. of group g. */
  function pack(g: Int, r0: Int, s0: Int): void {
    fn.for(0, TR, (tr) => {
      const row = int(fn, r0.add(tr));
      const quadBase = int(fn, tr.mul(SEG / 4));
      const body = fn.block(() => {
        // Coordinates of the leading output axes (row-major over `lead`).
        const js: Int[] = [];
        let rest = row;
        for (let i = d - 2; i >= 0; i--) {
          js[i] = i === 0 ? rest : int(fn, rest.mod(lead[i]));
          if (i > 0) rest = int(fn, rest.floorDiv(lead[i]));
        }
        fn.for(0, Cg, (c) => {
          const channel = int(fn, g.mul(Cg).add(c));
          const leading = (axis: number, inFlat: Int, kFlat: Int, valid: Int | undefined): void => {
            if (axis === d - 1) return lastAxis(quadBase, s0, inFlat, kFlat, valid);
            fn.for(0, op.kernel[axis], (k) => {
              const pos = int(fn, js[axis].mul(op.stride[axis]).add(k.mul(op.dilation[axis])).sub(padBefore[axis]), false);
              // 0 <= pos < M as one unsigned comparison.
              const ok = m.i32.lt_u(pos.expr(), M[axis].expr());
              const flag = intLocal(fn, valid ? m.i32.and(valid.expr(), ok) : ok);
              leading(axis + 1, int(fn, inFlat.mul(M[axis]).add(pos), false), int(fn, kFlat.mul(op.kernel[axis]).add(k)), flag);
            });
          };
          leading(0, channel, c, undefined);
        });
      });
      fn.emit(m.if(row.lt(Lr), body));
    });
  }

  /** One (channel, leading kernel offsets) row set of B: kl rows, SEG/4 quads each. */
  function lastAxis(quadBase: Int, s0: Int, inFlat: Int, kFlat: Int, valid: Int | undefined): void {
    const rowAddr = int(fn, x.base.add(inFlat.mul(Ml).mul(4)), false);
    const fill = (load: boolean) =>
      fn.block(() =>
        fn.for(0, kl, (k) => {
          const at = int(fn, scratch.add(quadBase.mul(K * 16)).add(kFlat.mul(kl).add(k).mul(16)));
          const col0 = int(fn, s0.mul(sl).add(k.mul(rl)).sub(padBefore[d - 1]), false);
          fn.for(0, SEG / 4, (q) => {
            const dst = at.add(q.mul(K * 16)).expr();
            if (!load) return fn.emit(m.v128.store(0, 16, dst, zero(m)));
            const col = int(fn, col0.add(q.mul(4 * sl)), false);
            fn.emit(m.v128.store(0, 16, dst, m.v128.and(gather(rowAddr, col), rangeMask(m, col, sl, Ml))));
          });
        }),
      );
    if (!valid) fn.emit(fill(true));
    else fn.emit(m.if(valid.expr(), fill(true), fill(false)));
  }

  /** Input values at col, col+s, col+2s, col+3s of the row at rowAddr (unmasked). */
  function gather(rowAddr: Int, col: Int): Expr {
    const p = () => rowAddr.add(col.mul(4)).expr();
    if (sl === 1) return m.v128.load(0, 4, p());
    let v = zero(m);
    for (let l = 0; l < 4; l++) v = m.v128.load32_lane(4 * l * sl, 4, l, p(), v);
    return v;
  }

  /** The tile's outputs: for each pair of quads, every block of 4 filters. */
  function multiply(g: Int, r0: Int, s0: Int): void {
    fn.for(0, QP / 2, (nb) => {
      const b0 = int(fn, scratch.add(nb.mul(2 * K * 16)));
      const b1 = int(fn, b0.add(K * 16));
      const halves = [0, 1].map((h) => {
        const quad = int(fn, nb.mul(2).add(h));
        const row = int(fn, r0.add(quad.floorDiv(SEG / 4)));
        const jl0 = int(fn, s0.add(quad.mod(SEG / 4).mul(4)));
        const ok = intLocal(fn, m.i32.and(m.i32.and(quad.lt(Q), row.lt(Lr)), jl0.lt(Jl)));
        const count = int(fn, Jl.sub(jl0), false);
        const pos = int(fn, row.mul(Jl).add(jl0));
        return { ok, count, pos };
      });
      const block = (mb: Int, rows: number) => {
        const a = int(fn, mb.mul(K * 16).add(g.mul(blocks * K * 16)).add(table));
        const acc = microKernel(fn, K, rows, a, b0, b1);
        for (let r = 0; r < rows; r++) {
          const o = int(fn, g.mul(Og).add(mb.mul(4)).add(r));
          const bias = writer.channelBias(o);
          halves.forEach(({ ok, count, pos }, h) => {
            const flat = int(fn, o.mul(P).add(pos));
            fn.emit(m.if(ok.expr(), writer.run(acc[r][h], o, flat, count, bias)));
          });
        }
      };
      fn.for(0, Math.floor(Og / 4), (mb) => block(mb, 4));
      if (Og % 4) block(fn.const(Math.floor(Og / 4)), Og % 4);
    });
  }
}
