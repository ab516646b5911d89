// The WebGPU training step's kernels without windows, each over the whole batch: dense
// forward and gradients (dx = W^T dy per sample; dW = sum over the batch of dy x^T), the
// activations and their derivatives (the reference's f'(x), compiler/reference/grad/
// pointwise-grad.ts, its value at each kink included: mostly the right-hand side's, but
// hardsigmoid's is 0 at both ends and selu's the left's at 0), softmax and its gradient, bias
// gradients (dy summed over the batch and the positions that share a bias), sums and copies,
// the losses with their gradients (compiler/reference/grad/loss.ts: means over positions or
// elements; softmax cross-entropy on logits with the max subtracted) and the per-sample
// count of correctly classified positions. f32 throughout.

import type { Weight } from "../../ir/graph.js";
import type { LossKind } from "../../ir/grad-ops.js";
import type { ActivationFn } from "../../ir/ops.js";
import { assertNever } from "../../ir/ops.js";
import { activate } from "./activation.js";
import { type GradContext, groups, items, u, type WgslKernel } from "./grad-kernel.js";
import { f32Lit } from "./prelude.js";

/**
 * Activations whose derivative the WebGPU step computes: every one (activationGrad's switch is
 * exhaustive, so a new ActivationFn fails to compile until it has a kernel here and is added).
 * Kept as a set for StepKernels, which a backend without some kernel would narrow.
 */
const DERIVATIVES: ReadonlySet<ActivationFn> = new Set<ActivationFn>([
  "relu", "leaky_relu", "sigmoid", "tanh", "identity", "clip", "hardsigmoid", "hardswish", "elu",
  "selu", "exp", "log", "abs", "neg", "sqrt", "reciprocal", "pow",
]);

export function activationTrainable(fn: ActivationFn): boolean {
  return DERIVATIVES.has(fn);
}

export function denseForward(ctx: GradContext, units: number, n: number, x: number, w: Weight, bias: Weight | undefined, y: number): WgslKernel {
  return items(
    "dense",
    units,
    true,
    `  var acc = ${bias ? `A[${ctx.w(bias, "e")}]` : "0.0"};
  for (var i = 0u; i < ${u(n)}; i++) { acc += A[${ctx.w(w, `e * ${u(n)} + i`)}] * A[${ctx.at(x, "b", "i")}]; }
  A[${ctx.at(y, "b", "e")}] = acc;`,
  );
}

/** dx[b, i] = sum over u of W[u, i] dy[b, u]. */
export function denseGradInput(ctx: GradContext, units: number, n: number, dy: number, w: Weight, dx: number): WgslKernel {
  return items(
    "dense_grad_input",
    n,
    true,
    `  var acc = 0.0;
  for (var k = 0u; k < ${u(units)}; k++) { acc += A[${ctx.w(w, `k * ${u(n)} + e`)}] * A[${ctx.at(dy, "b", "k")}]; }
  A[${ctx.at(dx, "b", "e")}] = acc;`,
  );
}

/** dW[u, i] = sum over the batch of dy[b, u] x[b, i]: one invocation per weight (the batch is short). */
export function denseGradKernel(ctx: GradContext, units: number, n: number, x: number, dy: number, dw: number): WgslKernel {
  return items(
    "dense_grad_kernel",
    units * n,
    false,
    `  let k = e / ${u(n)};
  let i = e % ${u(n)};
  var acc = 0.0;
  for (var b = 0u; b < U.nb; b++) { acc += A[${ctx.at(dy, "b", "k")}] * A[${ctx.at(x, "b", "i")}]; }
  A[${ctx.at(dw, "0u", "e")}] = acc;`,
  );
}

export function activationForward(ctx: GradContext, f: ActivationFn, alpha: number, beta: number | undefined, count: number, x: number, y: number): WgslKernel {
  // relu keeps a NaN (WGSL's max need not), so that a bad input shows in the loss as on the other backends.
  const value = f === "relu" ? "select(v, 0.0, v < 0.0)" : activate(f, alpha, "v", beta);
  return items(f, count, true, `  let v = A[${ctx.at(x, "b", "e")}];\n  A[${ctx.at(y, "b", "e")}] = ${value};`);
}

