// The abstract syntax tree the parser's visitor builds from Chevrotain's CST. It is syntax
// only: no name resolution, no op knowledge. Every node carries a span into the source so
// that any later phase can point at it.

import type { Span } from "../compiler/source.js";

export interface Ident {
  readonly kind: "ident";
  readonly name: string;
  readonly span: Span;
}

/** `5x5`, `3x3x3`: one number per spatial axis. A plain `5` is a NumberExpr. */
export interface SizeExpr {
  readonly kind: "size";
  readonly dims: readonly number[];
  readonly span: Span;
}

export interface NumberExpr {
  readonly kind: "number";
  readonly value: number;
  /** True when written without `.` or exponent (`6`, not `6.0`). */
  readonly isInteger: boolean;
  readonly span: Span;
}

export interface StringExpr {
  readonly kind: "string";
  readonly value: string;
  readonly span: Span;
}

export interface BoolExpr {
  readonly kind: "bool";
  readonly value: boolean;
  readonly span: Span;
}

/** A bare name: a value (`c1`), an op without arguments (`relu`), a label (`conv1`), a keyword-like argument value (`same`, `none`). */
export interface NameExpr {
  readonly kind: "name";
  readonly name: Ident;
  readonly span: Span;
}

/** `-x`: only numbers are meaningful operands, but the grammar accepts any primary. */
export interface NegExpr {
  readonly kind: "neg";
  readonly operand: Expr;
  readonly span: Span;
}

export interface ListExpr {
  readonly kind: "list";
  readonly items: readonly Expr[];
  readonly span: Span;
}

export interface Arg {
  /** Present for named arguments (`pad: same`). */
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `f(a, b, k: v)`; `label: f(...)` sets `label`. `label: f` (no parentheses) has `args` empty and `hasParens` false. */
export interface CallExpr {
  readonly kind: "call";
  readonly callee: Ident;
  readonly args: readonly Arg[];
  readonly hasParens: boolean;
  readonly label?: Ident;
  readonly span: Span;
}

/** `input |> stage`: the stage is a CallExpr (possibly labelled, possibly without parentheses) or a NameExpr. */
export interface PipeExpr {
  readonly kind: "pipe";
  readonly input: Expr;
  readonly stage: CallExpr | NameExpr;
  readonly span: Span;
}

export interface BinaryExpr {
  readonly kind: "binary";
  /** `a - b` is a + neg(b) and `a / b` is a * reciprocal(b) in the IR. */
  readonly op: "+" | "*" | "-" | "/";
  readonly left: Expr;
  readonly right: Expr;
  /** Span of the operator token, for "mismatched shapes" diagnostics. */
  readonly opSpan: Span;
  readonly span: Span;
}

/** `repeat N from init as prev { stmts...; result }` */
export interface RepeatExpr {
  readonly kind: "repeat";
  readonly count: Expr;
  readonly from: Expr;
  readonly as: Ident;
  readonly body: readonly Stmt[];
  readonly result: Expr;
  readonly span: Span;
}

export type Expr =
  | SizeExpr
  | NumberExpr
  | StringExpr
  | BoolExpr
  | NameExpr
  | NegExpr
  | ListExpr
  | CallExpr
  | PipeExpr
  | BinaryExpr
  | RepeatExpr;

/** `name = expr` */
export interface AssignStmt {
  readonly kind: "assign";
  readonly target: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `weights "file.safetensors"` inside a network. */
export interface WeightsStmt {
  readonly kind: "weights";
  readonly path: StringExpr;
  readonly span: Span;
}

/** `const k = f32[C, H, W] from "name"`: a tensor of fixed numbers read from the weights file. */
export interface ConstStmt {
  readonly kind: "const";
  readonly target: Ident;
  readonly type: TensorTypeExpr;
  /** The tensor's name in the weights file. */
  readonly source: StringExpr;
  readonly span: Span;
}

export type Stmt = AssignStmt | WeightsStmt | ConstStmt;

/** A dimension of an input type: a number or a symbol (`H`). */
export type DimLit =
  | { readonly kind: "number"; readonly value: number; readonly span: Span }
  | { readonly kind: "symbol"; readonly name: string; readonly span: Span };

/** `f32[1, 28, 28]` */
export interface TensorTypeExpr {
  readonly dtype: Ident;
  readonly dims: readonly DimLit[];
  readonly span: Span;
}

export interface Param {
  readonly name: Ident;
  readonly type: TensorTypeExpr;
  readonly span: Span;
}

export interface NetworkDecl {
  readonly kind: "network";
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly outputs: readonly Ident[];
  readonly body: readonly Stmt[];
  readonly span: Span;
}

/** `block name(x, c) { stmts...; return expr }`: parameters are untyped (tensors or constants). */
export interface BlockDecl {
  readonly kind: "block";
  readonly name: Ident;
  readonly params: readonly Ident[];
  readonly body: readonly Stmt[];
  readonly result: Expr;
  readonly span: Span;
}

/** `train net { setting = expr ... }`: how to train a network (docs/training.md; read by compiler/train/config.ts). */
export interface TrainDecl {
  readonly kind: "train";
  /** The network it trains (called `name` like every item's, which tools list by). */
  readonly name: Ident;
  readonly body: readonly Stmt[];
  readonly span: Span;
}

export interface Program {
  readonly items: readonly (NetworkDecl | BlockDecl | TrainDecl)[];
  readonly span: Span;
}
