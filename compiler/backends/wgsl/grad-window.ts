// The WebGPU training step's sliding-window kernels: convolution forward and its two
// gradients (SPEC "Gradients"), pooling forward and gradient (max, avg, lp, gauss). All read the tap table
// the reference gradients use (compiler/reference/grad/taps.ts): pos[j * K + n] is the input
// offset that output j meets at window offset n, or -1 in the padding, so stride, padding,
// dilation and 1-, 2- or 3-D windows are one loop over (j, n). With n' = n, or K - 1 - n for
// a flipped (true) convolution, and groups restricting c to o's group:
//
//   forward:  Z[b, o, j]  = bias + sum over c, n of  K[o, c, n'] * V[b, c, pos[j, n]]
//   eq. 9.13: dV[b, c, x] = sum over n with inv[x, n] = j >= 0, o in c's group of K[o, c, n'] * dy[b, o, j]
//   eq. 9.11: dK[o, c, n'] = sum over b, j of  V[b, c, pos[j, n]] * dy[b, o, j]
//
// where inv is the tap table read the other way (for input offset x and window offset n, the
// output j whose tap n meets x). Every input gradient gathers (one invocation per input
// element, written once: no atomics); the kernel gradient is a workgroup sum over the batch
// and the positions. Pools: max routes dy to the first arg-max of the window's real elements
// (recomputed from x), avg spreads dy times the window's 1 / divisor (a table per position),
// gauss dy * w_n / (the real elements' sum of w), lp dy |x|^(p-1) sign(x) / y^(p-1) with y
// recomputed from the window (written out without pow for p = 1: pow(0, 0) is undefined).

import type { Weight } from "../../ir/graph.js";
import { type AdaptivePoolOp, type ConvOp, gaussWeights, type PoolOp } from "../../ir/ops.js";
import { adaptiveTaps, taps, type Taps } from "../../reference/grad/taps.js";
import { type GradContext, groups, items, u, type WgslKernel } from "./grad-kernel.js";
import { f32Lit } from "./prelude.js";

export function windowTaps(ctx: GradContext, spatial: readonly number[], op: Pick<ConvOp, "stride" | "dilation" | "pad">, window: readonly number[], ceil: boolean): { t: Taps; pos: number; inv: number; inVol: number } {
  const key = JSON.stringify([spatial, window, op.stride, op.dilation, op.pad, ceil]);
  return tapTables(ctx, key, spatial, () => taps(spatial, window, op.stride, op.dilation, op.pad, ceil));
}

/** The taps' table and its inverse (for input offset x and window offset n, the output j whose tap n meets x, or -1), shared by key. */
function tapTables(ctx: GradContext, key: string, spatial: readonly number[], make: () => Taps): { t: Taps; pos: number; inv: number; inVol: number } {
  const t = make();
  const inVol = spatial.reduce((a, b) => a * b, 1);
  const pos = ctx.table(`taps ${key}`, () => t.pos);
  const inv = ctx.table(`inverse ${key}`, () => {
    const K = t.kVolume;
    const r = new Int32Array(inVol * K).fill(-1);
    for (let j = 0; j < t.outVolume; j++) {
      for (let n = 0; n < K; n++) {
        const p = t.pos[j * K + n];
        if (p >= 0) r[p * K + n] = j;
      }
    }
    return r;
  });
  return { t, pos, inv, inVol };
}

function convSetup(ctx: GradContext, inShape: readonly number[], op: ConvOp) {
  const w = windowTaps(ctx, inShape.slice(1), op, op.kernel, false);
  const K = w.t.kVolume;
  const Cg = inShape[0] / op.groups;
  const Og = op.filters / op.groups;
  /** The kernel's flat index for window offset expression n. */
  const flip = (n: string) => (op.flip ? `(${u(K - 1)} - ${n})` : n);
  return { ...w, K, J: w.t.outVolume, Cg, Og, O: op.filters, flip };
}

export interface ConvValues {
  readonly x: number;
  readonly y: number;
  readonly weight: Weight;
  readonly bias?: Weight;
}

export function convForward(ctx: GradContext, op: ConvOp, inShape: readonly number[], v: ConvValues): WgslKernel {
  const { pos, inVol, K, J, Cg, Og, O, flip } = convSetup(ctx, inShape, op);
  const bias = v.bias && op.bias === "channel" ? `A[${ctx.w(v.bias, "o")}]` : v.bias && op.bias === "location" ? `A[${ctx.w(v.bias, "e")}]` : "0.0";
  return items(
    "conv",
    O * J,
    true,
    `  let o = e / ${u(J)};
  let j = e % ${u(J)};
  let c0 = (o / ${u(Og)}) * ${u(Cg)};
  var acc = ${bias};
  // One tap-table read per window offset, shared by the group's channels.
  for (var n = 0u; n < ${u(K)}; n++) {
    let p = T[${u(pos)} + j * ${u(K)} + n];
    if (p >= 0) {
      for (var cc = 0u; cc < ${u(Cg)}; cc++) {
        acc += A[${ctx.w(v.weight, `(o * ${u(Cg)} + cc) * ${u(K)} + ${flip("n")}`)}] * A[${ctx.at(v.x, "b", `(c0 + cc) * ${u(inVol)} + u32(p)`)}];
      }
    }
  }
  A[${ctx.at(v.y, "b", "e")}] = acc;`,
  );
}

