// Winograd F(2x2,3x3) and F(4x4,3x3) on WebGPU: y = A^T [ (G g G^T) ⊙ (B^T d B) ] A per
// m x m output tile, with the matrices algorithms/winograd.ts derives from interpolation
// points. Four dispatches (transformed.ts has the layout):
//   kernel transform, one invocation per (o, c): U = G g G^T;
//   input transform, one per (c, tile): V = B^T d B of the zero-padded alpha x alpha window;
//   the batched GEMM over channels per point (transformed.ts);
//   output transform, one per (o, tile): A^T Z A, bias and epilogue, the partial tile masked.
// The transforms are unrolled at compile time with literal coefficients (zeros skipped), so
// each is straight-line code over a tile held in registers. The kernel transform runs on
// every inference (the weights live only in the weights blob), a small cost next to the
// layer: O x C x (alpha^2 x 6) flops.

import * as D from "../../ir/dim.js";
import type { ConvOp } from "../../ir/ops.js";
import { winogradApplies, winogradMatrices } from "../../algorithms/winograd.js";
import { f32Lit } from "./prelude.js";
import { indent, type KernelSpec, type Program, type StepContext } from "./program.js";
import { outputTensors, productKernel, ROLE_U, ROLE_V, ROLE_Z, scratchSizes, storeOutput, tileCoords, type Tiling, tilingOf } from "./transformed.js";

/** sum of coef * expr, literal coefficients, zeros skipped; "0.0" when empty. */
export function linear(terms: readonly (readonly [number, string])[]): string {
  const parts: string[] = [];
  for (const [c, e] of terms) {
    if (c === 0) continue;
    const sign = c < 0 ? "-" : "+";
    const mag = Math.abs(c);
    const term = mag === 1 ? e : `${f32Lit(mag)} * ${e}`;
    parts.push(parts.length === 0 ? (sign === "-" ? `-${term}` : term) : `${sign} ${term}`);
  }
  return parts.length ? parts.join(" ") : "0.0";
}

/** Scratch sizes of a Winograd layer (for the cost model's limit check). */
export function winogradScratch(t: Tiling): [D.Dim, D.Dim, D.Dim] {
  return scratchSizes(t, 1);
}

