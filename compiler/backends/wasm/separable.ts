// Separable convolution (see algorithms/separable.ts): every kernel slice K[o, c] is an outer
// product of 1-D factors, found at compile time and stored as a table (flipped for true
// convolution), so the layer is one 1-D pass per axis, O(sum k) per output instead of
// O(prod k). The output is computed in strips of S positions of the first axis, which keeps
// scratch memory at a few rows (2-D) or planes (3-D) of the image:
//   1. last axis (contiguous): the strip's input rows -> T1 [rows1][(H)][Jw], four outputs
//      per vector (masked vector loads at the image's edges, lane loads at stride > 1);
//   2. (3-D) the middle axis: T1 -> T2 [rows1][Jh][Jw], whole rows of vectors;
//   3. the first axis: T2 -> the strip's outputs, accumulated over the group's input
//      channels in ACC when there are several, then bias, epilogue, store.
// A depthwise blur (one slice per channel) goes straight from pass 3 to the output.

import * as D from "../../ir/dim.js";
import { type ConvOp, effectiveKernel, windowGeometry } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import { separableFactors } from "../../algorithms/separable.js";
import type { Expr, Int, Var } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dim, dims } from "./dims.js";
import { overread } from "./gemm.js";
import { parallelFor } from "./threads.js";
import { type AlgorithmKernel, fmadd, int, intLocal, type KernelAddresses, OutputWriter, rangeMask, stepWeights, TableBuilder, vec, zero } from "./simd.js";

/** Output positions of the first axis per strip. */
export function separableStrip(op: ConvOp): number {
  return op.kernel.length === 2 ? 32 : 4;
}

/** Scratch bytes: T1, T2 (3-D) and ACC (several input channels per group), as Dims. */
function scratchDims(op: ConvOp, inShape: readonly D.Dim[], outShape: readonly D.Dim[]) {
  const d = op.kernel.length;
  const S = separableStrip(op);
  const rows1 = (S - 1) * op.stride[0] + (op.kernel[0] - 1) * op.dilation[0] + 1;
  const Jw4 = D.mul(4, D.ceildiv(outShape[d], 4));
  const Mmid: D.Dim = d === 3 ? inShape[2] : 1;
  const Jmid: D.Dim = d === 3 ? outShape[2] : 1;
  const t1 = D.mul(rows1, D.mul(Mmid, Jw4));
  const t2 = d === 3 ? D.mul(rows1, D.mul(Jmid, Jw4)) : 0;
  const C = inShape[0] as number;
  const acc = C / op.groups > 1 ? D.mul(S, D.mul(Jmid, Jw4)) : 0;
  return { S, rows1, t1, t2, acc, bytes: D.mul(4, D.add(t1, D.add(t2, acc))) };
}

export function prepareSeparable(step: Step, plan: Plan, op: ConvOp): AlgorithmKernel {
  const C = step.inputs[0].shape[0];
  if (typeof C !== "number") throw new Error(`internal error: layer ${step.layer} has a symbolic channel count`);
  const found = separableFactors(op, stepWeights(step, plan.weightData), C);
  if ("reason" in found) throw new Error(`internal error: layer ${step.layer} is not separable: ${found.reason}`);
  const sumK = op.kernel.reduce((a, b) => a + b, 0);
  const table = new Float32Array(found.factors.length * sumK);
  found.factors.forEach((f, s) => {
    let at = s * sumK;
    for (const u of f) {
      table.set(u, at);
      at += u.length;
    }
  });
  const tables = new TableBuilder();
  tables.add(table);
  const sd = scratchDims(op, step.inputs[0].shape, step.output.shape);
  return {
    tables: tables.build(),
    scratchBytes: sd.bytes,
    overreadBytes: overread(op, 4),
    emit: (ctx, at) => emitSeparable(ctx, op, at),
  };
}

