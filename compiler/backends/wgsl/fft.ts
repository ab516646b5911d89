// FFT convolution on WebGPU: tiled overlap-save in the Fourier domain, 1-D to 3-D, any
// kernel size and dilation at stride 1. Each output tile of m_a = N_a - keff_a + 1 positions
// per axis reads an N_1 x .. x N_d input window; by the correlation theorem its valid
// outputs are the inverse DFT of X ⊙ conj(W) / P (P = N_1..N_d points), no wrap-around
// reaching them. The four stages are transformed.ts's: kernel spectra U (every inference:
// the weights live only in the weights blob), input spectra V, the per-point complex GEMM
// over channels, and the inverse transform of each output position's tile, real part, with
// bias and epilogue. Memory stays bounded by the tiling: V and Z hold P points per tile.
//
// The DFTs are evaluated point by point (one invocation per spectrum value, summing over the
// window), not by butterflies: a GPU thread per output point needs no cooperation, and the
// tiles are small (N_a about twice the kernel, P at most MAX_POINTS), so the O(P) sums per
// point stay cheap next to the channel GEMM, which is where a wide layer's time goes.
// Twiddles e^{2 pi i k / L} come from cis_turns: exact integer reduction of k modulo L (a
// common multiple of the N_a), then a polynomial on an eighth of the circle (error below
// 1e-7), not WGSL's sin/cos, which WebGPU only bounds to 2^-11 absolute error. Tile sizes,
// kernel geometry and channel counts are uniforms, so FFT layers share their pipelines.

import * as D from "../../ir/dim.js";
import { type ConvOp, effectiveKernel } from "../../ir/ops.js";
import { fftApplies } from "../../algorithms/fft.js";
import type { KernelSpec, Program, StepContext } from "./program.js";
import { outputTensors, productKernel, ROLE_U, ROLE_V, ROLE_Z, scratchSizes, storeOutput, tileCoords, tilingOf } from "./transformed.js";
import { unravel } from "./conv.js";

/** Largest tile (points) the WebGPU FFT kernel takes: each spectrum value sums that many terms. */
export const MAX_POINTS = 1024;

const CIS = `fn cis_turns(k: i32, l: i32) -> vec2<f32> {
  // e^{2 pi i k / l}: k reduced exactly, then quarter turns, then |angle| <= pi / 4.
  let kk = ((k % l) + l) % l;
  let x = f32(kk) / f32(l);
  let q = round(4.0 * x);
  let r = (x - 0.25 * q) * 6.2831853;
  let r2 = r * r;
  let s = r * (1.0 - r2 / 6.0 * (1.0 - r2 / 20.0 * (1.0 - r2 / 42.0 * (1.0 - r2 / 72.0))));
  let c = 1.0 - r2 / 2.0 * (1.0 - r2 / 12.0 * (1.0 - r2 / 30.0 * (1.0 - r2 / 56.0)));
  let qi = i32(q) % 4;
  if (qi == 0) {
    return vec2<f32>(c, s);
  }
  if (qi == 1) {
    return vec2<f32>(-s, c);
  }
  if (qi == 2) {
    return vec2<f32>(-c, -s);
  }
  return vec2<f32>(s, -c);
}`;

/**
 * Tile points per axis: about twice the effective kernel (half of each window is new
 * outputs), never past what covers the whole output axis.
 */
