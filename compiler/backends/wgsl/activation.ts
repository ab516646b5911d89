// Elementwise nonlinearities, used twice as in the WASM backend: as an activation step (one
// invocation per element) and as the one shared epilogue snippet every kernel applies to its
// value before the store (fusion: conv + relu in one pass over memory). One definition for
// both, so fused and unfused networks compute the same numbers. sigmoid and tanh go through
// the prelude's overflow-free forms: WGSL's exp overflows to inf for arguments past ~88, and
// a built-in tanh written as sinh/cosh returns NaN there.

import { type ActivationFn, type ActivationOp, assertNever } from "../../ir/ops.js";
import type { Epilogue, Step } from "../../plan/plan.js";
import { f32Lit } from "./prelude.js";
import { elementwiseRanges, type KernelSpec, type Program, type StepContext } from "./program.js";

/** f(v) as a WGSL f32 expression; `v` must be a plain identifier (it may be used twice). */
export function activate(f: ActivationFn, alpha: number, v: string, beta = 0): string {
  switch (f) {
    case "relu":
      return `max(${v}, 0.0)`;
    case "leaky_relu":
      return `select(${v}, ${f32Lit(alpha)} * ${v}, ${v} < 0.0)`;
    case "sigmoid":
      return `sigmoid_safe(${v})`;
    case "tanh":
      return `tanh_safe(${v})`;
    case "identity":
      return v;
    case "clip":
      return `min(max(${v}, ${f32Lit(alpha)}), ${f32Lit(beta)})`;
    case "hardsigmoid":
      return `clamp(${f32Lit(alpha)} * ${v} + ${f32Lit(beta)}, 0.0, 1.0)`;
    case "hardswish":
      return `(${v} * clamp(${v} / 6.0 + 0.5, 0.0, 1.0))`;
    case "elu":
      return `select(${v}, ${f32Lit(alpha)} * (exp(min(${v}, 0.0)) - 1.0), ${v} < 0.0)`;
    case "selu":
      return `(${f32Lit(beta)} * select(${v}, ${f32Lit(alpha)} * (exp(min(${v}, 0.0)) - 1.0), ${v} <= 0.0))`;
    case "exp":
      return `exp(${v})`;
    case "log":
      return `log(${v})`;
    case "abs":
      return `abs(${v})`;
    case "neg":
      return `(-${v})`;
    case "sqrt":
      return `sqrt(${v})`;
    case "reciprocal":
      return `(1.0 / ${v})`;
    case "pow":
      // WGSL's pow is undefined for a negative base: whole exponents take |v| and the sign.
      if (alpha === 2) return `(${v} * ${v})`;
      if (alpha === 1) return v;
      if (Number.isInteger(alpha)) return `(pow(abs(${v}), ${f32Lit(alpha)})${alpha % 2 !== 0 ? ` * sign(${v})` : ""})`;
      return `pow(${v}, ${f32Lit(alpha)})`;
    default:
      return assertNever(f);
  }
}

/**
 * The shared epilogue: statements that take `value` (an f32 expression) through the step's
 * epilogue (activations, and residual adds of step input k, read by `residual(k)` at the
 * value's own index) and store it with `store` (a function of the final expression). Each
 * stage gets its own `let`, so an expression is never evaluated twice.
 */
export function epilogue(list: readonly Epilogue[], value: string, store: (v: string) => string, residual?: (input: number) => string, tag = "ep"): string {
  const lines: string[] = [`let ${tag}0 = ${value};`];
  list.forEach((e, k) => {
    switch (e.kind) {
      case "activation":
        lines.push(`let ${tag}${k + 1} = ${activate(e.fn, e.alpha, `${tag}${k}`, e.beta)};`);
        return;
      case "add":
        if (!residual) throw new Error("internal error: a residual add in an epilogue without an index to read it at");
        lines.push(`let ${tag}${k + 1} = ${tag}${k} + ${residual(e.input)};`);
        return;
      default:
        return assertNever(e);
    }
  });
  lines.push(store(`${tag}${list.length}`));
  return lines.join("\n");
}

/** The epilogue, then the store at output index `index` (residuals read at the same index). */
export function finish(p: Program, list: readonly Epilogue[], value: string, index: string): string {
  return epilogue(list, value, (v) => `${p.at("y", index)} = ${v};`, (k) => p.at(`r${k}`, index));
}

/** y[i] = epilogue(f(x[i])). */
export function activationKernels(ctx: StepContext, op: ActivationOp): KernelSpec[] {
  const step: Step = ctx.step;
  const x = ctx.input(0, "x");
  const y = ctx.output();
  const spec: KernelSpec = {
    family: "activation",
    workgroupSize: 256,
    itemsPer: "invocation",
    items: y.elements,
    tensors: [x, y],
    body: (p: Program) =>
      [`let v = ${p.at("x", "i")};`, finish(p, [{ kind: "activation", fn: op.fn, alpha: op.alpha, beta: op.beta }, ...step.epilogue], "v", "i")].join("\n"),
    ranges: elementwiseRanges(x.elements, y.elements, 0),
  };
  return [spec];
}
