// Elementwise nonlinearities, used twice: as an activation step (one loop over the
// elements) and as the epilogue every kernel applies to a value before storing it (fusion:
// conv + relu is one pass over memory). One definition serves both, so a fused and an
// unfused network compute the same numbers. The epilogue's other item, a residual add, is
// a load of the operand at the value's index (the caller knows where that is) and an add.

import type { ActivationFn, ActivationOp } from "../../ir/ops.js";
import { assertNever } from "../../ir/ops.js";
import type { Epilogue } from "../../plan/plan.js";
import type { Expr, Fn } from "./builder.js";
import type { KernelContext } from "./context.js";
import { product } from "./dims.js";
import type { MathImports } from "./math.js";

/** f(x) for an f64 `x`. */
export function activate(fn: Fn, math: MathImports, f: ActivationFn, alpha: number, x: Expr, beta = 0): Expr {
  const m = fn.m;
  switch (f) {
    case "relu":
      return m.f64.max(x, m.f64.const(0));
    case "leaky_relu": {
      // x is used three times: computed once into a local, here, before the caller's store.
      const v = fn.f64(x);
      return m.select(m.f64.lt(v.get(), m.f64.const(0)), m.f64.mul(m.f64.const(alpha), v.get()), v.get());
    }
    case "sigmoid":
      return m.f64.div(m.f64.const(1), m.f64.add(m.f64.const(1), math.exp(m.f64.neg(x))));
    case "tanh":
      return math.tanh(x);
    case "identity":
      return x;
    case "clip":
      return m.f64.min(m.f64.max(x, m.f64.const(alpha)), m.f64.const(beta));
    case "hardsigmoid":
      return m.f64.min(m.f64.max(m.f64.add(m.f64.mul(x, m.f64.const(alpha)), m.f64.const(beta)), m.f64.const(0)), m.f64.const(1));
    case "hardswish": {
      const v = fn.f64(x);
      const gate = m.f64.min(m.f64.max(m.f64.add(m.f64.div(v.get(), m.f64.const(6)), m.f64.const(0.5)), m.f64.const(0)), m.f64.const(1));
      return m.f64.mul(v.get(), gate);
    }
    case "elu": {
      const v = fn.f64(x);
      const neg = m.f64.mul(m.f64.const(alpha), m.f64.sub(math.exp(m.f64.min(v.get(), m.f64.const(0))), m.f64.const(1)));
      return m.select(m.f64.lt(v.get(), m.f64.const(0)), neg, v.get());
    }
    case "selu": {
      const v = fn.f64(x);
      const neg = m.f64.mul(m.f64.const(alpha), m.f64.sub(math.exp(m.f64.min(v.get(), m.f64.const(0))), m.f64.const(1)));
      return m.f64.mul(m.f64.const(beta), m.select(m.f64.le(v.get(), m.f64.const(0)), neg, v.get()));
    }
    case "exp":
      return math.exp(x);
    case "log":
      return math.log(x);
    case "abs":
      return m.f64.abs(x);
    case "neg":
      return m.f64.neg(x);
    case "sqrt":
      return m.f64.sqrt(x);
    case "reciprocal":
      return m.f64.div(m.f64.const(1), x);
    case "pow":
      if (alpha === 2) {
        const v = fn.f64(x);
        return m.f64.mul(v.get(), v.get());
      }
      return math.pow(x, m.f64.const(alpha));
    default:
      return assertNever(f);
  }
}

/** The epilogue applied to `x` in order; `residual(i)` loads step input i at the value's index. */
export function applyEpilogue(fn: Fn, math: MathImports, epilogue: readonly Epilogue[], x: Expr, residual: (input: number) => Expr): Expr {
  return epilogue.reduce((v, e) => {
    switch (e.kind) {
      case "activation":
        return activate(fn, math, e.fn, e.alpha, v, e.beta);
      case "add":
        return fn.m.f64.add(v, residual(e.input));
      default:
        return assertNever(e);
    }
  }, x);
}

/** y[i] = epilogue(f(x[i])) over all elements. */
export function emitActivation(k: KernelContext, op: ActivationOp): void {
  const { fn } = k;
  const x = k.input(0);
  const y = k.output();
  fn.for(0, product(x.shape, fn), (i) => {
    fn.emit(y.store(i, k.finish(activate(fn, k.math, op.fn, op.alpha, x.load(i), op.beta), i)));
  });
}
