// The WebGPU training step's broadcast add and mul (channel-first, train/broadcast.ts) and the
// gradients that sum dy back down to a repeated operand, every sample at once. One invocation
// per output element: a broadcast op splits its element index into the output's axes and reads
// each operand at those indices (stride 0 where it repeats); a gradient splits its index into
// the operand's kept axes and loops over the summed ones in dy's row-major order, as the
// reference adds them. f32 throughout.

import { broadcastStrides, reduction } from "../../train/broadcast.js";
import { type GradContext, items, u, type WgslKernel } from "./grad-kernel.js";

/** `let` statements splitting `index` into one variable per axis of `sizes` (row-major), and the names. */
function split(index: string, prefix: string, sizes: readonly number[]): { code: string; names: string[] } {
  const names = sizes.map((_, a) => `${prefix}${a}`);
  const lines = sizes.map((size, a) => {
    const inner = sizes.slice(a + 1).reduce((x, y) => x * y, 1);
    const quotient = inner === 1 ? index : `(${index} / ${u(inner)})`;
    return `  let ${names[a]} = ${a === 0 ? quotient : `${quotient} % ${u(size)}`};`;
  });
  return { code: lines.join("\n"), names };
}

/** Σ names[a] * strides[a], leaving out the zero strides ("0u" when all are). */
function dot(names: readonly string[], strides: readonly number[]): string {
  const terms = names.flatMap((n, a) => (strides[a] === 0 ? [] : [strides[a] === 1 ? n : `${n} * ${u(strides[a])}`]));
  return terms.length ? terms.join(" + ") : "0u";
}

/** y = the sum (add) or product (mul) of the operands, each repeated along its size-1 axes. */
export function broadcastBinary(ctx: GradContext, kind: "add" | "mul", out: readonly number[], operands: readonly { v: number; shape: readonly number[] }[], y: number): WgslKernel {
  const axes = split("e", "i", out);
  const reads = operands.map((o) => `A[${ctx.at(o.v, "b", dot(axes.names, broadcastStrides(o.shape, out)))}]`);
  const count = out.reduce((a, b) => a * b, 1);
  return items(`broadcast_${kind}`, count, true, `${axes.code}\n  A[${ctx.at(y, "b", "e")}] = ${reads.join(kind === "add" ? " + " : " * ")};`);
}

/**
 * out (shape `to`) = dy summed over the axes where `to` has 1 and dy more; with `other`, of dy
 * times the other operand, itself repeated along its own size-1 axes (a mul's gradient).
 */
export function reduceTo(ctx: GradContext, dyShape: readonly number[], dy: number, to: readonly number[], out: number, other?: { v: number; shape: readonly number[] }): WgslKernel {
  const r = reduction(dyShape, to);
  const os = other ? broadcastStrides(other.shape, dyShape) : dyShape.map(() => 0);
  const kept = split("e", "k", r.kept.map((a) => a.size));
  const summed = split("r", "s", r.summed.map((a) => a.size));
  const total = r.summed.reduce((a, s) => a * s.size, 1);
  const dyAt = `dyBase + ${dot(summed.names, r.summed.map((s) => s.dyStride))}`;
  const otherAt = `oBase + ${dot(summed.names, r.summed.map((s) => os[s.axis]))}`;
  const term = other ? `A[${ctx.at(dy, "b", dyAt)}] * A[${ctx.at(other.v, "b", otherAt)}]` : `A[${ctx.at(dy, "b", dyAt)}]`;
  const count = to.reduce((a, b) => a * b, 1);
  return items(
    other ? "mul_grad" : "unbroadcast",
    count,
    true,
    `${kept.code}
  let dyBase = ${dot(kept.names, r.kept.map((a) => a.dyStride))};
  let oBase = ${dot(kept.names, r.kept.map((a) => os[a.axis]))};
  var acc = 0.0;
  for (var r = 0u; r < ${u(total)}; r++) {
${summed.code.replaceAll("  let", "    let")}
    acc += ${term};
  }
  A[${ctx.at(out, "b", "e")}] = acc;`,
  );
}
