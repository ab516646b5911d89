// Transposed convolution as a gather: each output element sums the taps that hit it, so
// no two iterations write the same element (no scatter, no atomics on a GPU).
//
//   out[o, x] = bias[o] + sum over c in o's group, k, with j = (x + padBefore - k*r) / s an
//               integer in [0, J):  K[c, o mod O/g, k] * in[c, j]
//
// K is the forward conv's kernel [C_in, O/g, k1..kd]; padBefore is the forward conv's,
// resolved on its input size op.out (which may be symbolic). Per axis and output
// coordinate x, with v = x + padBefore, a tap k hits when k*r = v (mod s). With
// g = gcd(r, s), s' = s/g, that needs g | v mod s, and then k = k0 (mod s') where
// k0 = ((v mod s) / g) * inverse(r/g mod s') mod s' — the stride phase. So the taps are
// k = k0 + t*s' and j = j0 - t*(r/g) with j0 = (v - k0*r) / s (exact), linear in t: the loop
// runs over t only, never over taps that cannot land, and its range is clamped once per
// output position to 0 <= j < J and k < K. Stride 1 needs none of this (k0 = 0, j0 = v).
// Loops: o, the output positions (ranges computed there), then c in the group and the taps,
// as in conv.ts. Accumulation in f64, the step's epilogue on the stored value; the output
// loops are producer.ts's, so a fused pool reduces these values computed on the fly.

import { type DeconvOp, windowGeometry } from "../../ir/ops.js";
import type { Fn, Int } from "./builder.js";
import type { KernelContext } from "./context.js";
import { dims } from "./dims.js";
import { emitOutputs } from "./producer.js";
import { parallelFor } from "./threads.js";

/** The taps of one axis at one output coordinate: t in [tLo, tHi), j = j0 - t*dj, k = k0 + t*dk. */
interface AxisTaps {
  readonly j0: Int;
  readonly k0: Int;
  readonly tLo: Int;
  readonly tHi: Int;
  readonly dj: number;
  readonly dk: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The inverse of a modulo n (gcd(a, n) = 1), by search: n is a stride, small. */
function inverseMod(a: number, n: number): number {
  if (n === 1) return 0;
  for (let i = 1; i < n; i++) if ((a * i) % n === 1) return i;
  throw new Error(`internal error: ${a} has no inverse modulo ${n}`);
}

function axisTaps(fn: Fn, x: Int, s: number, r: number, K: number, padBefore: Int, J: Int): AxisTaps {
  const v = fn.let(x.add(padBefore));
  const g = gcd(r, s);
  const dk = s / g; // s'
  const dj = r / g;
  let k0: Int = fn.const(0);
  let j0: Int = v;
  let hits: Int | undefined; // 1 when some tap can land, 0 when none (only when g > 1)
  if (s > 1) {
    const q = fn.let(v.mod(s));
    if (g > 1) hits = fn.let(fn.const(1).sub(q.mod(g).min(1)));
    k0 = dk === 1 ? fn.const(0) : fn.let(q.floorDiv(g).mul(inverseMod(dj, dk)).mod(dk));
    j0 = fn.let(v.sub(k0.mul(r)).floorDiv(s));
  }
  // 0 <= j0 - t*dj < J  and  k0 + t*dk < K.
  const tLo = fn.let(j0.sub(J).floorDiv(dj).add(1).max(0));
  let tHi = j0.floorDiv(dj).add(1).min(fn.const(K).sub(k0).ceilDiv(dk));
  if (hits) tHi = tHi.mul(hits);
  return { j0, k0, tLo, tHi: fn.let(tHi), dj, dk };
}

export function emitDeconv(ctx: KernelContext, op: DeconvOp): void {
  const { fn } = ctx;
  const m = fn.m;
  const x = ctx.input(0);
  const w = ctx.weight();
  const bias = ctx.bias(op.bias);
  // The forward conv's geometry, on its input: this op's output.
  const geo = windowGeometry(op.out, op.kernel, op.stride, op.dilation, op.pad);
  const padBefore = dims(fn, geo.padBefore);
  const J = x.shape.slice(1);
  const K = op.kernel;
  const rank = J.length;
  const inPerGroup = x.shape[0].floorDiv(op.groups);
  const outPerGroup = op.filters / op.groups;

  // Threads take whole output channels (threads.ts).
  parallelFor(fn, op.filters, (o) => {
    const cBase = op.groups === 1 ? fn.const(0) : fn.let(o.floorDiv(outPerGroup).mul(inPerGroup));
    const oInGroup = op.groups === 1 ? o : fn.let(o.mod(outPerGroup));
    emitOutputs<AxisTaps>(ctx, o, {
      axis: (axis, xi) => axisTaps(fn, xi, op.stride[axis], op.dilation[axis], K[axis], padBefore[axis], J[axis]),
      value: (_outFlat, taps) => {
        const acc = fn.f64(bias ? bias.load(o) : m.f64.const(0));
        fn.for(0, inPerGroup, (cc) => {
          const c = fn.let(cBase.add(cc));
          const offsets = (axis: number, xFlat: Int, wFlat: Int): void => {
            const tp = taps[axis];
            // Row bases at t = 0; inside, the input index falls by dj and the weight's rises by dk.
            const xRow = fn.let(xFlat.mul(J[axis]).add(tp.j0));
            const wRow = fn.let(wFlat.mul(K[axis]).add(tp.k0));
            fn.for(tp.tLo, tp.tHi, (t) => {
              const xi = xRow.sub(t.mul(tp.dj));
              const wi = wRow.add(t.mul(tp.dk));
              if (axis === rank - 1) fn.emit(acc.set(m.f64.add(acc.get(), m.f64.mul(x.load(xi), w.load(wi)))));
              else offsets(axis + 1, fn.let(xi), fn.let(wi));
            });
          };
          offsets(0, c, fn.let(c.mul(outPerGroup).add(oInGroup)));
        });
        return acc.get();
      },
    });
  });
}