/** Eq. 9.13, gathered: one invocation per input element. */
/** Eq. 9.13 (and a transposed convolution's forward, with its channel bias). */
export function convGradInput(ctx: GradContext, op: ConvOp, inShape: readonly number[], dy: number, weight: ConvValues["weight"], dx: number, bias?: Weight): WgslKernel {
  const { inv, inVol, K, J, Cg, Og, flip } = convSetup(ctx, inShape, op);
  return items(
    "conv_grad_input",
    inShape[0] * inVol,
    true,
    `  let c = e / ${u(inVol)};
  let x = e % ${u(inVol)};
  let o0 = (c / ${u(Cg)}) * ${u(Og)};
  let cc = c % ${u(Cg)};
  var acc = ${bias ? `A[${ctx.w(bias, "c")}]` : "0.0"};
  for (var n = 0u; n < ${u(K)}; n++) {
    let j = T[${u(inv)} + x * ${u(K)} + n];
    if (j >= 0) {
      for (var oo = 0u; oo < ${u(Og)}; oo++) {
        let o = o0 + oo;
        acc += A[${ctx.w(weight, `(o * ${u(Cg)} + cc) * ${u(K)} + ${flip("n")}`)}] * A[${ctx.at(dy, "b", `o * ${u(J)} + u32(j)`)}];
      }
    }
  }
  A[${ctx.at(dx, "b", "e")}] = acc;`,
  );
}

/** Eq. 9.11: a workgroup per kernel element, summing over the batch and the output positions. */
export function convGradKernel(ctx: GradContext, op: ConvOp, inShape: readonly number[], x: number, dy: number, dw: number): WgslKernel {
  const { pos, inVol, K, J, Cg, Og, O, flip } = convSetup(ctx, inShape, op);
  return groups(
    "conv_grad_kernel",
    O * Cg * K,
    J,
    `  let o = e / ${u(Cg * K)};
  let cc = (e / ${u(K)}) % ${u(Cg)};
  let n = ${flip(`(e % ${u(K)})`)};
  let ci = (o / ${u(Og)}) * ${u(Cg)} + cc;`,
    `    let p = T[${u(pos)} + j * ${u(K)} + n];
    if (p >= 0) {
      acc += A[${ctx.at(x, "b", `ci * ${u(inVol)} + u32(p)`)}] * A[${ctx.at(dy, "b", `o * ${u(J)} + j`)}];
    }`,
    ctx.at(dw, "0u", "e"),
  );
}

/** The pool modes the WebGPU step runs: all of them (adaptive pools are another op). */
export function poolTrainable(op: PoolOp): boolean {
  return op.mode === "max" || op.mode === "avg" || op.mode === "lp" || op.mode === "gauss";
}

/** The pool's taps (an adaptive pool's regions as taps, reference/grad/taps.ts), divisors and Gaussian weights. */
function poolSetup(ctx: GradContext, op: PoolOp | AdaptivePoolOp, inShape: readonly number[]) {
  const spatial = inShape.slice(1);
  const w = op.kind === "pool" ? windowTaps(ctx, spatial, op, op.window, op.ceil) : tapTables(ctx, JSON.stringify(["adaptive", spatial, op.out]), spatial, () => adaptiveTaps(spatial, op.out));
  const K = w.t.kVolume;
  const key = JSON.stringify(["divisors", inShape, op]);
  const gauss = op.kind === "pool" && op.mode === "gauss" ? gaussWeights(op) : undefined;
  const countPad = op.kind === "pool" && op.countPad;
  // 1 / divisor per output position (0: a window with no real element), as f32 bits: the real
  // elements' count (or the padded window's) for avg, their weights' sum for gauss.
  const div = ctx.table(key, () => {
    const f = Float32Array.from({ length: w.t.outVolume }, (_, j) => {
      let real = 0;
      let padded = 0;
      let weights = 0;
      for (let n = 0; n < K; n++) {
        if (w.t.pos[j * K + n] >= 0) {
          real++;
          weights += gauss ? gauss[n] : 0;
        }
        padded += w.t.inPadded[j * K + n];
      }
      if (real === 0) return 0;
      return gauss ? 1 / weights : 1 / (countPad ? padded : real);
    });
    return new Int32Array(f.buffer);
  });
  // A Gaussian pool's weight per window position, as f32 bits.
  const weights = op.kind === "pool" && gauss ? ctx.table(JSON.stringify(["gauss", op.window, op.dilation, op.sigma]), () => new Int32Array(Float32Array.from(gauss).buffer)) : -1;
  return { ...w, K, J: w.t.outVolume, div, weights, C: inShape[0] };
}