function emitSeparable(ctx: KernelContext, op: ConvOp, at: KernelAddresses): void {
  const { fn } = ctx;
  const { tables: table, scratch } = at;
  const m = fn.m;
  const x = ctx.input(0);
  const inShape = ctx.step.inputs[0].shape;
  const outShape = ctx.step.output.shape;
  const geo = windowGeometry(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
  const pad = dims(fn, geo.padBefore);
  const M = x.shape.slice(1);
  const J = ctx.output().shape.slice(1);
  const d = M.length;
  const C = x.shape[0].constant as number;
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const sumK = op.kernel.reduce((a, b) => a + b, 0);
  const prefix = op.kernel.map((_, a) => op.kernel.slice(0, a).reduce((s, k) => s + k, 0));
  const sd = scratchDims(op, inShape, outShape);
  const { S, rows1 } = sd;
  const last = d - 1;
  const Jw = J[last];
  const Mw = M[last];
  const Jw4 = fn.atEntry("sep.Jw4", () => Jw.ceilDiv(4).mul(4));
  const vecs = fn.atEntry("sep.vecs", () => Jw.ceilDiv(4));
  const Mmid = d === 3 ? M[1] : fn.const(1);
  const Jmid = d === 3 ? J[1] : fn.const(1);
  const plane = fn.atEntry("sep.inPlane", () => M.reduce<Int>((p, v) => p.mul(v), fn.const(1)));
  const outPlane = fn.atEntry("sep.outPlane", () => J.reduce<Int>((p, v) => p.mul(v), fn.const(1)));
  const t1 = scratch;
  const t2 = d === 3 ? fn.atEntry("sep.t2", () => scratch.add(dim(fn, D.mul(4, sd.t1)))) : t1;
  const acc = fn.atEntry("sep.acc", () => scratch.add(dim(fn, D.mul(4, D.add(sd.t1, sd.t2)))));
  const writer = new OutputWriter(ctx, op, at.spill);
  const s = op.stride;
  const r = op.dilation;
  const k = op.kernel;
  const kEffLast = effectiveKernel(k[last], r[last]);

  /** The factor of `axis` for slice `slice`: a pointer to its k floats. */
  const factor = (slice: Int, axis: number) => int(fn, slice.mul(sumK * 4).add(table + prefix[axis] * 4));
  /** The taps of a factor as splats, hoisted into locals when there are few. */
  const taps = (ptr: Int, n: number): (() => Expr)[] =>
    Array.from({ length: n }, (_, t) => {
      if (n <= 12) {
        const v = vec(fn, m.v128.load32_splat(4 * t, 4, ptr.expr()));
        return () => v.get();
      }
      return () => m.v128.load32_splat(4 * t, 4, ptr.expr());
    });
  const fma = (sum: Expr | undefined, a: Expr, b: Expr) => (sum ? fmadd(fn, sum, a, b) : m.f32x4.mul(a, b));

  // Threads take whole strips (threads.ts): each filters into its own scratch.
  parallelFor(fn, J[0].ceilDiv(S), (strip) => {
    const j0 = int(fn, strip.mul(S));
    const first = int(fn, j0.mul(s[0]).sub(pad[0]), false);
    fn.for(0, op.filters, (o) => {
      const bias = writer.channelBias(o);
      const gBase = op.groups === 1 ? fn.const(0) : int(fn, o.floorDiv(Og).mul(Cg));
      fn.for(0, Cg, (cc) => {
        const slice = int(fn, o.mul(Cg).add(cc));
        const channel = int(fn, gBase.add(cc));
        lastAxisPass(channel, first, factor(slice, last));
        if (d === 3) middlePass(factor(slice, 1));
        firstAxisPass(o, cc, j0, factor(slice, 0), bias);
      });
      if (Cg > 1) storeAccumulated(o, j0, bias);
    });
  });

  /** T1[ir][h][x] = sum_t u[t] * input[channel][first + ir][h][x*s + t*r - pad] (zero outside). */
  function lastAxisPass(channel: Int, first: Int, u: Int): void {
    const w = taps(u, k[last]);
    fn.for(0, rows1, (ir) => {
      const iy = int(fn, first.add(ir), false);
      fn.for(0, Mmid, (h) => {
        const dst = int(fn, t1.add(ir.mul(Mmid).add(h).mul(Jw4).mul(4)));
        const rowOk = m.i32.lt_u(iy.expr(), M[0].expr());
        const src = int(fn, x.base.add(channel.mul(plane).add(iy.mul(d === 3 ? M[1].mul(Mw) : Mw)).add(h.mul(Mw)).mul(4)), false);
        const fill = fn.block(() =>
          fn.for(0, vecs, (xv) => {
            const col = int(fn, xv.mul(4 * s[last]).sub(pad[last]), false);
            const out = () => dst.add(xv.mul(16)).expr();
            const interior = m.i32.and(
              m.i32.ge_s(col.expr(), m.i32.const(0)),
              m.i32.le_s(col.add(3 * s[last] + kEffLast).expr(), Mw.expr()),
            );
            const sum = (masked: boolean) => {
              let total: Expr | undefined;
              for (let t = 0; t < k[last]; t++) {
                const c = col.add(t * r[last]);
                let v = load(src, c);
                if (masked) v = m.v128.and(v, rangeMask(m, c, s[last], Mw));
                total = fma(total, w[t](), v);
              }
              return m.v128.store(0, 16, out(), total ?? zero(m));
            };
            fn.emit(m.if(interior, sum(false), sum(true)));
          }),
        );
        const clear = fn.block(() => fn.for(0, vecs, (xv) => fn.emit(m.v128.store(0, 16, dst.add(xv.mul(16)).expr(), zero(m)))));
        fn.emit(m.if(rowOk, fill, clear));
      });
    });
  }

  /** Four input values at columns c, c+s, c+2s, c+3s of the row at `src` (unmasked). */
  function load(src: Int, c: Int): Expr {
    const p = () => src.add(c.mul(4)).expr();
    if (s[last] === 1) return m.v128.load(0, 4, p());
    let v = zero(m);
    for (let l = 0; l < 4; l++) v = m.v128.load32_lane(4 * l * s[last], 4, l, p(), v);
    return v;
  }

  /** (3-D) T2[ir][jh][x] = sum_t u[t] * T1[ir][jh*s + t*r - pad][x]. */
  function middlePass(u: Int): void {
    const w = taps(u, k[1]);
    fn.for(0, rows1, (ir) => {
      fn.for(0, J[1], (jh) => {
        const start = int(fn, jh.mul(s[1]).sub(pad[1]), false);
        const dst = int(fn, t2.add(ir.mul(J[1]).add(jh).mul(Jw4).mul(4)));
        // A tap past the middle axis's ends reads row 0 of T1 and is masked to zero.
        const oks = Array.from({ length: k[1] }, (_, t) => intLocal(fn, m.i32.lt_u(start.add(t * r[1]).expr(), Mmid.expr())));
        const rows = oks.map((ok, t) => intLocal(fn, m.select(ok.expr(), t1.add(ir.mul(Mmid).add(start).add(t * r[1]).mul(Jw4).mul(4)).expr(), t1.expr())));
        const masks = oks.map((ok) => vec(fn, m.i32x4.splat(m.i32.sub(m.i32.const(0), ok.expr()))));
        fn.for(0, vecs, (xv) => {
          let total: Expr | undefined;
          for (let t = 0; t < k[1]; t++) {
            const v = m.v128.and(m.v128.load(0, 16, rows[t].add(xv.mul(16)).expr()), masks[t].get());
            total = fma(total, w[t](), v);
          }
          fn.emit(m.v128.store(0, 16, dst.add(xv.mul(16)).expr(), total ?? zero(m)));
        });
      });
    });
  }

  /** Outputs j0 + y of the first axis: sum_t u[t] * T2[y*s + t*r][..][x], stored or accumulated. */
  function firstAxisPass(o: Int, cc: Int, j0: Int, u: Int, bias: Var | undefined): void {
    const w = taps(u, k[0]);
    const src = d === 3 ? t2 : t1;
    fn.for(0, S, (y) => {
      const row = int(fn, j0.add(y));
      const body = fn.block(() =>
        fn.for(0, Jmid, (jm) => {
          const rowsAt = Array.from({ length: k[0] }, (_, t) => int(fn, src.add(y.mul(s[0]).add(t * r[0]).mul(Jmid).add(jm).mul(Jw4).mul(4))));
          const outFlat = int(fn, o.mul(outPlane).add(row.mul(Jmid).add(jm).mul(Jw)));
          const accRow = int(fn, acc.add(y.mul(Jmid).add(jm).mul(Jw4).mul(4)));
          fn.for(0, vecs, (xv) => {
            let total: Expr | undefined;
            for (let t = 0; t < k[0]; t++) total = fma(total, w[t](), m.v128.load(0, 16, rowsAt[t].add(xv.mul(16)).expr()));
            const v = vec(fn, total ?? zero(m));
            if (Cg > 1) {
              const at = () => accRow.add(xv.mul(16)).expr();
              fn.emit(m.if(cc.lt(1), m.v128.store(0, 16, at(), v.get()), m.v128.store(0, 16, at(), m.f32x4.add(m.v128.load(0, 16, at()), v.get()))));
            } else store(v, o, outFlat, xv, bias);
          });
        }),
      );
      fn.emit(m.if(row.lt(J[0]), body));
    });
  }

  function storeAccumulated(o: Int, j0: Int, bias: Var | undefined): void {
    fn.for(0, S, (y) => {
      const row = int(fn, j0.add(y));
      const body = fn.block(() =>
        fn.for(0, Jmid, (jm) => {
          const outFlat = int(fn, o.mul(outPlane).add(row.mul(Jmid).add(jm).mul(Jw)));
          const accRow = int(fn, acc.add(y.mul(Jmid).add(jm).mul(Jw4).mul(4)));
          fn.for(0, vecs, (xv) => store(vec(fn, m.v128.load(0, 16, accRow.add(xv.mul(16)).expr())), o, outFlat, xv, bias));
        }),
      );
      fn.emit(m.if(row.lt(J[0]), body));
    });
  }

  /** Vector xv of an output row (flat index of its first element `outFlat`). */
  function store(v: Var, o: Int, outFlat: Int, xv: Int, bias: Var | undefined): void {
    const x0 = int(fn, xv.mul(4));
    fn.emit(writer.run(v, o, int(fn, outFlat.add(x0)), Jw.sub(x0), bias));
  }
}
