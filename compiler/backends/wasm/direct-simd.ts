// Direct convolution on SIMD lanes (`direct_simd`): the direct kernel's arithmetic, with four
// consecutive output positions of the last axis per f32x4 and up to four output channels of a
// group per pass, for the layers where the fast algorithms' setup (packing, transforms) costs
// more than it saves: depthwise, pointwise 1x1, few input channels, strides, 1-D and 3-D.
//
// Why this shape: NCHW keeps consecutive outputs of one channel adjacent, so at stride 1 the
// input values of a kernel tap for four outputs are one unaligned v128.load, and nothing is
// copied or packed at run time. Stride 2 on the last axis copies each output row's input rows
// into scratch split into even and odd columns (PhaseSplit below), so its taps are single
// loads too (with symbolic sizes or a fused pool: two loads and a shuffle; larger strides:
// lane loads).
// A block is OB (<= 4) output channels x V vectors of positions, its OB*V accumulators in
// registers (OB*V + V + 2 <= 14 of x86's 16 vector registers): each input vector loaded
// serves OB channels, each weight (packed at compile time as gemm.ts's [block][k][4], one
// load for four channels, then lane broadcasts) serves V vectors. Rows of the leading axes
// clamp their kernel ranges to real input once per output row, like conv.ts; the last axis
// runs its interior blocks without masks and only the blocks that touch the zero padding
// (or run past the row) mask their loads (simd.ts rangeMask), so padding is never
// materialised. f32 accumulation; bias and a simple epilogue go on as vectors (OutputWriter).
//
// A fused max or average pool whose windows tile the output (directSimdPoolReason) is
// computed on the block: the outer loop runs over pooled rows, each block convolves the
// rows of its windows in turn, finishes them (bias, ReLU-like activations), reduces pairs of
// lanes along the last axis and keeps a running max or sum, so the pre-pool tensor is never
// stored. Measured (one thread, this machine): depthwise 3x3 on 32x112x112 0.49 ms (FFT
// 1.9 ms), pointwise 32->64 on 112x112 1.7 ms (30 GFLOP/s, GEMM 1.75 ms), conv3d 1->8 3x3x3
// on 32x64x64 1.9 ms (GEMM 2.4 ms).
//
// The outermost loop runs over output rows (all axes but the last, flattened): independent
// blocks, so a thread split can cut it.

import { parallelFor } from "./threads.js";
import { type ConvOp, effectiveKernel, type PoolOp, windowGeometry } from "../../ir/ops.js";
import type { Epilogue, Plan, Step } from "../../plan/plan.js";
import type { Expr, Fn, Int, Var } from "./builder.js";
import type { KernelContext } from "./context.js";
import { axisWindow, type AxisWindow } from "./conv.js";
import { dims, product } from "./dims.js";
import { packWeights } from "./gemm.js";
import { isPointwise, preparePointwise } from "./pointwise.js";
import { type AlgorithmKernel, fmadd, int, type KernelAddresses, lanes, OutputWriter, rangeMask, splat, stepWeights, TableBuilder, vec, zero } from "./simd.js";

/**
 * Output channels per block (at most) and vectors of positions per block for that many
 * channels. With a fused pool the vectors pair up (a window of 2 on the last axis).
 */
export function directSimdBlock(Og: number, pooled = false): { ob: number; v: number } {
  const ob = Math.min(4, Og);
  // 4x2 accumulators; 4x3 spills on V8 (measured 1.4x slower on the pointwise layer).
  if (pooled) return { ob, v: ob >= 2 ? 2 : 4 };
  return { ob, v: ob >= 3 ? 2 : ob === 2 ? 3 : 4 };
}

/** Rows of a fused pool's window (all axes but the last) that a block convolves in turn, in code: 2x2 and 2x2x2 pools. */
export const MAX_POOL_ROWS = 4;

/** Activations the kernel applies as vectors; anything else (sigmoid, tanh, a residual add) keeps a fused pool out. */
export const VECTOR_ACTIVATIONS = new Set(["relu", "leaky_relu", "identity"]);

interface FusedItem {
  readonly kind: string;
  readonly fn?: string;
}

