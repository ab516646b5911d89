// The WebGPU training step's kernels for the ops that move elements (slice, pad, resize) and
// log_softmax's gradient (its forward is grad-pointwise.ts's softmax with `log`). A move is a
// compile-time table of reads (reference/grad/move-grad.ts moveReads: for each output
// element, `taps` input elements and weights, -1 for none; the weights go into the i32 table
// as their f32 bits). The forward gathers along it, one invocation per output element; the
// gradient gathers too, one invocation per input element, along the inverted table (for each
// input element, the outputs that read it and their weights, as offsets and a list), so that
// no two invocations add into one element.

import type { PadOp, ResizeOp, SliceOp } from "../../ir/ops.js";
import { moveReads } from "../../reference/grad/move-grad.js";
import { type GradContext, items, u, type WgslKernel } from "./grad-kernel.js";
import { f32Lit } from "./prelude.js";

type MoveOp = SliceOp | PadOp | ResizeOp;

const bits = (w: Float32Array): Int32Array => new Int32Array(w.buffer, w.byteOffset, w.length);

export function moveForward(ctx: GradContext, op: MoveOp, inShape: readonly number[], x: number, y: number): WgslKernel {
  const r = moveReads(op, inShape);
  const key = JSON.stringify(["move", op, inShape]);
  const src = ctx.table(`${key} src`, () => r.src);
  const w = ctx.table(`${key} w`, () => bits(r.w));
  const read = (n: string) => `let s = T[${u(src)} + e * ${u(r.taps)} + ${n}];
    let w = bitcast<f32>(T[${u(w)} + e * ${u(r.taps)} + ${n}]);
    let v = w * A[${ctx.at(x, "b", "u32(max(s, 0))")}];`;
  const body =
    r.taps === 1
      ? `  ${read("0u")}\n  A[${ctx.at(y, "b", "e")}] = select(${f32Lit(r.fill)}, v, s >= 0);`
      : `  var acc = 0.0;\n  for (var n = 0u; n < ${u(r.taps)}; n++) {\n    ${read("n")}\n    acc += v;\n  }\n  A[${ctx.at(y, "b", "e")}] = acc;`;
  return items(op.kind, r.outSize, true, body);
}

export function moveGrad(ctx: GradContext, op: MoveOp, inShape: readonly number[], dy: number, dx: number): WgslKernel {
  const r = moveReads(op, inShape);
  const inSize = inShape.reduce((a, b) => a * b, 1);
  // Inverted: for input element i, entries [start[i], start[i + 1]) of (output, weight).
  const start = new Int32Array(inSize + 1);
  for (const s of r.src) if (s >= 0) start[s + 1]++;
  for (let i = 0; i < inSize; i++) start[i + 1] += start[i];
  const outs = new Int32Array(start[inSize]);
  const ws = new Float32Array(start[inSize]);
  const fill = start.slice(0, inSize);
  r.src.forEach((s, k) => {
    if (s < 0) return;
    outs[fill[s]] = Math.floor(k / r.taps);
    ws[fill[s]++] = r.w[k];
  });
  const key = JSON.stringify(["move grad", op, inShape]);
  const at = ctx.table(`${key} start`, () => start);
  const o = ctx.table(`${key} outs`, () => (outs.length ? outs : new Int32Array(1)));
  const w = ctx.table(`${key} w`, () => (ws.length ? bits(ws) : new Int32Array(1)));
  return items(
    `${op.kind}_grad`,
    inSize,
    true,
    `  var acc = 0.0;
  for (var k = T[${u(at)} + e]; k < T[${u(at)} + e + 1u]; k++) {
    acc += bitcast<f32>(T[${u(w)} + u32(k)]) * A[${ctx.at(dy, "b", `u32(T[${u(o)} + u32(k)])`)}];
  }
  A[${ctx.at(dx, "b", "e")}] = acc;`,
  );
}

/** dx = dy - exp(y) * (sum over channels of dy), per position. */
export function logSoftmaxGrad(ctx: GradContext, C: number, per: number, y: number, dy: number, dx: number): WgslKernel {
  const at = (v: number, c: string) => `A[${ctx.at(v, "b", `${c} * ${u(per)} + e`)}]`;
  return items(
    "log_softmax_grad",
    per,
    true,
    `  var sum = 0.0;
  for (var c = 0u; c < ${u(C)}; c++) { sum += ${at(dy, "c")}; }
  for (var c = 0u; c < ${u(C)}; c++) { ${at(dx, "c")} = ${at(dy, "c")} - exp(${at(y, "c")}) * sum; }`,
  );
}