export function poolForward(ctx: GradContext, op: PoolOp | AdaptivePoolOp, inShape: readonly number[], x: number, y: number): WgslKernel {
  const { pos, div, weights, K, J, C, inVol } = poolSetup(ctx, op, inShape);
  const max = op.mode === "max";
  const add = op.mode === "lp" ? `acc += pow(abs(v), ${f32Lit(op.p)});` : op.mode === "gauss" ? `acc += bitcast<f32>(T[${u(weights)} + n]) * v;` : "acc += v;";
  const result = max ? "select(acc, 0.0, inv == 0.0)" : op.mode === "lp" ? `select(pow(acc, ${f32Lit(1 / op.p)}), 0.0, inv == 0.0)` : "acc * inv";
  return items(
    `${op.mode}pool`,
    C * J,
    true,
    `  let c = e / ${u(J)};
  let j = e % ${u(J)};
  var acc = ${max ? "LOWEST_F32" : "0.0"};
  for (var n = 0u; n < ${u(K)}; n++) {
    let p = T[${u(pos)} + j * ${u(K)} + n];
    if (p >= 0) {
      let v = A[${ctx.at(x, "b", `c * ${u(inVol)} + u32(p)`)}];
      ${max ? "if (!is_nan(acc)) { acc = select(max(acc, v), v, is_nan(v)); }" : add}
    }
  }
  let inv = bitcast<f32>(T[${u(div)} + j]);
  A[${ctx.at(y, "b", "e")}] = ${result};`,
  );
}

export function poolGrad(ctx: GradContext, op: PoolOp | AdaptivePoolOp, inShape: readonly number[], x: number, dy: number, dx: number): WgslKernel {
  const { pos, inv, div, weights, K, J, C, inVol } = poolSetup(ctx, op, inShape);
  // lp's exponent (read only in lp mode; an adaptive pool is max or avg).
  const exponent = op.kind === "pool" ? op.p : 1;
  const dyAt = `A[${ctx.at(dy, "b", `c * ${u(J)} + u32(j)`)}]`;
  // |v|^(p-1) and y^(p-1), written out as 1 for p = 1 (pow(0, 0) is not defined in WGSL).
  const powMinus = (v: string) => (exponent === 1 ? "1.0" : `pow(${v}, ${f32Lit(exponent - 1)})`);
  const lp = () => `var powSum = 0.0;
      for (var m = 0u; m < ${u(K)}; m++) {
        let p = T[${u(pos)} + u32(j) * ${u(K)} + m];
        if (p >= 0) { powSum += pow(abs(A[${ctx.at(x, "b", `c * ${u(inVol)} + u32(p)`)}]), ${f32Lit(exponent)}); }
      }
      let y = pow(powSum, ${f32Lit(1 / exponent)});
      if (y != 0.0) {
        let v = A[${ctx.at(x, "b", `c * ${u(inVol)} + xi`)}];
        acc += ${dyAt} / ${powMinus("y")} * sign(v) * ${powMinus("abs(v)")};
      }`;
  // Thunks: each mode's tables exist only for that mode.
  const routes: Record<PoolOp["mode"], () => string> = {
    lp,
    gauss: () => `acc += ${dyAt} * bitcast<f32>(T[${u(div)} + u32(j)]) * bitcast<f32>(T[${u(weights)} + n]);`,
    avg: () => `acc += ${dyAt} * bitcast<f32>(T[${u(div)} + u32(j)]);`,
    max: () => `var best = -1;
      var mx = LOWEST_F32;
      for (var m = 0u; m < ${u(K)}; m++) {
        let p = T[${u(pos)} + u32(j) * ${u(K)} + m];
        if (p >= 0) {
          let v = A[${ctx.at(x, "b", `c * ${u(inVol)} + u32(p)`)}];
          // Strictly greater: the first of equal maxima wins, as in the reference.
          if (best < 0 || v > mx) { best = p; mx = v; }
        }
      }
      if (best == i32(xi)) { acc += A[${ctx.at(dy, "b", `c * ${u(J)} + u32(j)`)}]; }`,
  };
  const route = routes[op.mode]();
  return items(
    `${op.mode}pool_grad`,
    C * inVol,
    true,
    `  let c = e / ${u(inVol)};
  let xi = e % ${u(inVol)};
  var acc = 0.0;
  for (var n = 0u; n < ${u(K)}; n++) {
    let j = T[${u(inv)} + xi * ${u(K)} + n];
    if (j >= 0) {
      ${route}
    }
  }
  A[${ctx.at(dx, "b", "e")}] = acc;`,
  );
}
