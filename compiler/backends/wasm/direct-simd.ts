// Direct convolution on SIMD lanes (`direct_simd`): the direct kernel's arithmetic, with four
// consecutive output positions of the last axis per f32x4 and up to four output channels of a
// group per pass, for the layers where the fast algorithms' setup (packing, transforms) costs
// more than it saves: depthwise, pointwise 1x1, few input channels, strides, 1-D and 3-D.
//
// Why this shape: NCHW keeps consecutive outputs of one channel adjacent, so at stride 1 the
// input values of a kernel tap for four outputs are one unaligned v128.load (stride 2: two
// loads and one shuffle keeping the even lanes), and nothing is copied or packed at run time.
// A block is OB (<= 4) output channels x V vectors of positions, its OB*V accumulators in
// registers (OB*V + V + 2 <= 14 of x86's 16 vector registers): each input vector loaded
// serves OB channels, each weight (packed at compile time as gemm.ts's [block][k][4], one
// load for four channels, then lane broadcasts) serves V vectors. Rows of the leading axes
// clamp their kernel ranges to real input once per output row, like conv.ts; the last axis
// runs its interior blocks without masks and only the blocks that touch the zero padding
// (or run past the row) mask their loads (simd.ts rangeMask), so padding is never
// materialised. f32 accumulation; bias and a simple epilogue go on as vectors (OutputWriter).
//
// The outermost loop runs over output rows (all axes but the last, flattened): independent
// blocks, so a thread split can cut it.

