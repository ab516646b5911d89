// The WGSL of a sliding window, shared by the windowed kernels (conv, deconv, local, tiled,
// pool, FFT): unravelling an invocation's flat output index into coordinates, the clamped
// kernel-offset bounds of each axis (so the zero padding is never materialised), the
// channel and tap loops of a windowed sum, and the input range a box of outputs reads.

import * as D from "../../ir/dim.js";
import { hull, type Program } from "./program.js";

/**
 * Unravels flat output index `i` of [C, J1..Jd] into `channel` and `j0..j(d-1)` (named
 * `<prefix>j<a>`: a fused pool's loops take prefixed names, leaving the plain ones to the
 * producer computed inside them).
 */
export function unravel(p: Program, J: readonly D.Dim[], channel: string, prefix = ""): string {
  const lines: string[] = [];
  let rest = "i";
  for (let a = J.length - 1; a >= 0; a--) {
    lines.push(`let ${prefix}j${a} = ${rest} % ${p.dim(J[a])};`);
    lines.push(`let ${prefix}t${a} = ${rest} / ${p.dim(J[a])};`);
    rest = `${prefix}t${a}`;
  }
  lines.push(`let ${channel} = ${rest};`);
  return lines.join("\n");
}

/**
 * Per axis: `s{a}` the input coordinate of kernel offset 0, and `lo{a}`..`hi{a}` the offsets
 * that land on real input (0 <= s + k*r < m); literal 0..K when the axis has no padding and
 * no partial window, so it can never leave the input.
 */
export function windowBounds(p: Program, a: number, stride: number, dilation: number, k: number, padBefore: D.Dim, m: D.Dim, clamp: boolean, prefix = ""): string {
  const [j, s, lo, hi] = ["j", "s", "lo", "hi"].map((n) => `${prefix}${n}${a}`);
  const start = padBefore === 0 ? `${j} * ${stride}` : `${j} * ${stride} - ${p.dim(padBefore)}`;
  const lines = [`let ${s} = ${start};`];
  if (clamp) {
    lines.push(`let ${lo} = max(0, ceil_div(-${s}, ${dilation}));`);
    lines.push(`let ${hi} = min(${k}, ceil_div(${p.dim(m)} - ${s}, ${dilation}));`);
  } else {
    lines.push(`let ${lo} = 0;`, `let ${hi} = ${k};`);
  }
  return lines.join("\n");
}

/**
 * The channel and kernel-offset loops of a windowed sum (conv, local, tiled): for c in
 * `channels`, k per axis in lo..hi (from windowBounds), acc += x[xChannel + position] *
 * w[wChannel + offset(k) * weightScale], the kernel offset row-major (reversed with `flip`).
 */
export function tapLoops(
  p: Program,
  o: {
    channels: [string, string];
    xChannel: string;
    wChannel: string;
    M: readonly D.Dim[];
    kernel: readonly number[];
    dilation: readonly number[];
    flip: boolean;
    weightScale: number;
  },
): string[] {
  const d = o.M.length;
  const lines = [`for (var c = ${o.channels[0]}; c < ${o.channels[1]}; c = c + 1) {`, `  let xc = ${o.xChannel};`, `  let wc = ${o.wChannel};`];
  let xPrev = "xc";
  let wPrev = "wc";
  let pad = "  ";
  for (let a = 0; a < d; a++) {
    const xStride = D.product(o.M.slice(a + 1));
    const wStride = o.kernel.slice(a + 1).reduce((s, v) => s * v, 1) * o.weightScale;
    const kk = o.flip ? `${o.kernel[a] - 1} - k${a}` : `k${a}`;
    const pos = o.dilation[a] === 1 ? `s${a} + k${a}` : `s${a} + k${a} * ${o.dilation[a]}`;
    lines.push(`${pad}for (var k${a} = lo${a}; k${a} < hi${a}; k${a} = k${a} + 1) {`);
    pad += "  ";
    lines.push(`${pad}let xi${a} = ${xPrev} + (${pos})${xStride === 1 ? "" : ` * ${p.dim(xStride)}`};`);
    lines.push(`${pad}let wi${a} = ${wPrev} + (${kk})${wStride === 1 ? "" : ` * ${wStride}`};`);
    xPrev = `xi${a}`;
    wPrev = `wi${a}`;
  }
  lines.push(`${pad}acc = acc + ${p.at("x", xPrev)} * ${p.at("w", wPrev)};`);
  for (let a = d; a >= 0; a--) lines.push(`${"  ".repeat(a)}}`);
  return lines;
}

/** Input element range of a windowed op for output box [lo, hi] (channels given separately), static shapes. */
export function windowHull(
  inShape: readonly number[],
  box: { lo: readonly number[]; hi: readonly number[] },
  channels: [number, number],
  stride: readonly number[],
  keff: readonly number[],
  padBefore: readonly number[],
): [number, number] {
  const lo = [channels[0]];
  const hi = [channels[1]];
  for (let a = 1; a < inShape.length; a++) {
    lo.push(Math.max(0, box.lo[a] * stride[a - 1] - padBefore[a - 1]));
    hi.push(Math.min(inShape[a] - 1, box.hi[a] * stride[a - 1] - padBefore[a - 1] + keff[a - 1] - 1));
  }
  return hull(inShape, lo, hi);
}