/**
 * Why direct_simd cannot compute a pool fused into its layer, or undefined when it can: a
 * max or average pool whose windows tile the convolution's output exactly (stride = window,
 * no padding or dilation, no ceil mode), 1 or 2 wide on the last axis, with only ReLU-like
 * activations around it and a per-channel bias.
 */
export function directSimdPoolReason(op: ConvOp, pool: PoolOp, before: readonly FusedItem[], after: readonly FusedItem[]): string | undefined {
  if (pool.mode !== "max" && pool.mode !== "avg") return `it pools with ${pool.mode}, not max or avg`;
  const d = pool.window.length;
  if (pool.window.some((w, i) => w !== pool.stride[i]) || pool.dilation.some((r) => r !== 1)) return "its pool's windows overlap, skip or are dilated";
  if (pool.ceil || (pool.pad.kind === "explicit" ? [...pool.pad.before, ...pool.pad.after].some((p) => p !== 0) : pool.pad.kind !== "valid")) return "its pool pads";
  if (pool.window[d - 1] > 2) return "its pool is wider than 2 on the last axis";
  // Each block convolves the rows of its window in turn, in code: a 7x7 window's 49 rows of a
  // 3x3x3 kernel made a function binaryen took 100 s to optimise (fuzzer seed 34 case 14981).
  const rows = pool.window.slice(0, -1).reduce((a, b) => a * b, 1);
  if (rows > MAX_POOL_ROWS) return `its pool window spans ${rows} rows, more than the ${MAX_POOL_ROWS} the kernel unrolls`;
  if (op.bias === "location") return "it has a per-location bias";
  if (![...before, ...after].every((e) => e.kind === "activation" && VECTOR_ACTIVATIONS.has(e.fn ?? ""))) return "it applies more than ReLU-like activations around its pool";
  return undefined;
}

/** ReLU, leaky ReLU and identity on four lanes. */
export function activate(epilogue: readonly Epilogue[], x: Expr, fn: Fn): Expr {
  const m = fn.m;
  for (const e of epilogue) {
    if (e.kind !== "activation") throw new Error("internal error: direct_simd fuses only activations around a pool");
    if (e.fn === "relu") x = m.f32x4.max(x, zero(m));
    else if (e.fn === "leaky_relu") {
      const t = vec(fn, x);
      x = m.v128.bitselect(m.f32x4.mul(t.get(), splat(m, e.alpha)), t.get(), m.f32x4.lt(t.get(), zero(m)));
    } else if (e.fn !== "identity") throw new Error(`internal error: direct_simd does not fuse ${e.fn} around a pool`);
  }
  return x;
}

export function prepareDirectSimd(step: Step, plan: Plan, op: ConvOp): AlgorithmKernel {
  if (isPointwise(step, op)) return preparePointwise(step, plan, op);
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const tables = new TableBuilder();
  tables.add(packWeights(op, stepWeights(step, plan.weightData), C));
  const d = op.kernel.length;
  const { v } = directSimdBlock(op.filters / op.groups, step.pool !== undefined);
  const kEff = effectiveKernel(op.kernel[d - 1], op.dilation[d - 1]);
  const pads = op.pad.kind === "explicit" ? Math.max(...op.pad.before, ...op.pad.after) : kEff;
  const split = phaseSplit(step, op);
  return {
    tables: tables.build(),
    scratchBytes: split ? 4 * C * split.kLead * split.rowStride : 0,
    // A masked block reads up to its padding before a row and a block's span (plus the stride
    // loads' unused last lanes) past it.
    overreadBytes: 4 * (4 * v * op.stride[d - 1] + 4 * op.stride[d - 1] + kEff + pads + 16),
    emit: (ctx, at) => emitDirectSimd(ctx, op, at, split),
  };
}

/**
 * Stride 2 on the last axis: each output row first copies the input rows it reads (every
 * channel, every kernel row) into scratch split by phase, the even columns then the odd ones
 * (two shuffles per eight values), so that every tap of every block is one plain unaligned
 * load instead of two loads and a shuffle, and the copy is shared by all the filters. Static
 * sizes and padding only (the taps' phases and offsets are immediates); not with a fused pool.
 */
