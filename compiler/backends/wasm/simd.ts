// What the fast convolution kernels (gemm, winograd, fft, separable) share: the contract with
// module.ts (compile-time tables, scratch memory, how far a masked vector load may read past
// a tensor), SIMD128 helpers (constants, 4x4 transpose, lane masks), the 4x8 register-blocked
// GEMM micro-kernel that im2col and Winograd both run on, and the output writer that adds the
// bias and applies the step's epilogue. These kernels compute in f32 on four lanes (the
// direct kernel accumulates in f64): the measured errors stay far inside the 1e-5 contract
// (tests/backends/wasm/algorithms.test.ts states them).

import { binaryen } from "./binaryen.js";
import * as D from "../../ir/dim.js";
import type { ConvOp } from "../../ir/ops.js";
import type { Step } from "../../plan/plan.js";
import { type Expr, type Fn, Int, type Var } from "./builder.js";
import type { KernelContext } from "./context.js";

/** What an algorithm needs from the module besides its function. */
export interface AlgorithmKernel {
  /** Compile-time tables (packed or transformed weights, spectra, index tables), 16-byte aligned. */
  readonly tables: Uint8Array;
  /** Scratch bytes (may depend on the input's size symbols). */
  readonly scratchBytes: D.Dim;
  /** How far a masked vector load may read before the start or past the end of an input tensor, bytes. */
  readonly overreadBytes: number;
  /** Emits the step's body; byte addresses of its tables, its scratch, and a 16-byte spill slot. */
  emit(ctx: KernelContext, at: KernelAddresses): void;
}

export const SPILL_BYTES = 16 + 256;

export interface KernelAddresses {
  readonly tables: number;
  readonly scratch: Int;
  /** SPILL_BYTES, the thread's own: 16 for a vector whose lanes are stored one by one (OutputWriter.run), then 256 for the kernel's own staging. */
  readonly spill: Int;
}

/**
 * acc + a * b on four f32 lanes: every hot multiply-add goes through here, so that the module
 * built for engines with relaxed SIMD gets one fused `f32x4.relaxed_madd` (about 1.5-1.7x the
 * mul + add throughput) and the plain module the two instructions.
 */
export function fmadd(fn: Fn, acc: Expr, a: Expr, b: Expr): Expr {
  const m = fn.m;
  fn.multiplyAdds++;
  if (fn.relaxed) return relaxedMadd(m, a, b, acc);
  return m.f32x4.add(acc, m.f32x4.mul(a, b));
}

/** binaryen.js builds relaxed SIMD only through its C API: f32x4.relaxed_madd(a, b, c) = a * b + c. */
interface RelaxedApi {
  readonly _BinaryenSIMDTernary: (module: number, op: number, a: Expr, b: Expr, c: Expr) => Expr;
  readonly RelaxedMaddVecF32x4: number;
}

function relaxedMadd(m: binaryen.Module, a: Expr, b: Expr, c: Expr): Expr {
  const api = binaryen as unknown as RelaxedApi;
  return api._BinaryenSIMDTernary(m.ptr, api.RelaxedMaddVecF32x4, a, b, c);
}

/** Packs f32 arrays into one 16-byte aligned table; `offset(i)` is part i's byte offset. */
export class TableBuilder {
  private readonly parts: Uint8Array[] = [];
  private bytes = 0;

  add(data: Float32Array | Int32Array): number {
    const at = this.bytes;
    this.parts.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.bytes += Math.ceil(data.byteLength / 16) * 16;
    return at;
  }

  build(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += Math.ceil(p.byteLength / 16) * 16;
    }
    return out;
  }
}

/** A step's weight as the plan's f32 values. */
export function stepWeights(step: Step, weightData: Float32Array): Float32Array {
  const w = step.weight;
  if (!w) throw new Error(`internal error: layer ${step.layer} has no weight in the plan`);
  return weightData.subarray(w.offset, w.offset + w.length);
}

export const f32x4Const = (m: binaryen.Module, v: readonly number[]): Expr => {
  const b = new Uint8Array(16);
  new Float32Array(b.buffer).set(v);
  return m.v128.const(Array.from(b));
};

export const splat = (m: binaryen.Module, v: number): Expr => f32x4Const(m, [v, v, v, v]);

export const i32x4Const = (m: binaryen.Module, v: readonly number[]): Expr => {
  const b = new Uint8Array(16);
  new Int32Array(b.buffer).set(v);
  return m.v128.const(Array.from(b));
};

export const zero = (m: binaryen.Module): Expr => i32x4Const(m, [0, 0, 0, 0]);

