// What the two transformed-domain convolutions (winograd.ts, fft.ts) share. Both cut the
// output into tiles of m_1 x .. x m_d positions, transform each tile's input window and each
// kernel slice into P points (Winograd: alpha^2 real values; FFT: the N_1 x .. x N_d DFT,
// complex), multiply pointwise and sum over input channels, and transform back:
//
//   U[xi][o][c] = kernel transform of w[o, c]        (scratch role 0)
//   V[xi][c][t] = input transform of tile t of x[c]  (scratch role 1)
//   Z[xi][o][t] = sum over c in o's group of U[xi][o][c] V[xi][g*Cg + c][t]   (role 2)
//   y[o, tile t] = output transform of Z[.][o][t], then bias and the epilogue
//
// The channel sum is one batched GEMM per point xi (P independent O x Cg by Cg x T products):
// here each invocation computes four tiles of one (xi, o), the U value loaded once for four
// multiply-adds. Complex values (FFT) are stored as (re, im) pairs.

import * as D from "../../ir/dim.js";
import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import { finish } from "./activation.js";
import type { KernelSpec, Program, StepContext, TensorUse } from "./program.js";

/** Scratch roles (module.ts shares each role's buffer across steps). */
export const ROLE_U = 0;
export const ROLE_V = 1;
export const ROLE_Z = 2;

export interface Tiling {
  readonly C: number;
  readonly O: number;
  readonly Cg: number;
  readonly Og: number;
  /** Input and output spatial sizes. */
  readonly M: readonly D.Dim[];
  readonly J: readonly D.Dim[];
  readonly padBefore: readonly D.Dim[];
  /** Outputs per tile, per axis. */
  readonly m: readonly number[];
  /** Tiles per axis, and in all. */
  readonly tiles: readonly D.Dim[];
  readonly T: D.Dim;
  /** Transform points per tile. */
  readonly P: number;
}

export function tilingOf(ctx: StepContext, op: ConvOp, m: readonly number[], P: number): Tiling {
  const step = ctx.step;
  const inShape = step.inputs[0].shape;
  const C = inShape[0] as number;
  const M = inShape.slice(1);
  const J = step.output.shape.slice(1);
  const geo = windowGeometry(M, op.kernel, op.stride, op.dilation, op.pad);
  const tiles = J.map((j, a) => D.ceildiv(j, m[a]));
  return { C, O: op.filters, Cg: C / op.groups, Og: op.filters / op.groups, M, J, padBefore: geo.padBefore, m, tiles, T: D.product(tiles), P };
}

/** Scratch sizes (elements) of U, V and Z; `width` 2 for complex values. */
export function scratchSizes(t: Tiling, width: number): [D.Dim, D.Dim, D.Dim] {
  return [width * t.P * t.O * t.Cg, D.mul(width * t.P * t.C, t.T), D.mul(width * t.P * t.O, t.T)];
}

/** `let <prefix>0..` = the per-axis coordinates of flat tile index `tile`. */
export function tileCoords(p: Program, t: Tiling, tile: string, prefix: string): string[] {
  const lines: string[] = [];
  let rest = tile;
  for (let a = t.tiles.length - 1; a >= 0; a--) {
    if (a === 0) {
      lines.push(`let ${prefix}0 = ${rest};`);
      break;
    }
    lines.push(`let ${prefix}${a} = ${rest} % ${p.dim(t.tiles[a])};`);
    lines.push(`let ${prefix}r${a} = ${rest} / ${p.dim(t.tiles[a])};`);
    rest = `${prefix}r${a}`;
  }
  return lines;
}

/** Statements storing `value` (an f32 expression) at flat output index `index` of channel `o`: bias, epilogue. */
export function storeOutput(p: Program, ctx: StepContext, op: ConvOp, value: string, index: string, o: string): string {
  const bias = op.bias === "none" ? "" : op.bias === "location" ? ` + ${p.at("b", index)}` : ` + ${p.at("b", o)}`;
  return finish(p, ctx.step.epilogue, `${value}${bias}`, index);
}

/** The output and the bias (if any), the last tensors of a final stage. */
export function outputTensors(ctx: StepContext, op: ConvOp): TensorUse[] {
  const b = op.bias === "none" ? undefined : ctx.bias("b");
  return b ? [b, ctx.output()] : [ctx.output()];
}

/** Z = U V per point: items are (xi, o, group of four tiles). */
export function productKernel(t: Tiling, U: TensorUse, V: TensorUse, Z: TensorUse, complex: boolean, family: string): KernelSpec {
  const T4 = D.ceildiv(t.T, 4);
  const body = (p: Program): string => {
    const T = p.dim(t.T);
    const lines = [
      `let tq = i % ${p.dim(T4)};`,
      `let r = i / ${p.dim(T4)};`,
      `let o = r % ${p.dim(t.O)};`,
      `let xi = r / ${p.dim(t.O)};`,
      `let t0 = tq * 4;`,
      // The last group's missing tiles read tile t0 again (in range) and are not stored.
      ...[0, 1, 2, 3].map((q) => `let ti${q} = min(t0 + ${q}, ${T} - 1);`),
      `let ub = (xi * ${p.dim(t.O)} + o) * ${p.dim(t.Cg)};`,
      `let vb = (xi * ${p.dim(t.C)} + (o / ${p.dim(t.Og)}) * ${p.dim(t.Cg)}) * ${T};`,
    ];
    if (!complex) {
      lines.push(`var acc = vec4<f32>(0.0);`);
      lines.push(`for (var c = 0; c < ${p.dim(t.Cg)}; c = c + 1) {`);
      lines.push(`  let u = ${p.at("U", "ub + c")};`);
      lines.push(`  let vr = vb + c * ${T};`);
      lines.push(`  acc = acc + u * vec4<f32>(${[0, 1, 2, 3].map((q) => p.at("V", `vr + ti${q}`)).join(", ")});`);
      lines.push(`}`);
    } else {
      lines.push(`var are = vec4<f32>(0.0);`, `var aim = vec4<f32>(0.0);`);
      lines.push(`for (var c = 0; c < ${p.dim(t.Cg)}; c = c + 1) {`);
      lines.push(`  let ur = ${p.at("U", "2 * (ub + c)")};`);
      lines.push(`  let ui = ${p.at("U", "2 * (ub + c) + 1")};`);
      lines.push(`  let vr = vb + c * ${T};`);
      lines.push(`  let xr = vec4<f32>(${[0, 1, 2, 3].map((q) => p.at("V", `2 * (vr + ti${q})`)).join(", ")});`);
      lines.push(`  let xm = vec4<f32>(${[0, 1, 2, 3].map((q) => p.at("V", `2 * (vr + ti${q}) + 1`)).join(", ")});`);
      lines.push(`  are = are + ur * xr - ui * xm;`);
      lines.push(`  aim = aim + ur * xm + ui * xr;`);
      lines.push(`}`);
    }
    lines.push(`let zb = (xi * ${p.dim(t.O)} + o) * ${T};`);
    for (let q = 0; q < 4; q++) {
      lines.push(`if (t0 + ${q} < ${T}) {`);
      if (!complex) lines.push(`  ${p.at("Z", `zb + t0 + ${q}`)} = acc[${q}];`);
      else lines.push(`  ${p.at("Z", `2 * (zb + t0 + ${q})`)} = are[${q}];`, `  ${p.at("Z", `2 * (zb + t0 + ${q}) + 1`)} = aim[${q}];`);
      lines.push(`}`);
    }
    return lines.join("\n");
  };
  return { family: `${family}-product`, workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(t.P * t.O, T4), tensors: [U, V, Z], body, intermediate: true };
}
