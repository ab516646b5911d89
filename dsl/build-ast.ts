// CST -> AST: a Chevrotain visitor with one method per grammar rule, giving every node a
// span of source offsets. After a syntax error the parser hands over partial CST nodes
// (recovery): every method tolerates missing children and returns undefined for a node it
// cannot build, and its callers skip undefined pieces. Such a tree is only ever looked at
// to report more errors; the compiler does not lower a file with syntax errors.

import type { CstChildrenDictionary, CstElement, CstNode, IToken } from "chevrotain";
import type { Span } from "../compiler/source.js";
import { joinSpans } from "../compiler/source.js";
import type {
  Arg,
  BlockDecl,
  CallExpr,
  DimLit,
  Expr,
  Ident,
  NameExpr,
  NetworkDecl,
  Param,
  Program,
  RepeatExpr,
  Stmt,
  StringExpr,
  TensorTypeExpr,
  TrainDecl,
} from "./ast.js";
import { parser } from "./parser.js";

type Ctx = CstChildrenDictionary;

function isToken(e: CstElement): e is IToken {
  return "image" in e;
}

/** The real tokens under `key`: tokens invented by recovery (a missing `)`) have no place. */
function tokens(ctx: Ctx, key: string): IToken[] {
  return (ctx[key] ?? []).filter((e): e is IToken => isToken(e) && !e.isInsertedInRecovery);
}

function token(ctx: Ctx, key: string, i = 0): IToken | undefined {
  return tokens(ctx, key)[i];
}