/** A v128 local set to `init`. */
export function vec(fn: Fn, init: Expr): Var {
  return fn.variable(binaryen.v128, init);
}

/** An i32 local set to `init`, as an Int. */
export function int(fn: Fn, init: Int, nonneg = true): Int {
  if (init.constant !== undefined) return init;
  const v = fn.variable(binaryen.i32, init.expr());
  return Int.of(fn.m, () => v.get(), nonneg);
}

/** i8x16.shuffle mask picking f32 lanes (0-3 from the first operand, 4-7 from the second). */
export function lanes(ls: readonly number[]): number[] {
  return ls.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}

/** The 4x4 transpose of four row vectors (as expressions reading locals), into four new locals. */
export function transpose4(fn: Fn, rows: readonly Var[]): Var[] {
  const m = fn.m;
  const [a, b, c, d] = rows;
  const t0 = vec(fn, m.i8x16.shuffle(a.get(), b.get(), lanes([0, 4, 1, 5])));
  const t1 = vec(fn, m.i8x16.shuffle(a.get(), b.get(), lanes([2, 6, 3, 7])));
  const t2 = vec(fn, m.i8x16.shuffle(c.get(), d.get(), lanes([0, 4, 1, 5])));
  const t3 = vec(fn, m.i8x16.shuffle(c.get(), d.get(), lanes([2, 6, 3, 7])));
  return [
    vec(fn, m.i8x16.shuffle(t0.get(), t2.get(), lanes([0, 1, 4, 5]))),
    vec(fn, m.i8x16.shuffle(t0.get(), t2.get(), lanes([2, 3, 6, 7]))),
    vec(fn, m.i8x16.shuffle(t1.get(), t3.get(), lanes([0, 1, 4, 5]))),
    vec(fn, m.i8x16.shuffle(t1.get(), t3.get(), lanes([2, 3, 6, 7]))),
  ];
}

/** All-ones lanes where first + lane*step lies in [0, size): (u32)(index) < (u32)size. */
export function rangeMask(m: binaryen.Module, first: Int, step: number, size: Int): Expr {
  const idx = m.i32x4.add(m.i32x4.splat(first.expr()), i32x4Const(m, [0, step, 2 * step, 3 * step]));
  return m.i32x4.lt_u(idx, m.i32x4.splat(size.expr()));
}

/** An i32 expression computed once here, into a local, as an Int. */
export function intLocal(fn: Fn, e: Expr, nonneg = true): Int {
  const v = fn.variable(binaryen.i32, e);
  return Int.of(fn.m, () => v.get(), nonneg);
}

/** Byte address arithmetic helper: base + 4 * elements. */
export function addr(base: Int, elements: Int | number): Int {
  return base.add(typeof elements === "number" ? elements * 4 : elements.mul(4));
}

/**
 * The register-blocked micro-kernel: C[rows x 8] = sum over k < K of a[k][r] * b[k][0..7].
 * `a` holds K groups of 4 f32 (one per row, zero-padded), `b0` and `b1` K vectors of 4
 * columns each. Accumulates in 4x2 v128 locals (8 of the 16 SIMD registers, plus two for b
 * and one for a broadcast): each k costs 2 loads, `rows` broadcast loads and 2*rows
 * multiply-adds of four lanes.
 */
export function microKernel(fn: Fn, K: number, rows: number, a: Int, b0: Int, b1: Int, unroll = 1): Var[][] {
  const m = fn.m;
  const acc = Array.from({ length: rows }, () => [vec(fn, zero(m)), vec(fn, zero(m))]);
  const body = (pa: Int, pb0: Int, pb1: Int, k: number) => {
    const bv0 = vec(fn, m.v128.load(16 * k, 16, pb0.expr()));
    const bv1 = vec(fn, m.v128.load(16 * k, 16, pb1.expr()));
    // Each weight broadcast straight from memory (load32_splat): V8 adds its offset with an
    // integer instruction, but one v128.load and four lane shuffles ran 1.1-1.2x slower (the
    // shuffles compete with the multiplies and adds for the vector ports; measured on
    // conv_stride2 0.67 -> 0.59 ms, audio_conv2 1.01 -> 0.84, Winograd F(4x4) on 64x56x56
    // 2.70 -> 2.44, plain SIMD; relaxed 4-5%).
    for (let r = 0; r < rows; r++) {
      const av = vec(fn, m.v128.load32_splat(16 * k + 4 * r, 4, pa.expr()));
      fn.emit(acc[r][0].set(fmadd(fn, acc[r][0].get(), av.get(), bv0.get())));
      fn.emit(acc[r][1].set(fmadd(fn, acc[r][1].get(), av.get(), bv1.get())));
    }
  };
  const steps = Math.floor(K / unroll);
  fn.for(0, steps, (i) => {
    const off = int(fn, i.mul(16 * unroll));
    const pa = int(fn, a.add(off));
    const pb0 = int(fn, b0.add(off));
    const pb1 = int(fn, b1.add(off));
    for (let u = 0; u < unroll; u++) body(pa, pb0, pb1, u);
  });
  for (let k = steps * unroll; k < K; k++) body(a, b0, b1, k);
  return acc;
}