interface PhaseSplit {
  /** Margin before each phase plane, elements: the taps left of column 0 (zero padding) read it, masked. */
  readonly G: number;
  /** Elements per phase plane, margin included. */
  readonly Hs: number;
  /** Elements per split row (both planes). */
  readonly rowStride: number;
  /** Kernel rows per channel (the product of the leading kernel sizes). */
  readonly kLead: number;
}

function phaseSplit(step: Step, op: ConvOp): PhaseSplit | undefined {
  const d = op.kernel.length;
  const inShape = step.inputs[0].shape;
  const Ml = inShape[d];
  const geo = windowGeometry(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padL = geo.padBefore[d - 1];
  if (op.stride[d - 1] !== 2 || step.pool || typeof Ml !== "number" || typeof padL !== "number") return undefined;
  const G = Math.ceil((padL + 1) / 8) * 4 + 4;
  const Hs = G + 4 * Math.ceil(Ml / 8) + 8;
  return { G, Hs, rowStride: 2 * Hs, kLead: op.kernel.slice(0, -1).reduce((a, b) => a * b, 1) };
}

function emitDirectSimd(ctx: KernelContext, op: ConvOp, at: KernelAddresses, split: PhaseSplit | undefined): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const inShape = ctx.step.inputs[0].shape;
  const geo = windowGeometry(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const clamp = geo.padBefore.map((b, i) => b !== 0 || geo.padAfter[i] !== 0);
  const M = x.shape.slice(1);
  const pool = ctx.step.pool;
  // The convolution's (pre-pool) output sizes, and the stored ones (pooled when a pool is fused).
  const J = pool ? dims(fn, pool.inShape.slice(1)) : ctx.output().shape.slice(1);
  const Y = ctx.output().shape.slice(1);
  const d = M.length;
  const C = x.shape[0].constant as number;
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const K = op.kernel;
  const kVol = K.reduce((a, b) => a * b, 1);
  const KA = Cg * kVol;
  const blocks = Math.ceil(Og / 4);
  const { v: V } = directSimdBlock(Og, pool !== undefined);
  // Pool window (= stride) per axis; all 1 without a pool.
  const pw = pool ? pool.op.window : J.map(() => 1);
  const wl = pw[d - 1];
  const lead = Y.slice(0, d - 1);
  const Lr = fn.atEntry("dsimd.Lr", () => product(lead, fn));
  const Jl = J[d - 1];
  const Yl = Y[d - 1];
  const Ml = M[d - 1];
  const sl = op.stride[d - 1];
  const rl = op.dilation[d - 1];
  const kl = K[d - 1];
  const padL = padBefore[d - 1];
  const span = 4 * V;
  const P = fn.atEntry("dsimd.P", () => Lr.mul(Yl));
  // Blocks of `span` convolution positions: [0, nb) in all (with a pool, those its windows
  // cover); [lo, hi) read only real input (no masks).
  const nb = fn.atEntry("dsimd.nb", () => (pool ? Yl.mul(wl) : Jl).ceilDiv(span));
  // First j whose taps are all >= 0: ceil(pad / s); last j whose taps all lie below Ml.
  const firstJ = fn.atEntry("dsimd.firstJ", () => padL.ceilDiv(sl));
  const lastJ = fn.atEntry("dsimd.lastJ", () => Ml.sub(1 + (kl - 1) * rl).add(padL).floorDiv(sl));
  const lo = fn.atEntry("dsimd.lo", () => firstJ.ceilDiv(span).min(nb));
  const hi = fn.atEntry("dsimd.hi", () => lastJ.add(1).floorDiv(span).min(nb).max(lo));
  const writer = new OutputWriter(ctx, op, at.spill);
  const y = ctx.output();

  // Threads take whole output rows (threads.ts); the phase-split copy is in the thread's own scratch.
  parallelFor(fn, Lr, (row) => {
    // Leading output coordinates of this (stored) row.
    const js: Int[] = [];
    let rest: Int = row;
    for (let i = d - 2; i >= 0; i--) {
      js[i] = i === 0 ? rest : int(fn, rest.mod(lead[i]));
      if (i > 0) rest = int(fn, rest.floorDiv(lead[i]));
    }
    // Without a pool: this row's clamped kernel windows, once per row.
    const rowWindows = pool ? undefined : js.map((j, i) => axisWindow(fn, j, op.stride[i], op.dilation[i], K[i], padBefore[i], M[i], clamp[i]));
    if (split && rowWindows) splitRows(rowWindows, split);
    fn.for(0, op.groups, (g) => {
      const block = (ob: Int, rows: number) => {
        const os = Array.from({ length: rows }, (_, r) => int(fn, g.mul(Og).add(ob.mul(4)).add(r)));
        const biases = os.map((o) => writer.channelBias(o));
        const wBlock = int(fn, g.mul(blocks).add(ob).mul(KA * 16).add(at.tables));
        /** The convolution of the block at positions j0.. of the row whose kernel windows are given. */
        const convolve = (windows: readonly AxisWindow[], j0: Int, masked: boolean): Var[][] => {
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
              const rowAddr = split
                ? int(fn, at.scratch.add(channel.mul(split.kLead).add(kFlat).mul(split.rowStride).add(j0).mul(4)))
                : int(fn, x.base.add(inFlat.mul(Ml).add(col0).mul(4)), false);
              const wAddr = int(fn, wBlock.add(c.mul(kVol * 16)).add(kFlat.mul(kl * 16)));
              for (let k = 0; k < kl; k++) {
                const ins = Array.from({ length: V }, (_, v) => {
                  const e = k * rl + 4 * v * sl;
                  if (!split) return vec(fn, inputVector(rowAddr, e, masked ? col0 : undefined));
                  // Column j0*2 + q of the input is element j0 + floor(q/2) of plane (q mod 2).
                  const q = k * rl - (padL.constant as number);
                  const phase = ((q % 2) + 2) % 2;
                  const load = m.v128.load(4 * (split.G + phase * split.Hs + (q - phase) / 2 + 4 * v), 4, rowAddr.expr());
                  return vec(fn, masked ? m.v128.and(load, rangeMask(m, col0.add(e), sl, Ml)) : load);
                });
                const wv = rows === 1 ? undefined : vec(fn, m.v128.load(16 * k, 16, wAddr.expr()));
                for (let r = 0; r < rows; r++) {
                  const w = vec(fn, wv ? m.i8x16.shuffle(wv.get(), wv.get(), lanes([r, r, r, r])) : m.v128.load32_splat(16 * k, 4, wAddr.expr()));
                  for (let v = 0; v < V; v++) fn.emit(acc[r][v].set(fmadd(fn, acc[r][v].get(), w.get(), ins[v].get())));
                }
              }
            };
            leading(0, channel, fn.const(0));
          });
          return acc;
        };
        const positions = (b: Int, masked: boolean) => {
          const j0 = int(fn, b.mul(span));
          if (!pool) {
            const acc = convolve(rowWindows ?? [], j0, masked);
            for (let r = 0; r < rows; r++) {
              for (let v = 0; v < V; v++) {
                const jv = int(fn, j0.add(4 * v));
                const flat = int(fn, os[r].mul(P).add(row.mul(Yl)).add(jv));
                fn.emit(writer.run(acc[r][v], os[r], flat, int(fn, Yl.sub(jv), false), biases[r]));
              }
            }
            return;
          }
          pooled(b, j0, masked);
        };
        /**
         * With a fused pool: every convolution row of the stored row's windows, finished
         * (bias, activations) and reduced along the last axis by pairs of lanes, then across
         * the rows into one running vector per filter and four pooled positions.
         */
        const pooled = (b: Int, j0: Int, masked: boolean) => {
          if (!pool) return;
          const isMax = pool.op.mode === "max";
          const groupsOfLanes = V / wl;
          const run = Array.from({ length: rows }, () => Array.from({ length: groupsOfLanes }, () => vec(fn, isMax ? splat(m, -Infinity) : zero(m))));
          const offsets = (axis: number, pre: Int[]): void => {
            if (axis === d - 1) {
              const windows = pre.map((j, i) => axisWindow(fn, j, op.stride[i], op.dilation[i], K[i], padBefore[i], M[i], clamp[i]));
              const acc = convolve(windows, j0, masked);
              for (let r = 0; r < rows; r++) {
                const done = acc[r].map((a) => vec(fn, activate(ctx.step.epilogue, biases[r] ? m.f32x4.add(a.get(), (biases[r] as Var).get()) : a.get(), fn)));
                for (let u = 0; u < groupsOfLanes; u++) {
                  let red = done[u].get();
                  if (wl === 2) {
                    const a = done[2 * u];
                    const bb = done[2 * u + 1];
                    const even = m.i8x16.shuffle(a.get(), bb.get(), lanes([0, 2, 4, 6]));
                    const odd = m.i8x16.shuffle(a.get(), bb.get(), lanes([1, 3, 5, 7]));
                    red = isMax ? m.f32x4.max(even, odd) : m.f32x4.add(even, odd);
                  }
                  fn.emit(run[r][u].set(isMax ? m.f32x4.max(run[r][u].get(), red) : m.f32x4.add(run[r][u].get(), red)));
                }
              }
              return;
            }
            for (let t = 0; t < pw[axis]; t++) offsets(axis + 1, [...pre, js[axis].mul(pw[axis]).add(t)]);
          };
          offsets(0, []);
          const vol = pw.reduce((a, v) => a * v, 1);
          for (let r = 0; r < rows; r++) {
            for (let u = 0; u < groupsOfLanes; u++) {
              let out = run[r][u].get();
              if (!isMax) out = m.f32x4.mul(out, splat(m, 1 / vol));
              const value = vec(fn, activate(pool.epilogue, out, fn));
              const q = int(fn, b.mul(span / wl).add(4 * u));
              const flat = int(fn, os[r].mul(P).add(row.mul(Yl)).add(q));
              fn.emit(storeLanes(value, flat, int(fn, Yl.sub(q), false)));
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

  /** The input rows of this output row, every channel and kernel row, split by phase into scratch. */
  function splitRows(windows: readonly AxisWindow[], sp: PhaseSplit): void {
    fn.for(0, C, (c) => {
      const rowsOf = (axis: number, inFlat: Int, kFlat: Int): void => {
        if (axis === d - 1) {
          const src = int(fn, x.base.add(inFlat.mul(Ml).mul(4)));
          const dst = int(fn, at.scratch.add(c.mul(sp.kLead).add(kFlat).mul(sp.rowStride * 4)));
          fn.for(0, Ml.ceilDiv(8), (i) => {
            const a = vec(fn, m.v128.load(0, 4, src.add(i.mul(32)).expr()));
            const b = vec(fn, m.v128.load(16, 4, src.add(i.mul(32)).expr()));
            const out = dst.add(i.mul(16)).expr();
            fn.emit(m.v128.store(4 * sp.G, 4, out, m.i8x16.shuffle(a.get(), b.get(), lanes([0, 2, 4, 6]))));
            fn.emit(m.v128.store(4 * (sp.G + sp.Hs), 4, dst.add(i.mul(16)).expr(), m.i8x16.shuffle(a.get(), b.get(), lanes([1, 3, 5, 7]))));
          });
          return;
        }
        const win = windows[axis];
        fn.for(win.kLo, win.kHi, (k) => {
          const pos = int(fn, win.start.add(k.mul(op.dilation[axis])));
          rowsOf(axis + 1, int(fn, inFlat.mul(M[axis]).add(pos)), int(fn, kFlat.mul(K[axis]).add(k)));
        });
      };
      rowsOf(0, c, fn.const(0));
    });
  }

  /** Four outputs at flat.. as one vector when count >= 4, else the first `count` lanes one by one. */
  function storeLanes(v: Var, flat: Int, count: Int): Expr {
    const addr = () => (y.base.constant !== undefined ? flat.mul(4).expr() : y.base.add(flat.mul(4)).expr());
    const off = y.base.constant ?? 0;
    const partial = [0, 1, 2].map((l) => m.if(m.i32.gt_s(count.expr(), m.i32.const(l)), m.f32.store(off + 4 * l, 4, addr(), m.f32x4.extract_lane(v.get(), l))));
    return m.if(m.i32.ge_s(count.expr(), m.i32.const(4)), m.v128.store(off, 4, addr(), v.get()), m.block(null, partial));
  }

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