/** dx = f'(x) dy; alpha and beta as the forward op's (beta absent: 0, as there). */
export function activationGrad(ctx: GradContext, f: ActivationFn, alpha: number, beta: number | undefined, count: number, x: number, dy: number, dx: number): WgslKernel {
  const a = f32Lit(alpha);
  const b = f32Lit(beta ?? 0);
  let r: string;
  switch (f) {
    case "relu":
      r = "select(0.0, g, v > 0.0)";
      break;
    case "leaky_relu":
      r = `select(${f32Lit(alpha)} * g, g, v >= 0.0)`;
      break;
    case "sigmoid":
      r = "sigmoid_safe(v) * (1.0 - sigmoid_safe(v)) * g";
      break;
    case "tanh":
      r = "(1.0 - tanh_safe(v) * tanh_safe(v)) * g";
      break;
    case "identity":
      r = "g";
      break;
    case "elu":
      r = `select(g, ${f32Lit(alpha)} * exp(min(v, 0.0)) * g, v < 0.0)`;
      break;
    case "clip":
      // 1 on [lo, hi): the lower kink takes the right-hand side's slope (1), the upper one's (0).
      r = `select(0.0, g, v >= ${a} && v < ${b})`;
      break;
    case "hardsigmoid":
      // The slope alpha where alpha x + beta is strictly inside (0, 1), as the reference has it.
      r = `select(0.0, ${a} * g, ${a} * v + ${b} > 0.0 && ${a} * v + ${b} < 1.0)`;
      break;
    case "hardswish":
      // 0 below -3, 1 above 3, else x/3 + 1/2: the reference's tests, in its order.
      r = "select(select((v / 3.0 + 0.5) * g, g, v > 3.0), 0.0, v < -3.0)";
      break;
    case "selu":
      // exp of min(x, 0): the branch not taken is computed too, and need not overflow.
      r = `${b} * select(1.0, ${a} * exp(min(v, 0.0)), v <= 0.0) * g`;
      break;
    case "exp":
      r = "exp(v) * g";
      break;
    case "log":
      r = "g / v";
      break;
    case "abs":
      // The kink at 0 takes the right-hand side's slope, 1.
      r = "select(-g, g, v >= 0.0)";
      break;
    case "neg":
      r = "-g";
      break;
    case "sqrt":
      r = "0.5 / sqrt(v) * g";
      break;
    case "reciprocal":
      r = "-g / (v * v)";
      break;
    case "pow":
      r = `${powDerivative(alpha)} * g`;
      break;
    default:
      return assertNever(f);
  }
  return items(`${f}_grad`, count, true, `  let v = A[${ctx.at(x, "b", "e")}];\n  let g = A[${ctx.at(dy, "b", "e")}];\n  A[${ctx.at(dx, "b", "e")}] = ${r};`);
}

/**
 * alpha v^(alpha - 1) as a WGSL f32 expression of `v`. WGSL's pow is undefined for a negative
 * base, so a whole exponent e = alpha - 1 takes |v|^e and, for an odd e, v's sign, as the
 * forward kernel does (activation.ts); e = 0 and e = 1 need no pow. A fractional exponent of
 * a negative base is NaN in the reference too.
 */
function powDerivative(alpha: number): string {
  const e = alpha - 1;
  if (e === 0) return f32Lit(alpha);
  if (e === 1) return "(2.0 * v)";
  if (Number.isInteger(e)) return `(${f32Lit(alpha)} * pow(abs(v), ${f32Lit(e)})${e % 2 !== 0 ? " * sign(v)" : ""})`;
  return `(${f32Lit(alpha)} * pow(v, ${f32Lit(e)}))`;
}

