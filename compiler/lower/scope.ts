// Names in the language are bound once (SSA). A scope maps a name to what it denotes: a
// tensor value, a compile-time constant (a block's numeric parameter), a named constant
// tensor (read from the weights file), or a layer (a label,
// applied again to share its weights). Repeat bodies and blocks get scopes of their own.

import type { Expr } from "../../dsl/ast.js";
import type { Weight, WeightRole } from "../ir/graph.js";
import type { Dim } from "../ir/dim.js";
import type { Op } from "../ir/ops.js";
import type { Span } from "../source.js";
import type { ConstResolver } from "./args.js";
import type { CallExpr } from "../../dsl/ast.js";

/** A value id that stands for "an error was already reported here": no cascade of messages. */
export const POISON = -1;

export interface LayerInstance {
  readonly name: string;
  readonly builtin: string;
  readonly call: CallExpr;
  readonly resolve: ConstResolver;
  readonly op: Op;
  readonly weights: Partial<Record<WeightRole, Weight>>;
  readonly firstInput: readonly Dim[];
}

/** A named constant tensor (`const k = f32[..] from "name"`): its weight and per-sample shape. */
export interface ConstTensor {
  readonly kind: "constant";
  readonly name: string;
  readonly weight: Weight;
  readonly shape: readonly number[];
  readonly span: Span;
}

export type Binding =
  | ConstTensor
  | { readonly kind: "tensor"; readonly value: number; readonly span: Span }
  | { readonly kind: "const"; readonly expr: Expr; readonly span: Span }
  | { readonly kind: "layer"; readonly layer: LayerInstance; readonly span: Span };

export class Scope {
  private readonly names = new Map<string, Binding>();

  constructor(readonly parent?: Scope) {}

  lookup(name: string): Binding | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name);
  }

  /** Binds a name; returns the earlier binding instead if the name is taken (here or outside). */
  bind(name: string, b: Binding): Binding | undefined {
    const earlier = this.lookup(name);
    if (earlier) return earlier;
    this.names.set(name, b);
    return undefined;
  }

  allNames(): string[] {
    return [...this.names.keys(), ...(this.parent?.allNames() ?? [])];
  }
}