function nodes(ctx: Ctx, key: string): CstNode[] {
  return (ctx[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

function tokenSpan(t: IToken): Span {
  return { start: t.startOffset, end: t.startOffset + t.image.length };
}

/** A CST node's extent; undefined when recovery left it without real tokens. */
function nodeSpan(n: CstNode | undefined): Span | undefined {
  const loc = n?.location;
  if (!loc || !Number.isFinite(loc.startOffset) || loc.endOffset === undefined || !Number.isFinite(loc.endOffset)) return undefined;
  return { start: loc.startOffset, end: loc.endOffset + 1 };
}

function ident(t: IToken | undefined): Ident | undefined {
  return t && { kind: "ident", name: t.image, span: tokenSpan(t) };
}

function defined<T>(x: T | undefined): x is T {
  return x !== undefined;
}

/** `"a\"b"` -> `a"b`. Unknown escapes keep their character; parse.ts reports them. */
function decodeString(image: string): string {
  const body = image.slice(1, image.endsWith('"') && image.length > 1 ? -1 : undefined);
  return body.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

// Chevrotain hands a visitor method only the node's children: the node's own span travels
// as the visitor's parameter.
const BaseVisitor = parser.getBaseCstVisitorConstructor<Span | undefined, unknown>();

class AstBuilder extends BaseVisitor {
  constructor() {
    super();
    this.validateVisitor();
  }

  /** Visits the i-th child node under `key`. The visitor's result type is the rule's. */
  private one<T>(ctx: Ctx, key: string, i = 0): T | undefined {
    const n = nodes(ctx, key)[i];
    return n === undefined ? undefined : (this.visit(n, nodeSpan(n)) as T | undefined);
  }

  private all<T>(ctx: Ctx, key: string): T[] {
    return nodes(ctx, key)
      .map((n) => this.visit(n, nodeSpan(n)) as T | undefined)
      .filter(defined);
  }

  program(ctx: Ctx): Program["items"][number][] {
    // Networks, blocks and train declarations sit under separate keys in the CST: restore source order.
    type Item = Program["items"][number];
    const items = [...this.all<Item>(ctx, "network"), ...this.all<Item>(ctx, "block"), ...this.all<Item>(ctx, "train")];
    return items.sort((a, b) => a.span.start - b.span.start);
  }

  train(ctx: Ctx, own?: Span): TrainDecl | undefined {
    const name = ident(token(ctx, "Identifier"));
    if (!name) return undefined;
    return { kind: "train", name, body: this.all<Stmt>(ctx, "stmt"), span: own ?? name.span };
  }

  network(ctx: Ctx, own?: Span): NetworkDecl | undefined {
    const name = ident(token(ctx, "Identifier"));
    if (!name) return undefined;
    return {
      kind: "network",
      name,
      params: this.all<Param>(ctx, "param"),
      outputs: this.one<Ident[]>(ctx, "outputs") ?? [],
      body: this.all<Stmt>(ctx, "stmt"),
      span: own ?? name.span,
    };
  }

  param(ctx: Ctx): Param | undefined {
    const name = ident(token(ctx, "Identifier"));
    const type = this.one<TensorTypeExpr>(ctx, "tensorType");
    if (!name || !type) return undefined;
    return { name, type, span: joinSpans(name.span, type.span) };
  }

  tensorType(ctx: Ctx): TensorTypeExpr | undefined {
    const dtype = ident(token(ctx, "Identifier"));
    if (!dtype) return undefined;
    const dims = this.all<DimLit>(ctx, "dim");
    const close = token(ctx, "RBracket");
    const last = close ? tokenSpan(close) : dims[dims.length - 1]?.span;
    return { dtype, dims, span: last ? joinSpans(dtype.span, last) : dtype.span };
  }

  dim(ctx: Ctx): DimLit | undefined {
    const n = token(ctx, "NumberLiteral");
    if (n) return { kind: "number", value: Number(n.image), span: tokenSpan(n) };
    const s = token(ctx, "Identifier");
    return s && { kind: "symbol", name: s.image, span: tokenSpan(s) };
  }

  outputs(ctx: Ctx): Ident[] {
    return tokens(ctx, "Identifier").map(ident).filter(defined);
  }

  block(ctx: Ctx, own?: Span): BlockDecl | undefined {
    const [nameTok, ...paramToks] = tokens(ctx, "Identifier");
    const name = ident(nameTok);
    const result = this.one<Expr>(ctx, "expression");
    if (!name || !result) return undefined;
    return {
      kind: "block",
      name,
      params: paramToks.map(ident).filter(defined),
      body: this.all<Stmt>(ctx, "stmt"),
      result,
      span: own ?? joinSpans(name.span, result.span),
    };
  }

  stmt(ctx: Ctx): Stmt | undefined {
    return this.one<Stmt>(ctx, "assign") ?? this.one<Stmt>(ctx, "weightsStmt") ?? this.one<Stmt>(ctx, "constStmt");
  }

  constStmt(ctx: Ctx): Stmt | undefined {
    const kw = token(ctx, "Const");
    const target = ident(token(ctx, "Identifier"));
    const type = this.one<TensorTypeExpr>(ctx, "tensorType");
    const str = token(ctx, "StringLiteral");
    if (!kw || !target || !type || !str) return undefined;
    const source: StringExpr = { kind: "string", value: decodeString(str.image), span: tokenSpan(str) };
    return { kind: "const", target, type, source, span: joinSpans(tokenSpan(kw), source.span) };
  }

  assign(ctx: Ctx): Stmt | undefined {
    const target = ident(token(ctx, "Identifier"));
    const value = this.one<Expr>(ctx, "expression");
    if (!target || !value) return undefined;
    return { kind: "assign", target, value, span: joinSpans(target.span, value.span) };
  }

  weightsStmt(ctx: Ctx): Stmt | undefined {
    const kw = token(ctx, "Weights");
    const str = token(ctx, "StringLiteral");
    if (!kw || !str) return undefined;
    const path: StringExpr = { kind: "string", value: decodeString(str.image), span: tokenSpan(str) };
    return { kind: "weights", path, span: joinSpans(tokenSpan(kw), path.span) };
  }

  // `x |> f |> g` is pipe(pipe(x, f), g): fold left.
  expression(ctx: Ctx): Expr | undefined {
    let e = this.one<Expr>(ctx, "sum");
    for (const stage of this.all<CallExpr | NameExpr>(ctx, "stage")) {
      e = e && { kind: "pipe", input: e, stage, span: joinSpans(e.span, stage.span) };
    }
    return e;
  }

  stage(ctx: Ctx): CallExpr | NameExpr | undefined {
    const ids = tokens(ctx, "Identifier").map(ident).filter(defined);
    const labelled = token(ctx, "Colon") !== undefined;
    const label = labelled ? ids[0] : undefined;
    const callee = labelled ? ids[1] : ids[0];
    if (!callee) return undefined;
    const argsNode = nodes(ctx, "callArgs")[0];
    if (!label && !argsNode) return { kind: "name", name: callee, span: callee.span };
    const start = label ?? callee;
    return {
      kind: "call",
      callee,
      args: this.one<Arg[]>(ctx, "callArgs") ?? [],
      hasParens: argsNode !== undefined,
      ...(label ? { label } : {}),
      span: joinSpans(start.span, nodeSpan(argsNode) ?? callee.span),
    };
  }

  callArgs(ctx: Ctx): Arg[] {
    return this.all<Arg>(ctx, "arg");
  }

  arg(ctx: Ctx): Arg | undefined {
    const value = this.one<Expr>(ctx, "expression");
    if (!value) return undefined;
    const name = ident(token(ctx, "Identifier"));
    return name ? { name, value, span: joinSpans(name.span, value.span) } : { value, span: value.span };
  }

  sum(ctx: Ctx): Expr | undefined {
    return this.binary(ctx, "product", ["Plus", "Minus"]);
  }

  product(ctx: Ctx): Expr | undefined {
    return this.binary(ctx, "unary", ["Star", "Slash"]);
  }

  /** Left-associative chain `a op b op c`; operands lost to recovery are left out. */
  private binary(ctx: Ctx, operandKey: string, opKeys: readonly string[]): Expr | undefined {
    const operands = nodes(ctx, operandKey).map((n) => this.visit(n, nodeSpan(n)) as Expr | undefined);
    // The operators in source order (one token list per kind).
    const ops = opKeys.flatMap((k) => tokens(ctx, k)).sort((a, b) => a.startOffset - b.startOffset);
    let e = operands[0];
    for (let i = 1; i < operands.length; i++) {
      const right = operands[i];
      const opTok = ops[i - 1];
      if (!right) continue;
      if (!e || !opTok) {
        e = e ?? right;
        continue;
      }
      const op = opTok.image as "+" | "*" | "-" | "/";
      e = { kind: "binary", op, left: e, right, opSpan: tokenSpan(opTok), span: joinSpans(e.span, right.span) };
    }
    return e;
  }

  unary(ctx: Ctx): Expr | undefined {
    const minus = token(ctx, "Minus");
    if (!minus) return this.one<Expr>(ctx, "primary");
    const operand = this.one<Expr>(ctx, "unary");
    return operand && { kind: "neg", operand, span: joinSpans(tokenSpan(minus), operand.span) };
  }

  primary(ctx: Ctx): Expr | undefined {
    const num = token(ctx, "NumberLiteral");
    if (num) return { kind: "number", value: Number(num.image), isInteger: /^\d+$/.test(num.image), span: tokenSpan(num) };
    const size = token(ctx, "SizeLiteral");
    if (size) return { kind: "size", dims: size.image.split("x").map(Number), span: tokenSpan(size) };
    const str = token(ctx, "StringLiteral");
    if (str) return { kind: "string", value: decodeString(str.image), span: tokenSpan(str) };
    const bool = token(ctx, "True") ?? token(ctx, "False");
    if (bool) return { kind: "bool", value: bool.tokenType.name === "True", span: tokenSpan(bool) };
    const nested = this.one<Expr>(ctx, "list") ?? this.one<Expr>(ctx, "parenthesized") ?? this.one<Expr>(ctx, "repeat");
    if (nested) return nested;
    const name = ident(token(ctx, "Identifier"));
    if (!name) return undefined;
    const argsNode = nodes(ctx, "callArgs")[0];
    if (!argsNode) return { kind: "name", name, span: name.span };
    const args = this.one<Arg[]>(ctx, "callArgs") ?? [];
    return { kind: "call", callee: name, args, hasParens: true, span: joinSpans(name.span, nodeSpan(argsNode) ?? name.span) };
  }

  list(ctx: Ctx, own?: Span): Expr | undefined {
    const items = this.all<Expr>(ctx, "expression");
    const span = own ?? items.map((i) => i.span).reduce<Span | undefined>((a, b) => (a ? joinSpans(a, b) : b), undefined);
    return span && { kind: "list", items, span };
  }

  // No node of its own: the inner expression, its span widened to the parentheses so that a
  // caret under `(a |> f) + b` covers what the user sees as one operand.
  parenthesized(ctx: Ctx, own?: Span): Expr | undefined {
    const inner = this.one<Expr>(ctx, "expression");
    return inner && own ? { ...inner, span: joinSpans(inner.span, own) } : inner;
  }

  repeat(ctx: Ctx, own?: Span): RepeatExpr | undefined {
    const count = this.one<Expr>(ctx, "expression", 0);
    const from = this.one<Expr>(ctx, "expression", 1);
    const result = this.one<Expr>(ctx, "expression", 2);
    const as = ident(token(ctx, "Identifier"));
    if (!count || !from || !as || !result) return undefined;
    const body = this.all<Stmt>(ctx, "stmt");
    return { kind: "repeat", count, from, as, body, result, span: own ?? joinSpans(count.span, result.span) };
  }

  build(cst: CstNode, textLength: number): Program {
    return { items: this.program(cst.children), span: { start: 0, end: textLength } };
  }
}

/** One builder, reused (it holds no state between files). */
export const astBuilder = new AstBuilder();