export function fftTileWebGpu(op: ConvOp, out: readonly D.Dim[]): number[] {
  return op.kernel.map((k, a) => {
    const keff = effectiveKernel(k, op.dilation[a]);
    const n = 2 * keff;
    const j = out[a];
    return typeof j === "number" ? Math.max(keff, Math.min(n, j + keff - 1)) : n;
  });
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Why the WebGPU FFT kernel cannot take this layer, or undefined. */
export function fftWebGpuApplies(op: ConvOp, out: readonly D.Dim[]): string | undefined {
  const why = fftApplies(op);
  if (why) return why;
  const n = fftTileWebGpu(op, out);
  const points = n.reduce((a, b) => a * b, 1);
  if (points > MAX_POINTS) return `its FFT tiles would have ${n.join("x")} = ${points} points, over the ${MAX_POINTS} the WebGPU FFT kernel takes`;
  return undefined;
}

export function fftKernels(ctx: StepContext, op: ConvOp): KernelSpec[] | undefined {
  const J = ctx.step.output.shape.slice(1);
  if (fftWebGpuApplies(op, J)) return undefined;
  const N = fftTileWebGpu(op, J);
  const d = N.length;
  const keff = op.kernel.map((k, a) => effectiveKernel(k, op.dilation[a]));
  const m = N.map((n, a) => n - keff[a] + 1);
  const P = N.reduce((a, b) => a * b, 1);
  // Phases are k / L turns, L a common multiple of every N_a.
  const L = N.reduce((l, n) => (l * n) / gcd(l, n), 1);
  const t = tilingOf(ctx, op, m, P);
  const [uSize, vSize, zSize] = scratchSizes(t, 2);
  const x = ctx.input(0, "x");
  const w = ctx.weight("w");
  const U = ctx.scratch("U", ROLE_U, uSize);
  const V = ctx.scratch("V", ROLE_V, vSize);
  const Z = ctx.scratch("Z", ROLE_Z, zSize);
  const Kvol = op.kernel.reduce((a, b) => a * b, 1);

  /** `let n0.., l0..` = the tile points per axis and L / N_a (uniforms: one pipeline serves every tile geometry). */
  const geometry = (p: Program): string[] => [
    ...N.flatMap((n, a) => [`let n${a} = ${p.dim(n)};`, `let l${a} = ${p.dim(L / n)};`]),
    `let L = ${p.dim(L)};`,
    `let P = ${p.dim(P)};`,
  ];
  /** `let f0..` = the per-axis frequencies of flat point index `xi`. */
  const freqs = (xi: string): string[] => {
    const lines: string[] = [];
    let rest = xi;
    for (let a = d - 1; a >= 0; a--) {
      lines.push(`let f${a} = ${rest} % n${a};`, `let fr${a} = ${rest} / n${a};`);
      rest = `fr${a}`;
    }
    return lines;
  };
  const close = (lines: string[]) => {
    for (let a = d - 1; a >= 0; a--) lines.push(`${"  ".repeat(a)}}`);
  };

  // U[xi][o][c] = sum_k w[o, c, k] e^{+2 pi i xi.(k r) / N} / P: conj of the dilated kernel's DFT.
  const kernelBody = (p: Program): string => {
    const lines = [...geometry(p), `let c = i % ${p.dim(t.Cg)};`, `let rr = i / ${p.dim(t.Cg)};`, `let o = rr % ${p.dim(t.O)};`, `let xi = rr / ${p.dim(t.O)};`, ...freqs("xi")];
    lines.push(`let flip = ${p.dim(op.flip ? 1 : 0)} != 0;`);
    op.kernel.forEach((k, a) => lines.push(`let kn${a} = ${p.dim(k)};`, `let rd${a} = ${p.dim(op.dilation[a])};`));
    lines.push(`let wb = (o * ${p.dim(t.Cg)} + c) * ${p.dim(Kvol)};`, `var acc = vec2<f32>(0.0);`);
    let wi = "wb";
    for (let a = 0; a < d; a++) {
      const pad = "  ".repeat(a);
      const stride = op.kernel
        .slice(a + 1)
        .map((_, b) => `kn${a + 1 + b}`)
        .join(" * ");
      lines.push(`${pad}for (var k${a} = 0; k${a} < kn${a}; k${a} = k${a} + 1) {`);
      lines.push(`${pad}  let wi${a} = ${wi} + select(k${a}, kn${a} - 1 - k${a}, flip)${stride ? ` * ${stride}` : ""};`);
      wi = `wi${a}`;
    }
    const inner = "  ".repeat(d);
    const phase = N.map((_, a) => `((f${a} * k${a} * rd${a}) % n${a}) * l${a}`).join(" + ");
    lines.push(`${inner}let e = cis_turns(${phase}, L);`);
    lines.push(`${inner}acc = acc + ${p.at("w", wi)} * e;`);
    close(lines);
    lines.push(`acc = acc / f32(P);`);
    lines.push(`${p.at("U", "2 * i")} = acc.x;`, `${p.at("U", "2 * i + 1")} = acc.y;`);
    return lines.join("\n");
  };

  // V[xi][c][t] = sum_p x[c, origin + p] e^{-2 pi i xi.p / N}, the window clipped to the input.
  const inputBody = (p: Program): string => {
    const T = p.dim(t.T);
    const lines = [...geometry(p), `let tile = i % ${T};`, `let rr = i / ${T};`, `let c = rr % ${p.dim(t.C)};`, `let xi = rr / ${p.dim(t.C)};`, ...freqs("xi"), ...tileCoords(p, t, "tile", "tc")];
    for (let a = 0; a < d; a++) {
      const Ma = p.dim(t.M[a]);
      lines.push(`let s${a} = tc${a} * ${p.dim(m[a])} - ${p.dim(t.padBefore[a])};`);
      lines.push(`let lo${a} = max(0, -s${a});`, `let hi${a} = min(n${a}, ${Ma} - s${a});`);
    }
    lines.push(`var acc = vec2<f32>(0.0);`, `let xb = c * ${p.dim(D.product(t.M))};`);
    let xi = "xb";
    for (let a = 0; a < d; a++) {
      const pad = "  ".repeat(a);
      const stride = D.product(t.M.slice(a + 1));
      lines.push(`${pad}for (var q${a} = lo${a}; q${a} < hi${a}; q${a} = q${a} + 1) {`);
      lines.push(`${pad}  let xi${a} = ${xi} + (s${a} + q${a})${stride === 1 ? "" : ` * ${p.dim(stride)}`};`);
      xi = `xi${a}`;
    }
    const inner = "  ".repeat(d);
    const phase = N.map((_, a) => `((f${a} * q${a}) % n${a}) * l${a}`).join(" + ");
    lines.push(`${inner}let e = cis_turns(-(${phase}), L);`);
    lines.push(`${inner}acc = acc + ${p.at("x", xi)} * e;`);
    close(lines);
    lines.push(`${p.at("V", "2 * i")} = acc.x;`, `${p.at("V", "2 * i + 1")} = acc.y;`);
    return lines.join("\n");
  };

  // y[o, j] = Re sum_xi Z[xi][o][tile(j)] e^{+2 pi i xi.(j mod m) / N}.
  const outputBody = (p: Program): string => {
    const T = p.dim(t.T);
    const lines = [...geometry(p), unravel(p, t.J, "o")];
    let tile = "";
    for (let a = 0; a < d; a++) {
      lines.push(`let m${a} = ${p.dim(m[a])};`, `let w${a} = j${a} % m${a};`, `let b${a} = j${a} / m${a};`);
      tile = a === 0 ? "b0" : `(${tile}) * ${p.dim(t.tiles[a])} + b${a}`;
    }
    lines.push(`let tile = ${tile};`, `let zb = o * ${T} + tile;`, `var acc = 0.0;`);
    lines.push(`for (var xi = 0; xi < P; xi = xi + 1) {`);
    lines.push(...freqs("xi").map((l) => `  ${l}`));
    const phase = N.map((_, a) => `((f${a} * w${a}) % n${a}) * l${a}`).join(" + ");
    lines.push(`  let e = cis_turns(${phase}, L);`);
    lines.push(`  let zi = 2 * (xi * ${p.dim(t.O)} * ${T} + zb);`);
    lines.push(`  acc = acc + ${p.at("Z", "zi")} * e.x - ${p.at("Z", "zi + 1")} * e.y;`);
    lines.push(`}`);
    lines.push(storeOutput(p, ctx, op, "acc", "i", "o"));
    return lines.join("\n");
  };

  return [
    { family: "fft-kernel", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: P * t.O * t.Cg, tensors: [w, U], body: kernelBody, workgroupDecl: CIS, intermediate: true },
    { family: "fft-input", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(P * t.C, t.T), tensors: [x, V], body: inputBody, workgroupDecl: CIS, intermediate: true },
    productKernel(t, U, V, Z, true, "fft"),
    { family: "fft-output", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(t.O, D.product(t.J)), tensors: [Z, ...outputTensors(ctx, op)], body: outputBody, workgroupDecl: CIS },
  ];
}
