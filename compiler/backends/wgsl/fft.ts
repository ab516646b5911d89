// FFT convolution on WebGPU: tiled overlap-save in the Fourier domain, 1-D to 3-D, any
// kernel size and dilation at stride 1. Each output tile of m_a = N_a - keff_a + 1 positions
// per axis reads an N_1 x .. x N_d input window; by the correlation theorem its valid
// outputs are the inverse DFT of X ⊙ conj(W) / P (P = N_1..N_d points), no wrap-around
// reaching them. The four stages are transformed.ts's: kernel spectra U (every inference:
// the weights live only in the weights blob), input spectra V, the per-point complex GEMM
// over channels, and the inverse transform of each output position's tile, real part, with
// bias and epilogue. Memory stays bounded by the tiling: V and Z hold P points per tile.
//
// Tiles of power-of-two sides (N_a the power of two past 2 keff_a - 1, or past what covers
// the output axis) up to MAX_POINTS take radix-2 FFTs in workgroup memory for the input and
// output transforms (radix2Kernels: O(P log P) per tile). Larger kernels keep the smallest
// tiles (any N_a) and evaluate those DFTs point by point (one invocation per spectrum value,
// O(P) each). The kernel spectra are always summed point by point: P x prod(k) per slice.
// Twiddles e^{2 pi i k / L} come from cis_turns: exact integer reduction of k modulo L (a
// common multiple of the N_a), then a polynomial on an eighth of the circle (error below
// 1e-7), not WGSL's sin/cos, which WebGPU only bounds to 2^-11 absolute error. Tile sizes,
// kernel geometry and channel counts are uniforms, so FFT layers share their pipelines.

import * as D from "../../ir/dim.js";
import { type ConvOp, effectiveKernel } from "../../ir/ops.js";
import { fftApplies } from "../../algorithms/fft.js";
import { indent, type KernelSpec, type Program, type StepContext, type TensorUse } from "./program.js";
import { outputTensors, productKernel, ROLE_U, ROLE_V, ROLE_Z, scratchSizes, storeOutput, tileCoords, type Tiling, tilingOf } from "./transformed.js";
import { unravel } from "./window.js";

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
  // Powers of two (radix-2 butterflies in workgroup memory) where the tile stays within
  // MAX_POINTS; else the smallest tiles, transformed point by point.
  const pow2 = op.kernel.map((k, a) => {
    const keff = effectiveKernel(k, op.dilation[a]);
    const j = out[a];
    const want = typeof j === "number" ? Math.max(keff, Math.min(2 * keff - 1, j + keff - 1)) : 2 * keff - 1;
    return 2 ** Math.ceil(Math.log2(want));
  });
  if (pow2.reduce((a, b) => a * b, 1) <= MAX_POINTS) return pow2;
  return op.kernel.map((k, a) => {
    const keff = effectiveKernel(k, op.dilation[a]);
    const n = 2 * keff;
    const j = out[a];
    return typeof j === "number" ? Math.max(keff, Math.min(n, j + keff - 1)) : n;
  });
}

/** Whether the tiles take the radix-2 FFT kernels (every N_a a power of two). */
export const butterflies = (n: readonly number[]): boolean => n.every((v) => (v & (v - 1)) === 0) && n.reduce((a, b) => a * b, 1) <= MAX_POINTS;

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

  if (butterflies(N)) {
    const fft = radix2Kernels(ctx, op, t, N, m, x, V, Z);
    return [
      { family: "fft-kernel", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: P * t.O * t.Cg, tensors: [w, U], body: kernelBody, workgroupDecl: CIS, intermediate: true },
      fft.input,
      productKernel(t, U, V, Z, true, "fft"),
      fft.output,
    ];
  }
  return [
    { family: "fft-kernel", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: P * t.O * t.Cg, tensors: [w, U], body: kernelBody, workgroupDecl: CIS, intermediate: true },
    { family: "fft-input", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(P * t.C, t.T), tensors: [x, V], body: inputBody, workgroupDecl: CIS, intermediate: true },
    productKernel(t, U, V, Z, true, "fft"),
    { family: "fft-output", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(t.O, D.product(t.J)), tensors: [Z, ...outputTensors(ctx, op)], body: outputBody, workgroupDecl: CIS },
  ];
}

