// Implicit GEMM (im2col without the column matrix) on WebGPU: per group, the convolution is
// Y[o][pos] = sum over kk < Cg*K of W[o][kk] * col[kk][pos], col[(c, k)][pos] the input
// value kernel offset k of output position pos reads (zero in the padding). One workgroup of
// 64 invocations computes a 32-filter x 32-position block of Y: the K dimension goes in
// chunks of 8, each chunk's 8x32 slices of W and of col (gathered straight from x, so no
// column matrix is ever stored) staged in workgroup memory, and each invocation keeps a
// 4x4 block of outputs in registers, reading 4 + 4 staged values per 16 multiply-adds (the
// direct kernel reads 2 per multiply-add). Bias and the epilogue are applied at the store.
// Sizes and the kernel geometry (taps, stride, dilation, flip) are uniforms, not literals
// (KernelSpec.uniformSizes): the program depends only on the rank, bias kind and epilogue, so
// a network's GEMM layers share a few pipelines instead of compiling one per shape.

import * as D from "../../ir/dim.js";
import { type ConvOp, windowGeometry } from "../../ir/ops.js";
import { indent, type KernelSpec, type Program, type StepContext } from "./program.js";
import { outputTensors, storeOutput } from "./transformed.js";

const TILE = 32;
const CHUNK = 8;

export function gemmKernels(ctx: StepContext, op: ConvOp): KernelSpec[] | undefined {
  const step = ctx.step;
  const inShape = step.inputs[0].shape;
  const C = inShape[0] as number;
  const M = inShape.slice(1);
  const J = step.output.shape.slice(1);
  const d = M.length;
  const geo = windowGeometry(M, op.kernel, op.stride, op.dilation, op.pad);
  const Cg = C / op.groups;
  const Og = op.filters / op.groups;
  const Kvol = op.kernel.reduce((a, b) => a * b, 1);
  const Kg = Cg * Kvol;
  const Pos = D.product(J);
  const OT = Math.ceil(Og / TILE);
  const PT = D.ceildiv(Pos, TILE);
  const x = ctx.input(0, "x");
  const w = ctx.weight("w");

  const body = (p: Program): string => {
    const pos = p.dim(Pos);
    const lines = [
      `let pt = i % ${p.dim(PT)};`,
      `let gr = i / ${p.dim(PT)};`,
      `let ot = gr % ${OT};`,
      `let g = gr / ${OT};`,
      `let li = i32(lid);`,
      `let kvol = ${p.dim(Kvol)};`,
      `let flip = ${p.dim(op.flip ? 1 : 0)};`,
      `let tx = li % 8;`,
      `let ty = li / 8;`,
      `let p0 = pt * ${TILE};`,
      `let f0 = ot * ${TILE};`,
      `var acc: array<vec4<f32>, 4>;`,
      `for (var kb = 0; kb < ${p.dim(Kg)}; kb = kb + ${CHUNK}) {`,
    ];
    lines.push(`  for (var q = 0; q < ${(CHUNK * TILE) / 64}; q = q + 1) {`);
    lines.push(`    let e = li + 64 * q;`, `    let kk = kb + e / ${TILE};`, `    let col = e % ${TILE};`);
    // W: filter f0 + col of the group, entry kk (the kernel offset reversed with flip).
    lines.push(`    let og = f0 + col;`);
    lines.push(`    let c = kk / kvol;`, `    let ko = kk % kvol;`);
    // With flip (true convolution) the kernel offset is read reversed.
    const wk = `select(kk, c * kvol + kvol - 1 - ko, flip != 0)`;
    lines.push(`    let wi = (g * ${p.dim(Og)} + min(og, (${p.dim(Og)} - 1))) * ${p.dim(Kg)} + min(${wk}, (${p.dim(Kg)} - 1));`);
    lines.push(`    ga[e] = select(0.0, ${p.at("w", "wi")}, kk < ${p.dim(Kg)} && og < ${p.dim(Og)});`);
    // col: the input value offset ko of position p0 + col reads, zero outside.
    lines.push(`    let ps = p0 + col;`, `    var ok = kk < ${p.dim(Kg)} && ps < ${pos};`, `    var xi = (g * ${p.dim(Cg)} + min(c, (${p.dim(Cg)} - 1))) * ${p.dim(D.product(M))};`);
    lines.push(`    var pr = ps;`, `    var kr = ko;`);
    for (let a = d - 1; a >= 0; a--) {
      lines.push(`    let j${a} = pr % ${p.dim(J[a])};`, `    pr = pr / ${p.dim(J[a])};`);
      lines.push(`    let k${a} = kr % ${p.dim(op.kernel[a])};`, `    kr = kr / ${p.dim(op.kernel[a])};`);
      const pb = geo.padBefore[a];
      lines.push(`    let s${a} = j${a} * ${p.dim(op.stride[a])} + k${a} * ${p.dim(op.dilation[a])} - ${p.dim(pb)};`);
      lines.push(`    ok = ok && s${a} >= 0 && s${a} < ${p.dim(M[a])};`);
    }
    let flat = "";
    for (let a = 0; a < d; a++) flat = a === 0 ? `s0` : `(${flat}) * ${p.dim(M[a])} + s${a}`;
    lines.push(`    xi = xi + select(0, ${flat}, ok);`);
    lines.push(`    gb[e] = select(0.0, ${p.at("x", "xi")}, ok);`);
    lines.push(`  }`);
    lines.push(`  workgroupBarrier();`);
    lines.push(`  for (var r = 0; r < ${CHUNK}; r = r + 1) {`);
    lines.push(`    let av = vec4<f32>(ga[r * ${TILE} + ty * 4], ga[r * ${TILE} + ty * 4 + 1], ga[r * ${TILE} + ty * 4 + 2], ga[r * ${TILE} + ty * 4 + 3]);`);
    lines.push(`    let bv = vec4<f32>(gb[r * ${TILE} + tx * 4], gb[r * ${TILE} + tx * 4 + 1], gb[r * ${TILE} + tx * 4 + 2], gb[r * ${TILE} + tx * 4 + 3]);`);
    for (let r = 0; r < 4; r++) lines.push(`    acc[${r}] = acc[${r}] + av[${r}] * bv;`);
    lines.push(`  }`, `  workgroupBarrier();`, `}`);
    lines.push(`for (var rr = 0; rr < 4; rr = rr + 1) {`, `  for (var cc = 0; cc < 4; cc = cc + 1) {`);
    lines.push(`    let og = f0 + ty * 4 + rr;`, `    let ps = p0 + tx * 4 + cc;`, `    if (og < ${p.dim(Og)} && ps < ${pos}) {`);
    lines.push(`      let o = g * ${p.dim(Og)} + og;`, `      let yi = o * ${pos} + ps;`, `      let v = acc[rr][cc];`);
    lines.push(indent(storeOutput(p, ctx, op, "v", "yi", "o"), "      "));
    lines.push(`    }`, `  }`, `}`);
    return lines.join("\n");
  };

  return [
    {
      family: "gemm",
      workgroupSize: 64, uniformSizes: true,
      itemsPer: "workgroup",
      items: D.mul(op.groups * OT, PT),
      tensors: [x, w, ...outputTensors(ctx, op)],
      workgroupDecl: `var<workgroup> ga: array<f32, ${CHUNK * TILE}>;\nvar<workgroup> gb: array<f32, ${CHUNK * TILE}>;`,
      workgroupBytes: 2 * 4 * CHUNK * TILE,
      body,
    },
  ];
}