/** Softmax over channels at each of `per` positions of every sample. */
/** Softmax over channels, per position; with `log`, log_softmax: x - max - log(sum exp(x - max)). */
export function softmaxForward(ctx: GradContext, C: number, per: number, x: number, y: number, log = false): WgslKernel {
  const xi = (c: string) => `A[${ctx.at(x, "b", `${c} * ${u(per)} + e`)}]`;
  const value = log ? `${xi("c")} - (mx + log(sum))` : `exp(${xi("c")} - mx) / sum`;
  return items(
    log ? "log_softmax" : "softmax",
    per,
    true,
    `  var mx = LOWEST_F32;
  for (var c = 0u; c < ${u(C)}; c++) { mx = max(mx, ${xi("c")}); }
  var sum = 0.0;
  for (var c = 0u; c < ${u(C)}; c++) { sum += exp(${xi("c")} - mx); }
  for (var c = 0u; c < ${u(C)}; c++) { A[${ctx.at(y, "b", `c * ${u(per)} + e`)}] = ${value}; }`,
  );
}

/** dx = y (dy - sum over channels of y dy), per position. */
export function softmaxGrad(ctx: GradContext, C: number, per: number, y: number, dy: number, dx: number): WgslKernel {
  const at = (v: number, c: string) => `A[${ctx.at(v, "b", `${c} * ${u(per)} + e`)}]`;
  return items(
    "softmax_grad",
    per,
    true,
    `  var dot = 0.0;
  for (var c = 0u; c < ${u(C)}; c++) { dot += ${at(y, "c")} * ${at(dy, "c")}; }
  for (var c = 0u; c < ${u(C)}; c++) { ${at(dx, "c")} = ${at(y, "c")} * (${at(dy, "c")} - dot); }`,
  );
}

/** Channel bias: dy [O, per] summed over the batch and the positions, a workgroup per channel. */
export function biasGradChannel(ctx: GradContext, O: number, per: number, dy: number, db: number): WgslKernel {
  return groups("bias_grad", O, per, "", `    acc += A[${ctx.at(dy, "b", `e * ${u(per)} + j`)}];`, ctx.at(db, "0u", "e"));
}

/** Location bias: dy summed over the batch only. */
export function biasGradLocation(ctx: GradContext, count: number, dy: number, db: number): WgslKernel {
  return items("bias_grad", count, false, `  var acc = 0.0;\n  for (var b = 0u; b < U.nb; b++) { acc += A[${ctx.at(dy, "b", "e")}]; }\n  A[${ctx.at(db, "0u", "e")}] = acc;`);
}

/** out = the sum of the inputs (add's forward, accumulate), per sample or for a fixed value. */
export function sum(ctx: GradContext, count: number, batched: boolean, xs: readonly number[], out: number): WgslKernel {
  const b = batched ? "b" : "0u";
  return items(xs.length === 1 ? "copy" : "sum", count, batched, `  A[${ctx.at(out, b, "e")}] = ${xs.map((v) => `A[${ctx.at(v, b, "e")}]`).join(" + ")};`);
}

/** out = a * b elementwise, every sample (a mul's forward; its gradient, dy times the other operand). */
export function product(ctx: GradContext, count: number, a: number, b: number, out: number): WgslKernel {
  return items("product", count, true, `  A[${ctx.at(out, "b", "e")}] = A[${ctx.at(a, "b", "e")}] * A[${ctx.at(b, "b", "e")}];`);
}

/** A channel concat's forward: each input ([value, elements]) is one run of the output, in order. */
export function concat(ctx: GradContext, inputs: readonly (readonly [number, number])[], out: number): WgslKernel {
  let at = 0;
  const branches = inputs.map(([v, n], i) => {
    const from = at;
    at += n;
    const read = `A[${ctx.at(out, "b", "e")}] = A[${ctx.at(v, "b", `e - ${u(from)}`)}];`;
    return i === inputs.length - 1 ? `{ ${read} }` : `if (e < ${u(at)}) { ${read} }`;
  });
  return items("concat", at, true, `  ${branches.join(" else ")}`);
}

/** out = elements [from, from + count) of x, every sample (a concat's gradient for one input). */
export function sliceRun(ctx: GradContext, count: number, x: number, from: number, out: number): WgslKernel {
  return items("slice", count, true, `  A[${ctx.at(out, "b", "e")}] = A[${ctx.at(x, "b", `e + ${u(from)}`)}];`);
}

/** The class at position p of sample b's target (stored as f32; checked to be a class before the step). */
const classAt = (ctx: GradContext, target: number, p: string) => `u32(A[${ctx.at(target, "b", p)}])`;

