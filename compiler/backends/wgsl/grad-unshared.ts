// The WebGPU training step's unshared layers: locally connected (a kernel per output position,
// weight [O, j.., C, k..]) and tiled (a kernel per tile, [O, C, k.., t..]), forward, input and
// kernel gradients, and the tiled bias's gradient, every sample at once: the sums of the
// reference's definition (reference/grad/conv-grad.ts) over the convolutions' tap tables. The
// input gradient gathers through the inverse taps (one invocation per input element, no
// atomics); the kernel and bias gradients, summed over the batch, take one invocation per weight.

import type { Weight } from "../../ir/graph.js";
import type { LocalOp, TiledOp } from "../../ir/ops.js";
import { tileIndex } from "../../reference/grad/taps.js";
import { type GradContext, items, u, type WgslKernel } from "./grad-kernel.js";
import { windowTaps } from "./grad-window.js";

function setup(ctx: GradContext, op: LocalOp | TiledOp, inShape: readonly number[]) {
  const w = windowTaps(ctx, inShape.slice(1), op, op.kernel, false);
  const [O, C, J, K] = [op.filters, inShape[0], w.t.outVolume, w.t.kVolume];
  const T = op.kind === "tiled" ? op.tiles.reduce((a, b) => a * b, 1) : J;
  const tileAt = op.kind === "tiled" ? ctx.table(JSON.stringify(["tiles", w.t.out, op.tiles]), () => tileIndex(w.t.out, op.tiles)) : -1;
  /** The tile of output position j (j itself for a local layer). */
  const tile = (j: string) => (op.kind === "tiled" ? `u32(T[${u(tileAt)} + ${j}])` : j);
  /** The weight's element index of (o, j, c, n). */
  const index = (o: string, j: string, c: string, n: string) =>
    op.kind === "local" ? `((${o} * ${u(J)} + ${j}) * ${u(C)} + ${c}) * ${u(K)} + ${n}` : `((${o} * ${u(C)} + ${c}) * ${u(K)} + ${n}) * ${u(T)} + ${tile(j)}`;
  return { ...w, O, C, J, K, T, tile, tileAt, index };
}

export function unsharedForward(ctx: GradContext, op: LocalOp | TiledOp, inShape: readonly number[], x: number, weight: Weight, bias: Weight | undefined, y: number): WgslKernel {
  const s = setup(ctx, op, inShape);
  return items(
    op.kind,
    s.O * s.J,
    true,
    `  let o = e / ${u(s.J)};
  let j = e % ${u(s.J)};
  var acc = ${bias ? `A[${ctx.w(bias, `o * ${u(s.T)} + ${s.tile("j")}`)}]` : "0.0"};
  for (var c = 0u; c < ${u(s.C)}; c++) {
    for (var n = 0u; n < ${u(s.K)}; n++) {
      let p = T[${u(s.pos)} + j * ${u(s.K)} + n];
      if (p >= 0) { acc += A[${ctx.w(weight, s.index("o", "j", "c", "n"))}] * A[${ctx.at(x, "b", `c * ${u(s.inVol)} + u32(p)`)}]; }
    }
  }
  A[${ctx.at(y, "b", "e")}] = acc;`,
  );
}

export function unsharedGradInput(ctx: GradContext, op: LocalOp | TiledOp, inShape: readonly number[], dy: number, weight: Weight, dx: number): WgslKernel {
  const s = setup(ctx, op, inShape);
  return items(
    `${op.kind}_grad_input`,
    s.C * s.inVol,
    true,
    `  let c = e / ${u(s.inVol)};
  let xi = e % ${u(s.inVol)};
  var acc = 0.0;
  for (var n = 0u; n < ${u(s.K)}; n++) {
    let jj = T[${u(s.inv)} + xi * ${u(s.K)} + n];
    if (jj >= 0) {
      let j = u32(jj);
      for (var o = 0u; o < ${u(s.O)}; o++) { acc += A[${ctx.w(weight, s.index("o", "j", "c", "n"))}] * A[${ctx.at(dy, "b", `o * ${u(s.J)} + j`)}]; }
    }
  }
  A[${ctx.at(dx, "b", "e")}] = acc;`,
  );
}

/** The batch's kernel gradient, one invocation per weight element (a tiled one sums its tile's positions). */
export function unsharedGradKernel(ctx: GradContext, op: LocalOp | TiledOp, inShape: readonly number[], x: number, dy: number, dw: number): WgslKernel {
  const s = setup(ctx, op, inShape);
  const count = s.O * s.C * s.K * (op.kind === "local" ? s.J : s.T);
  const term = `let p = T[${u(s.pos)} + j * ${u(s.K)} + n];
        if (p >= 0) { acc += A[${ctx.at(x, "b", `c * ${u(s.inVol)} + u32(p)`)}] * A[${ctx.at(dy, "b", `o * ${u(s.J)} + j`)}]; }`;
  const body =
    op.kind === "local"
      ? `  let n = e % ${u(s.K)};
  let c = (e / ${u(s.K)}) % ${u(s.C)};
  let j = (e / ${u(s.K * s.C)}) % ${u(s.J)};
  let o = e / ${u(s.K * s.C * s.J)};
  var acc = 0.0;
  for (var b = 0u; b < U.nb; b++) {
        ${term}
  }`
      : `  let t = e % ${u(s.T)};
  let n = (e / ${u(s.T)}) % ${u(s.K)};
  let c = (e / ${u(s.T * s.K)}) % ${u(s.C)};
  let o = e / ${u(s.T * s.K * s.C)};
  var acc = 0.0;
  for (var b = 0u; b < U.nb; b++) {
    for (var j = 0u; j < ${u(s.J)}; j++) {
      if (${s.tile("j")} == t) {
        ${term}
      }
    }
  }`;
  return items(`${op.kind}_grad_kernel`, count, false, `${body}\n  A[${ctx.at(dw, "0u", "e")}] = acc;`);
}

/** A tiled bias's gradient: dy summed over the batch and each tile's positions, into [O, t..]. */
export function tiledBiasGrad(ctx: GradContext, O: number, out: readonly number[], tiles: readonly number[], dy: number, db: number): WgslKernel {
  const J = out.reduce((a, b) => a * b, 1);
  const T = tiles.reduce((a, b) => a * b, 1);
  const tileAt = ctx.table(JSON.stringify(["tiles", out, tiles]), () => tileIndex(out, tiles));
  return items(
    "bias_grad",
    O * T,
    false,
    `  let o = e / ${u(T)};
  let t = e % ${u(T)};
  var acc = 0.0;
  for (var b = 0u; b < U.nb; b++) {
    for (var j = 0u; j < ${u(J)}; j++) {
      if (u32(T[${u(tileAt)} + j]) == t) { acc += A[${ctx.at(dy, "b", `o * ${u(J)} + j`)}]; }
    }
  }
  A[${ctx.at(db, "0u", "e")}] = acc;`,
  );
}
