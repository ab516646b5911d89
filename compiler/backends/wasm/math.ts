// Transcendental functions. This first version imports them from the host (`env.exp`,
// `env.tanh`, `env.pow`, `env.log`, f64 in and out: Math.* in JavaScript), which is exact
// to the reference's own Math.* and costs a call per element. They are kept in this one
// place so that a later version can replace the imports with in-module polynomials without
// touching any kernel. runtime/wasm.ts supplies the same four names.

import { binaryen } from "./binaryen.js";
import type { Expr, Module } from "./builder.js";

export type MathFn = "exp" | "tanh" | "pow" | "log";

const arity: Record<MathFn, number> = { exp: 1, tanh: 1, pow: 2, log: 1 };

/** The imports a module needs, declared once each, on first use. */
export class MathImports {
  private readonly used = new Set<MathFn>();

  constructor(private readonly m: Module) {}

  private call(name: MathFn, args: Expr[]): Expr {
    if (!this.used.has(name)) {
      this.used.add(name);
      const params = binaryen.createType(Array.from({ length: arity[name] }, () => binaryen.f64));
      this.m.addFunctionImport(`math_${name}`, "env", name, params, binaryen.f64);
    }
    return this.m.call(`math_${name}`, args, binaryen.f64);
  }

  exp(x: Expr): Expr {
    return this.call("exp", [x]);
  }

  tanh(x: Expr): Expr {
    return this.call("tanh", [x]);
  }

  pow(x: Expr, y: Expr): Expr {
    return this.call("pow", [x, y]);
  }

  log(x: Expr): Expr {
    return this.call("log", [x]);
  }
}
