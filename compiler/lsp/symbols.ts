// Names in a parsed .cnn file and what each one refers to, for hover and go to definition.
// It is a walk of the syntax tree with the language's scoping (docs/language.md): a network's
// inputs, its statements' names and its labels share one scope; a block has its own (its
// parameters, statements and labels); a `repeat` body nests a scope inside its statement's
// (its step name and statements); blocks and networks are file-wide. A name is bound once, so a
// reference resolves to the single definition visible from it. The walk needs no lowering: it
// works on a file whose shapes are wrong, and only needs the parse to have succeeded.
//
// Long chains (`x |> a |> b ...`) are walked in a loop down their left spine, as the lowering
// does, so a file with 100,000 stages cannot overflow the stack here either.

import type { AssignStmt, BlockDecl, CallExpr, Expr, Ident, NetworkDecl, Program, RepeatExpr, Stmt } from "../../dsl/ast.js";
import type { Span } from "../source.js";

export type DefinitionKind = "network" | "block" | "input" | "value" | "label" | "parameter" | "step";

export interface Definition {
  readonly kind: DefinitionKind;
  readonly name: string;
  /** The defining identifier. */
  readonly span: Span;
  /** The network or block it belongs to (undefined for networks and blocks themselves). */
  readonly owner?: NetworkDecl | BlockDecl;
  /** A value's statement. */
  readonly stmt?: AssignStmt;
  /** A label's layer call. */
  readonly call?: CallExpr;
  /** A step name's repeat. */
  readonly repeat?: RepeatExpr;
  readonly decl?: NetworkDecl | BlockDecl;
}

/** An identifier in the source: a definition itself, a reference to one, or an op's name. */
export interface Occurrence {
  readonly name: string;
  readonly span: Span;
  /** What it names; undefined for a built-in op or a bare word (`same`, `relu`). */
  readonly definition?: Definition;
  /** A stage (`conv1: conv(...)`, `relu`, `x |> conv1`): the call or name whose layer it is. */
  readonly stage?: CallExpr | Extract<Expr, { kind: "name" }>;
  /** The statement it is in, for finding its layers in the graph. */
  readonly stmt?: AssignStmt;
}

/** A `weights "file"` path. */
export interface WeightsPath {
  readonly path: string;
  readonly span: Span;
}

export interface SymbolIndex {
  readonly occurrences: readonly Occurrence[];
  readonly weights: readonly WeightsPath[];
}

class Scope {
  private readonly names = new Map<string, Definition>();
  constructor(readonly parent?: Scope) {}
  lookup(name: string): Definition | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name);
  }
  bind(d: Definition): void {
    // Bound once: a second binding is the compiler's error; the first stays the definition.
    if (!this.lookup(d.name)) this.names.set(d.name, d);
  }
}