/**
 * The input and output transforms as radix-2 FFTs, one workgroup per (channel, tile): the
 * tile is loaded into workgroup memory with each axis's index bit-reversed, then each axis
 * gets log2(N_a) decimation-in-time butterfly stages (64 invocations share the P/2
 * butterflies of a stage, a barrier between stages), which leaves the spectrum in natural
 * order: O(P log P) per tile instead of the point-by-point O(P^2).
 */
function radix2Kernels(
  ctx: StepContext,
  op: ConvOp,
  t: Tiling,
  N: readonly number[],
  m: readonly number[],
  x: TensorUse,
  V: TensorUse,
  Z: TensorUse,
): { input: KernelSpec; output: KernelSpec } {
  const d = N.length;
  const P = N.reduce((a, b) => a * b, 1);
  const inner = N.map((_, a) => N.slice(a + 1).reduce((s, v) => s * v, 1));
  const decl = `var<workgroup> fre: array<f32, ${MAX_POINTS}>;\nvar<workgroup> fim: array<f32, ${MAX_POINTS}>;\n${CIS}`;
  const geometry = (p: Program): string[] => [
    ...N.flatMap((n, a) => [`let n${a} = ${p.dim(n)};`, `let lg${a} = ${p.dim(Math.round(Math.log2(n)))};`, `let inr${a} = ${p.dim(inner[a])};`]),
    `let P = ${p.dim(P)};`,
    `let li = i32(lid);`,
  ];
  /** `let <v><a>` = the coordinates of tile index `e` (row-major over N), and `rev` the index with each coordinate bit-reversed. */
  const coords = (e: string, v: string): string[] => {
    const lines: string[] = [];
    let rev = "";
    for (let a = 0; a < d; a++) {
      lines.push(`let ${v}${a} = (${e} / inr${a}) % n${a};`);
      lines.push(`let ${v}r${a} = select(i32(reverseBits(u32(${v}${a})) >> u32(32 - lg${a})), 0, lg${a} == 0);`);
      rev = a === 0 ? `${v}r0 * inr0` : `${rev} + ${v}r${a} * inr${a}`;
    }
    lines.push(`let rev = ${rev};`);
    return lines;
  };
  /** The butterfly stages of every axis; sign -1 forward, +1 inverse. */
  const stages = (sign: number): string[] => {
    const lines: string[] = [];
    for (let a = 0; a < d; a++) {
      lines.push(`for (var s = 0; s < lg${a}; s = s + 1) {`);
      lines.push(`  let half = 1 << u32(s);`, `  let hn = n${a} / 2;`);
      lines.push(`  for (var b = li; b < P / 2; b = b + 64) {`);
      lines.push(`    let k = b % hn;`, `    let r = b / hn;`, `    let base = (r / inr${a}) * n${a} * inr${a} + r % inr${a};`);
      lines.push(`    let j = k % half;`, `    let i0 = base + ((k / half) * 2 * half + j) * inr${a};`, `    let i1 = i0 + half * inr${a};`);
      lines.push(`    let tw = cis_turns(${sign < 0 ? "-" : ""}j * (n${a} / (2 * half)), n${a});`);
      lines.push(`    let ur = fre[i0];`, `    let ui = fim[i0];`, `    let vr = fre[i1];`, `    let vi = fim[i1];`);
      lines.push(`    let tr = vr * tw.x - vi * tw.y;`, `    let ti = vr * tw.y + vi * tw.x;`);
      lines.push(`    fre[i0] = ur + tr;`, `    fim[i0] = ui + ti;`, `    fre[i1] = ur - tr;`, `    fim[i1] = ui - ti;`);
      lines.push(`  }`, `  workgroupBarrier();`, `}`);
    }
    return lines;
  };

  const inputBody = (p: Program): string => {
    const T = p.dim(t.T);
    const lines = [...geometry(p), `let tile = i % ${T};`, `let c = i / ${T};`, ...tileCoords(p, t, "tile", "tc")];
    for (let a = 0; a < d; a++) lines.push(`let s${a} = tc${a} * ${p.dim(m[a])} - ${p.dim(t.padBefore[a])};`, `let mm${a} = ${p.dim(t.M[a])};`);
    lines.push(`let xb = c * ${p.dim(D.product(t.M))};`);
    lines.push(`for (var e = li; e < P; e = e + 64) {`);
    lines.push(...coords("e", "q").map((l) => `  ${l}`));
    let ok = "true";
    let flat = "";
    for (let a = 0; a < d; a++) {
      lines.push(`  let g${a} = s${a} + q${a};`);
      ok = `${ok} && g${a} >= 0 && g${a} < mm${a}`;
      flat = a === 0 ? `clamp(g0, 0, mm0 - 1)` : `(${flat}) * mm${a} + clamp(g${a}, 0, mm${a} - 1)`;
    }
    lines.push(`  fre[rev] = select(0.0, ${p.at("x", `xb + ${flat}`)}, ${ok});`, `  fim[rev] = 0.0;`, `}`, `workgroupBarrier();`);
    lines.push(...stages(-1));
    lines.push(`for (var e = li; e < P; e = e + 64) {`);
    lines.push(`  let vi = 2 * ((e * ${p.dim(t.C)} + c) * ${T} + tile);`);
    lines.push(`  ${p.at("V", "vi")} = fre[e];`, `  ${p.at("V", "vi + 1")} = fim[e];`, `}`);
    return lines.join("\n");
  };

  const outputBody = (p: Program): string => {
    const T = p.dim(t.T);
    const lines = [...geometry(p), `let tile = i % ${T};`, `let o = i / ${T};`, ...tileCoords(p, t, "tile", "tc")];
    lines.push(`for (var e = li; e < P; e = e + 64) {`);
    lines.push(...coords("e", "q").map((l) => `  ${l}`));
    lines.push(`  let zi = 2 * ((e * ${p.dim(t.O)} + o) * ${T} + tile);`);
    lines.push(`  fre[rev] = ${p.at("Z", "zi")};`, `  fim[rev] = ${p.at("Z", "zi + 1")};`, `}`, `workgroupBarrier();`);
    lines.push(...stages(1));
    // The tile's valid outputs: m_1 x .. x m_d positions, those inside the output stored.
    const Mt = m.reduce((a, b) => a * b, 1);
    lines.push(`for (var e = li; e < ${p.dim(Mt)}; e = e + 64) {`);
    let rest = "e";
    let ok = "true";
    let yi = "";
    let at = "";
    for (let a = d - 1; a >= 0; a--) {
      lines.push(`  let w${a} = ${rest} % ${p.dim(m[a])};`, `  let wr${a} = ${rest} / ${p.dim(m[a])};`);
      rest = `wr${a}`;
    }
    for (let a = 0; a < d; a++) {
      lines.push(`  let j${a} = tc${a} * ${p.dim(m[a])} + w${a};`, `  let jj${a} = ${p.dim(t.J[a])};`);
      ok = `${ok} && j${a} < jj${a}`;
      yi = a === 0 ? `o * jj0 + j0` : `(${yi}) * jj${a} + j${a}`;
      at = a === 0 ? `w0 * inr0` : `${at} + w${a} * inr${a}`;
    }
    lines.push(`  if (${ok}) {`, `    let yi = ${yi};`, `    let v = fre[${at}];`);
    lines.push(indent(storeOutput(p, ctx, op, "v", "yi", "o"), "    "));
    lines.push(`  }`, `}`);
    return lines.join("\n");
  };

  const common = { workgroupSize: 64, uniformSizes: true, itemsPer: "workgroup" as const, workgroupDecl: decl, workgroupBytes: 8 * MAX_POINTS };
  return {
    input: { ...common, family: "fft-input", items: D.mul(t.C, t.T), tensors: [x, V], body: inputBody, intermediate: true },
    output: { ...common, family: "fft-output", items: D.mul(t.O, t.T), tensors: [Z, ...outputTensors(ctx, op)], body: outputBody },
  };
}
