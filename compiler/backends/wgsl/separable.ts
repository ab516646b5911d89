// Separable convolution on WebGPU, for layers whose every kernel slice w[o, c] is an outer
// product u_1 ⊗ .. ⊗ u_d (algorithms/separable.ts decides that, at compile time, from the
// weights): d one-dimensional passes instead of one d-dimensional window, sum(k) multiplies
// per output instead of prod(k).
//   factors, one invocation per slice (o, c): u_a from the slice's largest entry p:
//     u_1[k] = w[k, p_2.., p_d], u_a[k] = w[p_1, .., k (axis a), .., p_d] / w[p] (a > 1),
//     exact for a rank-1 slice (the weights live only in the weights blob, so the factors
//     are recomputed on every inference, prod(k) reads per slice);
//   the last axis, one invocation per (o, c, rows, output column): T = u_d * x[c] along it;
//   (3-D) the middle axis likewise, from T;
//   the first axis, one invocation per output: y[o] = sum over c of u_1 * T[o, c] along
//   it, then bias and epilogue.
// The intermediates hold every pair (o, c) of the group: O x Cg x rows x outputs, so this
// suits depthwise and narrow layers; where they exceed a storage binding, the layer is not
// given this algorithm on WebGPU (the cost model checks the sizes).

import * as D from "../../ir/dim.js";
import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import type { KernelSpec, Program, StepContext, TensorUse } from "./program.js";
import { outputTensors, ROLE_U, ROLE_V, ROLE_Z, storeOutput } from "./transformed.js";

/** Elements of the factors and of the intermediate after each pass but the first axis's (last axis first). */
export function separableScratch(op: ConvOp, C: number, M: readonly D.Dim[], J: readonly D.Dim[]): D.Dim[] {
  const pairs = op.filters * (C / op.groups);
  const sizes: D.Dim[] = [pairs * op.kernel.reduce((a, b) => a + b, 0)];
  const d = M.length;
  for (let a = d - 1; a >= 1; a--) sizes.push(D.mul(pairs, D.product([...M.slice(0, a), ...J.slice(a)])));
  return sizes;
}