/** Each sample's loss (a mean over its positions or elements) into loss[b]. */
export function loss(ctx: GradContext, kind: LossKind, C: number, per: number, pred: number, target: number, out: number): WgslKernel {
  const q = (i: string) => `A[${ctx.at(pred, "b", i)}]`;
  let body: string;
  if (kind === "mse" || kind === "l1") {
    const n = C * per;
    body = `  var total = 0.0;
  for (var i = 0u; i < ${u(n)}; i++) {
    let d = ${q("i")} - A[${ctx.at(target, "b", "i")}];
    total += ${kind === "mse" ? "d * d" : "abs(d)"};
  }
  A[${ctx.at(out, "b", "0u")}] = total / ${f32Lit(n)};`;
  } else {
    const term =
      kind === "cross_entropy"
        ? `total -= log(${q(`t * ${u(per)} + p`)});`
        : `var mx = LOWEST_F32;
    for (var c = 0u; c < ${u(C)}; c++) { mx = max(mx, ${q(`c * ${u(per)} + p`)}); }
    var s = 0.0;
    for (var c = 0u; c < ${u(C)}; c++) { s += exp(${q(`c * ${u(per)} + p`)} - mx); }
    total += mx + log(s) - ${q(`t * ${u(per)} + p`)};`;
    body = `  var total = 0.0;
  for (var p = 0u; p < ${u(per)}; p++) {
    let t = ${classAt(ctx, target, "p")};
    ${term}
  }
  A[${ctx.at(out, "b", "0u")}] = total / ${f32Lit(per)};`;
  }
  return items("loss", 1, true, body);
}

/** dJ/d(prediction) per sample. */
export function lossGrad(ctx: GradContext, kind: LossKind, C: number, per: number, pred: number, target: number, out: number): WgslKernel {
  const q = (i: string) => `A[${ctx.at(pred, "b", i)}]`;
  const o = (i: string) => `A[${ctx.at(out, "b", i)}]`;
  if (kind === "mse" || kind === "l1") {
    const n = C * per;
    const g = kind === "mse" ? "2.0 * d" : "select(0.0, 1.0, d > 0.0) - select(0.0, 1.0, d < 0.0)";
    return items("loss_grad", n, true, `  let d = ${q("e")} - A[${ctx.at(target, "b", "e")}];\n  ${o("e")} = (${g}) / ${f32Lit(n)};`);
  }
  const body =
    kind === "cross_entropy"
      ? `  for (var c = 0u; c < ${u(C)}; c++) {
    let i = c * ${u(per)} + e;
    ${o("i")} = select(0.0, -1.0 / (${q("i")} * ${f32Lit(per)}), c == t);
  }`
      : `  var mx = LOWEST_F32;
  for (var c = 0u; c < ${u(C)}; c++) { mx = max(mx, ${q(`c * ${u(per)} + e`)}); }
  var s = 0.0;
  for (var c = 0u; c < ${u(C)}; c++) { s += exp(${q(`c * ${u(per)} + e`)} - mx); }
  for (var c = 0u; c < ${u(C)}; c++) {
    let i = c * ${u(per)} + e;
    ${o("i")} = (exp(${q("i")} - mx) / s - select(0.0, 1.0, c == t)) / ${f32Lit(per)};
  }`;
  return items("loss_grad", per, true, `  let t = ${classAt(ctx, target, "e")};\n${body}`);
}

/** Positions of sample b's output [C, per] whose first arg-max is the target class, into correct[b]. */
export function correct(ctx: GradContext, C: number, per: number, output: number, target: number, out: number): WgslKernel {
  const y = (c: string) => `A[${ctx.at(output, "b", `${c} * ${u(per)} + p`)}]`;
  return items(
    "correct",
    1,
    true,
    `  var right = 0.0;
  for (var p = 0u; p < ${u(per)}; p++) {
    var best = 0u;
    for (var c = 1u; c < ${u(C)}; c++) { if (${y("c")} > ${y("best")}) { best = c; } }
    if (best == ${classAt(ctx, target, "p")}) { right += 1.0; }
  }
  A[${ctx.at(out, "b", "0u")}] = right;`,
  );
}