import { type ConvOp, effectiveKernel, windowGeometry } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import type { Expr, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { axisWindow } from "./conv.js";
import { dims, product } from "./dims.js";
import { packWeights } from "./gemm.js";
import { type AlgorithmKernel, fmadd, int, type KernelAddresses, lanes, OutputWriter, rangeMask, stepWeights, TableBuilder, vec, zero } from "./simd.js";

/** Output channels per block (at most) and vectors of positions per block for that many channels. */
export function directSimdBlock(Og: number): { ob: number; v: number } {
  const ob = Math.min(4, Og);
  return { ob, v: ob >= 3 ? 2 : ob === 2 ? 3 : 4 };
}

export function prepareDirectSimd(step: Step, plan: Plan, op: ConvOp): AlgorithmKernel {
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const tables = new TableBuilder();
  tables.add(packWeights(op, stepWeights(step, plan.weightData), C));
  const d = op.kernel.length;
  const { v } = directSimdBlock(op.filters / op.groups);
  const kEff = effectiveKernel(op.kernel[d - 1], op.dilation[d - 1]);
  const pads = op.pad.kind === "explicit" ? Math.max(...op.pad.before, ...op.pad.after) : kEff;
  return {
    tables: tables.build(),
    scratchBytes: 0,
    // A masked block reads up to its padding before a row and a block's span (plus the stride
    // loads' unused last lanes) past it.
    overreadBytes: 4 * (4 * v * op.stride[d - 1] + 4 * op.stride[d - 1] + kEff + pads + 16),
    emit: (ctx, at) => emitDirectSimd(ctx, op, at),
  };
}

function emitDirectSimd(ctx: KernelContext, op: ConvOp, at: KernelAddresses): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const inShape = ctx.step.inputs[0].shape;
  const geo = windowGeometry(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const clamp = geo.padBefore.map((b, i) => b !== 0 || geo.padAfter[i] !== 0);
  const M = x.shape.slice(1);
  const J = ctx.output().shape.slice(1);
  const d = M.length;
  const C = x.shape[0].constant as number;
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const K = op.kernel;
  const kVol = K.reduce((a, b) => a * b, 1);
  const KA = Cg * kVol;
  const blocks = Math.ceil(Og / 4);
  const { v: V } = directSimdBlock(Og);
  const lead = J.slice(0, d - 1);
  const Lr = fn.atEntry("dsimd.Lr", () => product(lead, fn));
  const Jl = J[d - 1];
  const Ml = M[d - 1];
  const sl = op.stride[d - 1];
  const rl = op.dilation[d - 1];
  const kl = K[d - 1];
  const padL = padBefore[d - 1];
  const span = 4 * V;
  const P = fn.atEntry("dsimd.P", () => Lr.mul(Jl));
  // Blocks of `span` positions: [0, nb) in all; [lo, hi) read only real input (no masks).
  const nb = fn.atEntry("dsimd.nb", () => Jl.ceilDiv(span));
  // First j whose taps are all >= 0: ceil(pad / s); last j whose taps all lie below Ml.
  const firstJ = fn.atEntry("dsimd.firstJ", () => padL.ceilDiv(sl));
  const lastJ = fn.atEntry("dsimd.lastJ", () => Ml.sub(1 + (kl - 1) * rl).add(padL).floorDiv(sl));
  const lo = fn.atEntry("dsimd.lo", () => firstJ.ceilDiv(span).min(nb));
  const hi = fn.atEntry("dsimd.hi", () => lastJ.add(1).floorDiv(span).min(nb).max(lo));
  const writer = new OutputWriter(ctx, op, at.spill);

  fn.for(0, Lr, (row) => {
    // Leading output coordinates of this row and their clamped kernel windows.
    const js: Int[] = [];
    let rest: Int = row;
    for (let i = d - 2; i >= 0; i--) {
      js[i] = i === 0 ? rest : int(fn, rest.mod(lead[i]));
      if (i > 0) rest = int(fn, rest.floorDiv(lead[i]));
    }
    const windows = js.map((j, i) => axisWindow(fn, j, op.stride[i], op.dilation[i], K[i], padBefore[i], M[i], clamp[i]));
    fn.for(0, op.groups, (g) => {
      const block = (ob: Int, rows: number) => {
        const os = Array.from({ length: rows }, (_, r) => int(fn, g.mul(Og).add(ob.mul(4)).add(r)));
        const biases = os.map((o) => writer.channelBias(o));
        const wBlock = int(fn, g.mul(blocks).add(ob).mul(KA * 16).add(at.tables));
        const positions = (b: Int, masked: boolean) => {
          const j0 = int(fn, b.mul(span));
          const acc = Array.from({ length: rows }, () => Array.from({ length: V }, () => vec(fn, zero(m))));
          // Input column of tap 0 for position j0 (may be negative in a masked block).
          const col0 = int(fn, j0.mul(sl).sub(padL), false);
          fn.for(0, Cg, (c) => {
            const channel = int(fn, g.mul(Cg).add(c));
            const leading = (axis: number, inFlat: Int, kFlat: Int): void => {
              if (axis === d - 1) return taps(inFlat, kFlat);
              const win = windows[axis];
              fn.for(win.kLo, win.kHi, (k) => {
                const pos = int(fn, win.start.add(k.mul(op.dilation[axis])));
                leading(axis + 1, int(fn, inFlat.mul(M[axis]).add(pos)), int(fn, kFlat.mul(K[axis]).add(k)));
              });
            };
            const taps = (inFlat: Int, kFlat: Int) => {
              // Byte address of input column col0 of this row, and of this (c, leading taps)'s weights.
              const rowAddr = int(fn, x.base.add(inFlat.mul(Ml).add(col0).mul(4)), false);
              const wAddr = int(fn, wBlock.add(c.mul(kVol * 16)).add(kFlat.mul(kl * 16)));
              for (let k = 0; k < kl; k++) {
                const ins = Array.from({ length: V }, (_, v) => vec(fn, inputVector(rowAddr, k * rl + 4 * v * sl, masked ? col0 : undefined)));
                const wv = rows === 1 ? undefined : vec(fn, m.v128.load(16 * k, 16, wAddr.expr()));
                for (let r = 0; r < rows; r++) {
                  const w = vec(fn, wv ? m.i8x16.shuffle(wv.get(), wv.get(), lanes([r, r, r, r])) : m.v128.load32_splat(16 * k, 4, wAddr.expr()));
                  for (let v = 0; v < V; v++) fn.emit(acc[r][v].set(fmadd(fn, acc[r][v].get(), w.get(), ins[v].get())));
                }
              }
            };
            leading(0, channel, fn.const(0));
          });
          for (let r = 0; r < rows; r++) {
            for (let v = 0; v < V; v++) {
              const jv = int(fn, j0.add(4 * v));
              const flat = int(fn, os[r].mul(P).add(row.mul(Jl)).add(jv));
              fn.emit(writer.run(acc[r][v], os[r], flat, int(fn, Jl.sub(jv), false), biases[r]));
            }
          }
        };
        fn.for(0, lo, (b) => positions(b, true));
        fn.for(lo, hi, (b) => positions(b, false));
        fn.for(hi, nb, (b) => positions(b, true));
      };
      fn.for(0, Math.floor(Og / 4), (ob) => block(ob, 4));
      if (Og % 4) block(fn.const(Math.floor(Og / 4)), Og % 4);
    });
  });

  /**
   * The inputs of four consecutive outputs at one tap: columns col0 + e + l*s (l < 4) of the
   * row at rowAddr (= column col0), e a constant; masked to the real columns when `col0` is given.
   */
  function inputVector(rowAddr: Int, e: number, col0: Int | undefined): Expr {
    const p = () => rowAddr.expr();
    let v: Expr;
    if (sl === 1) v = m.v128.load(4 * e, 4, p());
    else if (sl === 2) v = m.i8x16.shuffle(m.v128.load(4 * e, 4, p()), m.v128.load(4 * e + 16, 4, p()), lanes([0, 2, 4, 6]));
    else {
      v = zero(m);
      for (let l = 0; l < 4; l++) v = m.v128.load32_lane(4 * (e + l * sl), 4, l, p(), v);
    }
    if (!col0) return v;
    return m.v128.and(v, rangeMask(m, col0.add(e), sl, Ml));
  }
}

