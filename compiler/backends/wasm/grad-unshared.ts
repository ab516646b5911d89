// The WebAssembly training step's unshared layers: locally connected (a kernel per output
// position, weight [O, j.., C, k..]) and tiled (a kernel per tile, [O, C, k.., t..]), forward,
// input and kernel gradients, and the tiled bias's gradient; the sums of the reference's
// definition (reference/grad/conv-grad.ts) over the same tap table as the convolutions, in f64,
// one term at a time. Scalar code: these layers have few weights per position and no reuse a
// GEMM could exploit across positions.

import type { LocalOp, TiledOp } from "../../ir/ops.js";
import { taps, tileIndex } from "../../reference/grad/taps.js";
import { type F64Var, Int, type View } from "./builder.js";
import { type GradKernelContext, loadI32, when, zero } from "./grad-context.js";

interface Unshared {
  readonly O: number;
  readonly C: number;
  readonly J: number;
  readonly K: number;
  readonly inVol: number;
  /** Byte address of the tap table: pos[j * K + n], -1 in the padding. */
  readonly pos: number;
  /** The weight's element index of (o, j, c, n). */
  readonly index: (o: Int, j: Int, c: Int, n: Int) => Int;
  /** The tiled bias's (or tile's) index of output position j: j itself for a local layer. */
  readonly tile: (j: Int) => Int;
  readonly tiles: number;
}

function setup(k: GradKernelContext, op: LocalOp | TiledOp, inShape: readonly number[]): Unshared {
  const { fn } = k;
  const m = fn.m;
  const spatial = inShape.slice(1);
  const t = taps(spatial, op.kernel, op.stride, op.dilation, op.pad);
  const pos = k.table(JSON.stringify(["taps", spatial, op.kernel, op.stride, op.dilation, op.pad, false]), () => t.pos);
  const [C, J, K] = [inShape[0], t.outVolume, t.kVolume];
  const inVol = spatial.reduce((a, b) => a * b, 1);
  if (op.kind === "local") {
    return { O: op.filters, C, J, K, inVol, pos, index: (o, j, c, n) => o.mul(J).add(j).mul(C).add(c).mul(K).add(n), tile: (j) => j, tiles: J };
  }
  const tiles = op.tiles.reduce((a, b) => a * b, 1);
  const tileAt = k.table(JSON.stringify(["tiles", t.out, op.tiles]), () => tileIndex(t.out, op.tiles));
  const tile = (j: Int) => fn.let(Int.of(m, () => loadI32(fn, tileAt, j), true));
  return { O: op.filters, C, J, K, inVol, pos, index: (o, j, c, n) => o.mul(C).add(c).mul(K).add(n).mul(tiles).add(tile(j)), tile, tiles };
}

/** Every real tap: output (o, j), input channel c, window offset n meeting input position p. */
function eachTap(k: GradKernelContext, u: Unshared, body: (o: Int, j: Int, c: Int, n: Int, p: Int) => void, around?: (o: Int, j: Int, taps: () => void) => void): void {
  const { fn } = k;
  const m = fn.m;
  fn.for(0, u.O, (o) =>
    fn.for(0, u.J, (j) => {
      const taps = () =>
        fn.for(0, u.C, (c) =>
          fn.for(0, u.K, (n) => {
            const p = fn.let(Int.of(m, () => loadI32(fn, u.pos, j.mul(u.K).add(n)), false));
            when(fn, m.i32.ge_s(p.expr(), m.i32.const(0)), () => body(o, j, c, n, p));
          }),
        );
      if (around) around(o, j, taps);
      else taps();
    }),
  );
}

/** y[o, j] = bias + sum over c and the window's real taps of W[o, j, c, n] x[c, p]. */
export function emitUnsharedForward(k: GradKernelContext, op: LocalOp | TiledOp, inShape: readonly number[], x: View, w: View, bias: View | undefined, y: View): void {
  const { fn } = k;
  const m = fn.m;
  const u = setup(k, op, inShape);
  // One accumulator per output, set before its taps run.
  const acc: F64Var[] = [];
  eachTap(
    k,
    u,
    (o, j, c, n, p) => fn.emit(acc[0].set(m.f64.add(acc[0].get(), m.f64.mul(w.load(u.index(o, j, c, n)), x.load(c.mul(u.inVol).add(p)))))),
    (o, j, taps) => {
      acc[0] = fn.f64(bias ? bias.load(o.mul(u.tiles).add(u.tile(j))) : m.f64.const(0));
      taps();
      fn.emit(y.store(o.mul(u.J).add(j), acc[0].get()));
    },
  );
}

/** dx[c, p] = sum over (o, j, n) whose tap meets p of W[o, j, c, n] dy[o, j]. */
export function emitUnsharedGradInput(k: GradKernelContext, op: LocalOp | TiledOp, inShape: readonly number[], dy: View, w: View, dx: View): void {
  const { fn } = k;
  const m = fn.m;
  const u = setup(k, op, inShape);
  zero(fn, dx, u.C * u.inVol);
  eachTap(k, u, (o, j, c, n, p) => {
    const at = fn.let(c.mul(u.inVol).add(p));
    fn.emit(dx.store(at, m.f64.add(dx.load(at), m.f64.mul(w.load(u.index(o, j, c, n)), dy.load(o.mul(u.J).add(j))))));
  });
}

/** dW[o, j, c, n] (a local layer's, one term) or dW[o, c, n, t] (a tiled layer's, summed over its tile) = x[c, p] dy[o, j]. */
export function emitUnsharedGradKernel(k: GradKernelContext, op: LocalOp | TiledOp, inShape: readonly number[], x: View, dy: View, dw: View, weights: number): void {
  const { fn } = k;
  const m = fn.m;
  const u = setup(k, op, inShape);
  zero(fn, dw, weights);
  eachTap(k, u, (o, j, c, n, p) => {
    const at = fn.let(u.index(o, j, c, n));
    fn.emit(dw.store(at, m.f64.add(dw.load(at), m.f64.mul(x.load(c.mul(u.inVol).add(p)), dy.load(o.mul(u.J).add(j))))));
  });
}

/** A tiled bias's gradient: dy [O, j..] summed per tile into [O, t..]; `add`: into the batch's sum. */
export function emitTiledBiasGrad(k: GradKernelContext, O: number, out: readonly number[], tiles: readonly number[], dy: View, db: View, add: boolean): void {
  const { fn } = k;
  const m = fn.m;
  const J = out.reduce((a, b) => a * b, 1);
  const T = tiles.reduce((a, b) => a * b, 1);
  const tileAt = k.table(JSON.stringify(["tiles", out, tiles]), () => tileIndex(out, tiles));
  if (!add) zero(fn, db, O * T);
  fn.for(0, O, (o) =>
    fn.for(0, J, (j) => {
      const at = fn.let(o.mul(T).add(Int.of(m, () => loadI32(fn, tileAt, j), true)));
      fn.emit(db.store(at, m.f64.add(db.load(at), dy.load(o.mul(J).add(j)))));
    }),
  );
}