export function indexSymbols(program: Program): SymbolIndex {
  const occurrences: Occurrence[] = [];
  const weights: WeightsPath[] = [];
  const globals = new Scope();
  for (const item of program.items) {
    if (item.kind === "network") globals.bind({ kind: "network", name: item.name.name, span: item.name.span, decl: item });
    else if (item.kind === "block") globals.bind({ kind: "block", name: item.name.name, span: item.name.span, decl: item });
  }
  const define = (d: Definition, scope: Scope, stmt?: AssignStmt, stage?: CallExpr) => {
    scope.bind(d);
    occurrences.push({ name: d.name, span: d.span, definition: scope.lookup(d.name), stmt, stage });
  };
  const refer = (id: Ident, scope: Scope, stmt?: AssignStmt, stage?: Occurrence["stage"]) => {
    occurrences.push({ name: id.name, span: id.span, definition: scope.lookup(id.name), stmt, stage });
  };

  const call = (c: CallExpr, scope: Scope, owner: NetworkDecl | BlockDecl, stmt: AssignStmt | undefined) => {
    for (const a of c.args) expr(a.value, scope, owner, stmt);
    if (c.label) define({ kind: "label", name: c.label.name, span: c.label.span, owner, call: c }, scope, stmt, c);
    refer(c.callee, c.label ? globals : scope, stmt, c);
  };

  function expr(e: Expr, scope: Scope, owner: NetworkDecl | BlockDecl, stmt: AssignStmt | undefined): void {
    // The left spine of a chain, in a loop; each link's stage or right operand recursively.
    const spine: Expr[] = [];
    let base: Expr = e;
    while (base.kind === "pipe" || base.kind === "binary") {
      spine.push(base);
      base = base.kind === "pipe" ? base.input : base.left;
    }
    leaf(base, scope, owner, stmt);
    for (let i = spine.length - 1; i >= 0; i--) {
      const link = spine[i];
      if (link.kind === "pipe") {
        if (link.stage.kind === "call") call(link.stage, scope, owner, stmt);
        else refer(link.stage.name, scope, stmt, link.stage);
      } else if (link.kind === "binary") expr(link.right, scope, owner, stmt);
    }
  }

  function leaf(e: Expr, scope: Scope, owner: NetworkDecl | BlockDecl, stmt: AssignStmt | undefined): void {
    switch (e.kind) {
      case "name":
        refer(e.name, scope, stmt);
        return;
      case "call":
        call(e, scope, owner, stmt);
        return;
      case "neg":
        expr(e.operand, scope, owner, stmt);
        return;
      case "list":
        for (const it of e.items) expr(it, scope, owner, stmt);
        return;
      case "repeat": {
        expr(e.count, scope, owner, stmt);
        expr(e.from, scope, owner, stmt);
        const inner = new Scope(scope);
        define({ kind: "step", name: e.as.name, span: e.as.span, owner, repeat: e }, inner, stmt);
        statements(e.body, inner, owner);
        expr(e.result, inner, owner, stmt);
        return;
      }
      default:
        // Numbers, sizes, strings and booleans name nothing; a pipe or binary is handled by expr.
        if (e.kind === "pipe" || e.kind === "binary") expr(e, scope, owner, stmt);
    }
  }

  function statements(body: readonly Stmt[], scope: Scope, owner: NetworkDecl | BlockDecl): void {
    for (const s of body) {
      if (s.kind === "weights") {
        weights.push({ path: s.path.value, span: s.path.span });
        continue;
      }
      if (s.kind === "const") {
        define({ kind: "value", name: s.target.name, span: s.target.span, owner }, scope);
        continue;
      }
      expr(s.value, scope, owner, s);
      define({ kind: "value", name: s.target.name, span: s.target.span, owner, stmt: s }, scope, s);
    }
  }

  /** Each network's scope once walked: a `train` declaration's settings name its values and labels. */
  const networkScopes = new Map<string, Scope>();
  for (const item of program.items) {
    const own = globals.lookup(item.name.name);
    if (item.kind === "network") {
      occurrences.push({ name: item.name.name, span: item.name.span, definition: own?.decl === item ? own : undefined });
      const scope = new Scope(globals);
      for (const p of item.params) define({ kind: "input", name: p.name.name, span: p.name.span, owner: item }, scope);
      statements(item.body, scope, item);
      for (const o of item.outputs) refer(o, scope);
      if (!networkScopes.has(item.name.name)) networkScopes.set(item.name.name, scope);
    } else if (item.kind === "block") {
      occurrences.push({ name: item.name.name, span: item.name.span, definition: own?.decl === item ? own : undefined });
      const scope = new Scope(globals);
      for (const p of item.params) define({ kind: "parameter", name: p.name, span: p.span, owner: item }, scope);
      statements(item.body, scope, item);
      expr(item.result, scope, item, undefined);
    } else {
      // `train net { setting = expr }`: its name refers to the network, and the names in its
      // settings (`loss = cross_entropy(probs)`, `frozen = [conv1]`) to the network's values and
      // labels; the settings' own names are not bindings.
      refer(item.name, globals);
      const scope = networkScopes.get(item.name.name) ?? globals;
      const net = globals.lookup(item.name.name)?.decl;
      for (const st of item.body) {
        if (st.kind === "assign" && net?.kind === "network") expr(st.value, scope, net, undefined);
      }
    }
  }
  return { occurrences, weights };
}

/** The occurrence under an offset (a cursor just after a name counts as on it). */
export function occurrenceAt(index: SymbolIndex, offset: number): Occurrence | undefined {
  let best: Occurrence | undefined;
  for (const o of index.occurrences) {
    if (o.span.start <= offset && offset <= o.span.end && (!best || o.span.start > best.span.start)) best = o;
  }
  return best;
}