export function separableKernels(ctx: StepContext, op: ConvOp): KernelSpec[] | undefined {
  const step = ctx.step;
  const d = op.kernel.length;
  if (d < 2 || d > 3) return undefined;
  const inShape = step.inputs[0].shape;
  const C = inShape[0] as number;
  const M = inShape.slice(1);
  const J = step.output.shape.slice(1);
  const geo = windowGeometry(M, op.kernel, op.stride, op.dilation, op.pad);
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const pairs = op.filters * Cg;
  const K = op.kernel;
  const Ksum = K.reduce((a, b) => a + b, 0);
  const Kvol = K.reduce((a, b) => a * b, 1);
  const offsets = K.map((_, a) => K.slice(0, a).reduce((s, v) => s + v, 0));
  const sizes = separableScratch(op, C, M, J);
  const x = ctx.input(0, "x");
  const w = ctx.weight("w");
  const F = ctx.scratch("F", ROLE_U, sizes[0]);
  const roles = [ROLE_V, ROLE_Z];
  const temps: TensorUse[] = sizes.slice(1).map((n, k) => ctx.scratch(k % 2 ? "S" : "T", roles[k], n));

  // Kernel geometry as uniforms (one pipeline serves every kernel size): kn<a> the taps of
  // axis a, fo<a> where its factor starts in a slice's Ksum factors, flip.
  const geometry = (p: Program): string[] => [
    ...K.flatMap((k, a) => [`let kn${a} = ${p.dim(k)};`, `let fo${a} = ${p.dim(offsets[a])};`]),
    `let ksum = ${p.dim(Ksum)};`,
    `let flip = ${p.dim(op.flip ? 1 : 0)} != 0;`,
  ];
  // The flat weight index of kernel coordinates (expressions), reversed with flip (true convolution).
  const wIndex = (ks: readonly string[]): string => {
    let flat = "";
    ks.forEach((k, a) => {
      const kk = `select(${k}, kn${a} - 1 - ${k}, flip)`;
      flat = a === 0 ? kk : `(${flat}) * kn${a} + ${kk}`;
    });
    return `wb + ${flat}`;
  };

  const factorBody = (p: Program): string => {
    const lines = [...geometry(p), `let kvol = ${p.dim(Kvol)};`, `let wb = i * kvol;`, `var best = 0;`, `var big = -1.0;`];
    lines.push(`for (var e = 0; e < kvol; e = e + 1) {`, `  let v = abs(${p.at("w", "wb + e")});`, `  if (v > big) {`, `    big = v;`, `    best = e;`, `  }`, `}`);
    // Pivot coordinates in the flipped kernel (the one the passes apply).
    let rest = "best";
    for (let a = d - 1; a >= 0; a--) {
      lines.push(`let raw${a} = (${rest}) % kn${a};`, `let p${a} = select(raw${a}, kn${a} - 1 - raw${a}, flip);`);
      rest = `(${rest}) / kn${a}`;
    }
    lines.push(`let pv = ${p.at("w", wIndex(K.map((_, a) => `p${a}`)))};`);
    lines.push(`let inv = select(0.0, 1.0 / pv, pv != 0.0);`, `let fb = i * ksum;`);
    for (let a = 0; a < d; a++) {
      const ks = K.map((_, b) => (b === a ? "k" : `p${b}`));
      lines.push(`for (var k = 0; k < kn${a}; k = k + 1) {`);
      lines.push(`  ${p.at("F", `fb + fo${a} + k`)} = ${p.at("w", wIndex(ks))}${a === 0 ? "" : " * inv"};`);
      lines.push(`}`);
    }
    return lines.join("\n");
  };

  /** s<a>, lo<a>, hi<a>: the input coordinate of tap 0 and the taps that land on real input (geometry as uniforms). */
  const bounds = (p: Program, a: number): string[] => [
    `let st${a} = ${p.dim(op.stride[a])};`,
    `let rd${a} = ${p.dim(op.dilation[a])};`,
    `let s${a} = j${a} * st${a} - ${p.dim(geo.padBefore[a])};`,
    `let lo${a} = max(0, ceil_div(-s${a}, rd${a}));`,
    `let hi${a} = min(kn${a}, ceil_div(${p.dim(M[a])} - s${a}, rd${a}));`,
  ];

  /**
   * One 1-D pass along axis `a`: source shape per pair [M_0..M_a, J_a+1..], result with M_a
   * replaced by J_a. `src` is x (read at the pair's input channel) or the previous pass.
   */
  const passKernel = (a: number, src: TensorUse, dst: TensorUse): KernelSpec => {
    const srcShape = [...M.slice(0, a + 1), ...J.slice(a + 1)];
    const dstShape = [...M.slice(0, a), ...J.slice(a)];
    const body = (p: Program): string => {
      const lines: string[] = [];
      let rest = "i";
      for (let b = d - 1; b >= 0; b--) {
        lines.push(`let j${b} = ${rest} % ${p.dim(dstShape[b])};`, `let q${b} = ${rest} / ${p.dim(dstShape[b])};`);
        rest = `q${b}`;
      }
      lines.push(`let pair = ${rest};`);
      const srcBase = src.name === "x" ? `((pair / ${p.dim(Cg)}) / ${p.dim(Og)} * ${p.dim(Cg)} + pair % ${p.dim(Cg)}) * ${p.dim(D.product(M))}` : `pair * ${p.dim(D.product(srcShape))}`;
      lines.push(`let sb = ${srcBase};`, ...geometry(p), ...bounds(p, a));
      const axisStride = D.product(srcShape.slice(a + 1));
      let fixed = "sb";
      for (let b = 0; b < d; b++) {
        if (b === a) continue;
        fixed = `${fixed} + j${b}${D.product(srcShape.slice(b + 1)) === 1 ? "" : ` * ${p.dim(D.product(srcShape.slice(b + 1)))}`}`;
      }
      lines.push(`let rb = ${fixed};`, `let fb = pair * ksum + fo${a};`, `var acc = 0.0;`);
      const pos = `s${a} + k * rd${a}`;
      lines.push(`for (var k = lo${a}; k < hi${a}; k = k + 1) {`);
      lines.push(`  acc = acc + ${p.at("F", "fb + k")} * ${p.at(src.name, `rb + (${pos})${axisStride === 1 ? "" : ` * ${p.dim(axisStride)}`}`)};`);
      lines.push(`}`, `${p.at(dst.name, "i")} = acc;`);
      return lines.join("\n");
    };
    return { family: "separable-pass", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(pairs, D.product(dstShape)), tensors: [src, F, dst], body, intermediate: true };
  };

  // The first axis, summed over the group's channels: T is [pair][M_0, J_1..].
  const finalKernel = (src: TensorUse): KernelSpec => {
    const srcShape = [M[0], ...J.slice(1)];
    const body = (p: Program): string => {
      const lines: string[] = [];
      let rest = "i";
      for (let b = d - 1; b >= 0; b--) {
        lines.push(`let j${b} = ${rest} % ${p.dim(J[b])};`, `let q${b} = ${rest} / ${p.dim(J[b])};`);
        rest = `q${b}`;
      }
      lines.push(`let o = ${rest};`, ...geometry(p), ...bounds(p, 0));
      let rb = "";
      for (let b = 1; b < d; b++) {
        const st = D.product(srcShape.slice(b + 1));
        rb = `${rb}${rb ? " + " : ""}j${b}${st === 1 ? "" : ` * ${p.dim(st)}`}`;
      }
      const rowStride = D.product(srcShape.slice(1));
      lines.push(`let rb = ${rb};`, `var acc = 0.0;`);
      lines.push(`for (var c = 0; c < ${p.dim(Cg)}; c = c + 1) {`);
      lines.push(`  let pair = o * ${p.dim(Cg)} + c;`, `  let sb = pair * ${p.dim(D.product(srcShape))} + rb;`, `  let fb = pair * ksum;`);
      const pos = `s0 + k * rd0`;
      lines.push(`  for (var k = lo0; k < hi0; k = k + 1) {`);
      lines.push(`    acc = acc + ${p.at("F", "fb + k")} * ${p.at(src.name, `sb + (${pos}) * ${p.dim(rowStride)}`)};`);
      lines.push(`  }`, `}`);
      lines.push(storeOutput(p, ctx, op, "acc", "i", "o"));
      return lines.join("\n");
    };
    return { family: "separable-final", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: D.mul(op.filters, D.product(J)), tensors: [src, F, ...outputTensors(ctx, op)], body };
  };

  const kernels: KernelSpec[] = [{ family: "separable-factors", workgroupSize: 64, uniformSizes: true, itemsPer: "invocation", items: pairs, tensors: [w, F], body: factorBody, intermediate: true }];
  let src: TensorUse = x;
  for (let a = d - 1, k = 0; a >= 1; a--, k++) {
    kernels.push(passKernel(a, src, temps[k]));
    src = temps[k];
  }
  kernels.push(finalKernel(src));
  return kernels;
}