export function winogradKernels(ctx: StepContext, op: ConvOp, m: 2 | 4): KernelSpec[] | undefined {
  if (winogradApplies(op)) return undefined;
  const W = winogradMatrices(m, 3);
  const n = W.alpha;
  const P = n * n;
  const t = tilingOf(ctx, op, [m, m], P);
  const family = `winograd${m}`;
  const [uSize, vSize, zSize] = winogradScratch(t);
  const x = ctx.input(0, "x");
  const w = ctx.weight("w");
  const U = ctx.scratch("U", ROLE_U, uSize);
  const V = ctx.scratch("V", ROLE_V, vSize);
  const Z = ctx.scratch("Z", ROLE_Z, zSize);
  const range = Array.from({ length: n }, (_, k) => k);

  // U[xi][o][c] = (G g G^T)[xi]; g read flipped for true convolution.
  const kernelBody = (p: Program): string => {
    // With flip (true convolution) the 3x3 slice is read reversed: offset 8 - e.
    const lines = [`let c = i % ${p.dim(t.Cg)};`, `let o = i / ${p.dim(t.Cg)};`, `let wb = i * 9;`, `let flip = ${p.dim(op.flip ? 1 : 0)} != 0;`];
    for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) {
      lines.push(`let g${r}_${s} = ${p.at("w", `wb + select(${r * 3 + s}, ${8 - r * 3 - s}, flip)`)};`);
    }
    for (let a = 0; a < n; a++) for (let s = 0; s < 3; s++) lines.push(`let h${a}_${s} = ${linear(W.G[a].map((c, r) => [c, `g${r}_${s}`] as const))};`);
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) {
      lines.push(`${p.at("U", `(${a * n + b} * ${p.dim(t.O)} + o) * ${p.dim(t.Cg)} + c`)} = ${linear(W.G[b].map((c, s) => [c, `h${a}_${s}`] as const))};`);
    }
    return lines.join("\n");
  };

  // V[xi][c][t] = (B^T d B)[xi] of the tile's window, zero outside the input.
  const inputBody = (p: Program): string => {
    const [H, Wd] = t.M.map((v) => p.dim(v));
    const lines = [`let tile = i % ${p.dim(t.T)};`, `let c = i / ${p.dim(t.T)};`, ...tileCoords(p, t, "tile", "tc")];
    lines.push(`let y0 = tc0 * ${m} - ${p.dim(t.padBefore[0])};`, `let x0 = tc1 * ${m} - ${p.dim(t.padBefore[1])};`);
    lines.push(`let xb = c * ${H} * ${Wd};`);
    for (const k of range) {
      lines.push(`let ry${k} = y0 + ${k};`, `let vy${k} = ry${k} >= 0 && ry${k} < ${H};`, `let cy${k} = clamp(ry${k}, 0, ${H} - 1) * ${Wd};`);
      lines.push(`let rx${k} = x0 + ${k};`, `let vx${k} = rx${k} >= 0 && rx${k} < ${Wd};`, `let cx${k} = clamp(rx${k}, 0, ${Wd} - 1);`);
    }
    for (const r of range) for (const s of range) lines.push(`let d${r}_${s} = select(0.0, ${p.at("x", `xb + cy${r} + cx${s}`)}, vy${r} && vx${s});`);
    for (const a of range) for (const s of range) lines.push(`let h${a}_${s} = ${linear(W.BT[a].map((c, r) => [c, `d${r}_${s}`] as const))};`);
    lines.push(`let T = ${p.dim(t.T)};`);
    for (const a of range) for (const b of range) {
      lines.push(`${p.at("V", `(${a * n + b} * ${p.dim(t.C)} + c) * T + tile`)} = ${linear(W.BT[b].map((c, s) => [c, `h${a}_${s}`] as const))};`);
    }
    return lines.join("\n");
  };

  // y = A^T Z A on the tile, the part inside the output stored.
  const outputBody = (p: Program): string => {
    const [J0, J1] = t.J.map((v) => p.dim(v));
    const lines = [`let tile = i % ${p.dim(t.T)};`, `let o = i / ${p.dim(t.T)};`, ...tileCoords(p, t, "tile", "tc"), `let T = ${p.dim(t.T)};`];
    for (const a of range) for (const b of range) lines.push(`let z${a}_${b} = ${p.at("Z", `(${a * n + b} * ${p.dim(t.O)} + o) * T + tile`)};`);
    for (let r = 0; r < m; r++) for (const b of range) lines.push(`let h${r}_${b} = ${linear(W.AT[r].map((c, a) => [c, `z${a}_${b}`] as const))};`);
    for (let r = 0; r < m; r++) for (let s = 0; s < m; s++) {
      lines.push(`{`);
      lines.push(`  let oy = tc0 * ${m} + ${r};`, `  let ox = tc1 * ${m} + ${s};`);
      lines.push(`  if (oy < ${J0} && ox < ${J1}) {`);
      lines.push(`    let yi = (o * ${J0} + oy) * ${J1} + ox;`);
      lines.push(`    let v = ${linear(W.AT[s].map((c, b) => [c, `h${r}_${b}`] as const))};`);
      lines.push(indent(storeOutput(p, ctx, op, "v", "yi", "o"), "    "));
      lines.push(`  }`, `}`);
    }
    return lines.join("\n");
  };

  return [
    { family: `${family}-kernel`, workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: t.O * t.Cg, tensors: [w, U], body: kernelBody, intermediate: true },
    { family: `${family}-input`, workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(t.C, t.T), tensors: [x, V], body: inputBody, intermediate: true },
    productKernel(t, U, V, Z, false, family),
    { family: `${family}-output`, workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(t.O, t.T), tensors: [Z, ...outputTensors(ctx, op)], body: outputBody },
  ];
}