/** maxout's forward: y[c', p] = the max over channels [c'k, (c'+1)k) of x[c, p], every sample. */
export function maxoutForward(ctx: GradContext, channels: number, per: number, group: number, x: number, y: number): WgslKernel {
  const xAt = (c: string) => `A[${ctx.at(x, "b", `(co * ${u(group)} + ${c}) * ${u(per)} + i`)}]`;
  return items(
    "maxout",
    (channels / group) * per,
    true,
    `  let co = e / ${u(per)};
  let i = e % ${u(per)};
  var acc = ${xAt("0u")};
  for (var c = 1u; c < ${u(group)}; c++) { acc = max(acc, ${xAt("c")}); }
  A[${ctx.at(y, "b", "e")}] = acc;`,
  );
}

/** maxout's gradient: dy goes to the group's first channel holding its largest value, 0 to the rest. */
export function maxoutGrad(ctx: GradContext, channels: number, per: number, group: number, x: number, dy: number, dx: number): WgslKernel {
  const at = (v: number, c: string) => ctx.at(v, "b", `(co * ${u(group)} + ${c}) * ${u(per)} + i`);
  return items(
    "maxout_grad",
    (channels / group) * per,
    true,
    `  let co = e / ${u(per)};
  let i = e % ${u(per)};
  var best = A[${at(x, "0u")}];
  var arg = 0u;
  for (var c = 1u; c < ${u(group)}; c++) {
    let v = A[${at(x, "c")}];
    if (v > best) { best = v; arg = c; }
  }
  let g = A[${ctx.at(dy, "b", "e")}];
  for (var c = 0u; c < ${u(group)}; c++) { A[${at(dx, "c")}] = select(0.0, g, c == arg); }`,
  );
}

/** Batch norm on fixed (running) statistics, every sample: y = (x - mean) / sqrt(var + eps) * gamma + beta. */
export function batchnormForward(ctx: GradContext, eps: number, C: number, per: number, x: number, p: { gamma: Weight; beta: Weight; mean: Index; variance: Index }, y: number): WgslKernel {
  return items(
    "batchnorm",
    C * per,
    true,
    `  let c = e / ${u(per)};
  let sd = sqrt(A[${p.variance("c")}] + ${f32Lit(eps)});
  A[${ctx.at(y, "b", "e")}] = (A[${ctx.at(x, "b", "e")}] - A[${p.mean("c")}]) / sd * A[${ctx.w(p.gamma, "c")}] + A[${ctx.w(p.beta, "c")}];`,
  );
}

/** Its input gradient on fixed statistics: dx = dy * gamma / sqrt(var + eps). */
export function batchnormGradInput(ctx: GradContext, eps: number, C: number, per: number, dy: number, gamma: Weight, variance: Weight, dx: number): WgslKernel {
  return items(
    "batchnorm_grad_input",
    C * per,
    true,
    `  let c = e / ${u(per)};
  A[${ctx.at(dx, "b", "e")}] = A[${ctx.at(dy, "b", "e")}] * A[${ctx.w(gamma, "c")}] / sqrt(A[${ctx.w(variance, "c")}] + ${f32Lit(eps)});`,
  );
}

/** gamma's gradient, summed over the batch: dy * (x - mean) / sqrt(var + eps) over every position, a workgroup per channel. */
export function batchnormGradGamma(ctx: GradContext, eps: number, C: number, per: number, x: number, dy: number, mean: Index, variance: Index, dg: number): WgslKernel {
  return groups(
    "batchnorm_grad_gamma",
    C,
    per,
    `    let mu = A[${mean("e")}];
    let sd = sqrt(A[${variance("e")}] + ${f32Lit(eps)});`,
    `    acc += A[${ctx.at(dy, "b", `e * ${u(per)} + j`)}] * (A[${ctx.at(x, "b", `e * ${u(per)} + j`)}] - mu) / sd;`,
    ctx.at(dg, "0u", "e"),
  );
}

/** The arena index of element i of a per-channel tensor (a weight, or batch statistics). */
export type Index = (i: string) => string;