/**
 * Adds the bias, applies the epilogue and stores outputs of a convolution step. Four outputs
 * at consecutive indices go out as one vector when the epilogue is simple (ReLU, leaky ReLU,
 * identity) and reads nothing else; otherwise each goes through the step's scalar `finish`.
 */
export class OutputWriter {
  private readonly simple: boolean;

  constructor(
    private readonly ctx: KernelContext,
    private readonly op: ConvOp,
    private readonly spill: Int,
  ) {
    this.simple = ctx.step.epilogue.every((e) => e.kind === "activation" && ["relu", "leaky_relu", "identity"].includes(e.fn));
  }

  /** The bias of output channel `o` as an f32 splat (hoist it out of position loops), or undefined. */
  channelBias(o: Int): Var | undefined {
    if (this.op.bias !== "channel") return undefined;
    const bias = this.ctx.bias("channel");
    if (!bias) return undefined;
    const m = this.ctx.fn.m;
    return vec(this.ctx.fn, m.f32x4.splat(m.f32.demote(bias.load(o))));
  }

  /** One output (an f32 value) of channel `o` at flat output index `flat`. */
  scalar(value: Expr, o: Int, flat: Int): Expr {
    const { ctx, op } = this;
    const m = ctx.fn.m;
    let v = m.f64.promote(value);
    const bias = ctx.bias(op.bias);
    if (bias) v = m.f64.add(v, bias.load(op.bias === "location" ? flat : o));
    return ctx.output().store(flat, ctx.finish(v, flat));
  }

  /** Lane `lane` of a vector as one output. */
  lane(v: Var, lane: number, o: Int, flat: Int): Expr {
    return this.scalar(this.ctx.fn.m.f32x4.extract_lane(v.get(), lane), o, flat);
  }

  /**
   * The first `count` lanes of `v` (outputs flat.., any count; all four as one vector when
   * count >= 4). A partial vector goes through the spill slot and one scalar epilogue in a
   * loop, rather than four copies of it.
   */
  run(v: Var, o: Int, flat: Int, count: Int, bias: Var | undefined): Expr {
    const fn = this.ctx.fn;
    const m = fn.m;
    const full = fn.block(() => fn.emit(this.vector(v, o, flat, bias)));
    const partial = fn.block(() => {
      fn.emit(m.v128.store(0, 16, this.spill.expr(), v.get()));
      fn.for(0, count, (l) => fn.emit(this.scalar(m.f32.load(0, 4, l.mul(4).add(this.spill).expr()), o, flat.add(l))));
    });
    return m.if(m.i32.ge_s(count.expr(), m.i32.const(4)), full, partial);
  }

  /** Four outputs of channel `o` at flat indices flat..flat+3 (all valid). */
  vector(v: Var, o: Int, flat: Int, bias: Var | undefined): Expr {
    const { ctx, op } = this;
    const fn = ctx.fn;
    const m = fn.m;
    if (!this.simple) return m.block(null, [0, 1, 2, 3].map((l) => this.lane(v, l, o, flat.add(l))));
    let x = v.get();
    if (bias) x = m.f32x4.add(x, bias.get());
    else if (op.bias === "location") {
      const b = ctx.bias("location");
      if (b) x = m.f32x4.add(x, m.v128.load(b.base.constant ?? 0, 4, addrOf(b.base, flat)));
    }
    for (const e of ctx.step.epilogue) {
      if (e.kind !== "activation") continue;
      if (e.fn === "relu") x = m.f32x4.max(x, zero(m));
      else if (e.fn === "leaky_relu") {
        const t = vec(fn, x);
        x = m.v128.bitselect(m.f32x4.mul(t.get(), splat(m, e.alpha)), t.get(), m.f32x4.lt(t.get(), zero(m)));
      }
    }
    const y = ctx.output();
    return m.v128.store(y.base.constant ?? 0, 4, addrOf(y.base, flat), x);
  }
}

/** The pointer expression for element `flat` of a view whose constant base goes in the offset immediate. */
function addrOf(base: Int, flat: Int): Expr {
  return base.constant !== undefined ? flat.mul(4).expr() : base.add(flat.mul(4)).expr();
}