/** The arena index of element i of the 4 x C batch statistics at `at`: part 0 means, 1 variances, 2 and 3 the gradient's sums. */
export function statsIndex(at: number, C: number, part: number): Index {
  return (i) => `(${u(at + part * C)} + (${i}))`;
}

/**
 * Batch norm in training mode: the batch's per-channel mean, then its biased variance about
 * that mean (two passes, as the reference), each a workgroup per channel summing over every
 * sample and position; `batchnormForward` then normalises by them.
 */
export function batchStatistics(ctx: GradContext, C: number, per: number, x: number, at: number): WgslKernel[] {
  const n = `(1.0 / f32(U.nb * ${u(per)}))`;
  const xAt = `A[${ctx.at(x, "b", `e * ${u(per)} + j`)}]`;
  const mean = statsIndex(at, C, 0);
  return [
    groups("batchnorm_mean", C, per, `    let inv = ${n};`, `    acc += ${xAt} * inv;`, mean("e")),
    groups("batchnorm_variance", C, per, `    let inv = ${n};
    let mu = A[${mean("e")}];`, `    let d = ${xAt} - mu;
    acc += d * d * inv;`, statsIndex(at, C, 1)("e")),
  ];
}

/**
 * Its input gradient over the batch (reference/grad/pointwise-grad.ts batchnormBatchGradInput):
 * the channel's sums of g = dy * gamma and of g * xhat over the batch, a workgroup per channel
 * each, then dx = (g - sum(g) / N - xhat * sum(g * xhat) / N) / sd elementwise.
 */
export function batchnormBatchGradInput(ctx: GradContext, eps: number, C: number, per: number, x: number, dy: number, gamma: Weight, at: number, dx: number): WgslKernel[] {
  const [mean, variance, sg, sgx] = [0, 1, 2, 3].map((k) => statsIndex(at, C, k));
  const setup = `    let gm = A[${ctx.w(gamma, "e")}];
    let mu = A[${mean("e")}];
    let sd = sqrt(A[${variance("e")}] + ${f32Lit(eps)});`;
  const g = `    let g = A[${ctx.at(dy, "b", `e * ${u(per)} + j`)}] * gm;`;
  return [
    groups("batchnorm_grad_sum", C, per, setup, `${g}
    acc += g;`, sg("e")),
    groups("batchnorm_grad_sum_xhat", C, per, setup, `${g}
    acc += g * (A[${ctx.at(x, "b", `e * ${u(per)} + j`)}] - mu) / sd;`, sgx("e")),
    items(
      "batchnorm_batch_grad_input",
      C * per,
      true,
      `  let c = e / ${u(per)};
  let n = f32(U.nb * ${u(per)});
  let sd = sqrt(A[${variance("c")}] + ${f32Lit(eps)});
  let xhat = (A[${ctx.at(x, "b", "e")}] - A[${mean("c")}]) / sd;
  A[${ctx.at(dx, "b", "e")}] = (A[${ctx.at(dy, "b", "e")}] * A[${ctx.w(gamma, "c")}] - A[${sg("c")}] / n - xhat * A[${sgx("c")}] / n) / sd;`,
    ),
  ];
}

/**
 * The running statistics follow the batch's (PyTorch's rule: momentum 0.1, the variance made
 * unbiased by N / (N - 1)); like the update, nothing when the step's check failed.
 */
export function batchnormRunning(ctx: GradContext, C: number, per: number, at: number, mean: Weight, variance: Weight): WgslKernel {
  return items(
    "batchnorm_running",
    C,
    false,
    `  if (A[1] != 0.0) { return; }
  let n = f32(U.nb * ${u(per)});
  let unbias = select(1.0, n / (n - 1.0), n > 1.0);
  A[${ctx.w(mean, "e")}] = 0.9 * A[${ctx.w(mean, "e")}] + 0.1 * A[${statsIndex(at, C, 0)("e")}];
  A[${ctx.w(variance, "e")}] = 0.9 * A[${ctx.w(variance, "e")}] + 0.1 * A[${statsIndex(at, C, 1)("e")}] * unbias;`,
  );
}
