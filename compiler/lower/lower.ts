// AST -> IR graph. The lowering is a small compile-time interpreter over the syntax tree:
// it resolves names, binds block parameters, unrolls `repeat`, gives every layer its name
// (label, or `<statement>.<position in its chain>`), checks arguments and infers shapes.
// Every user mistake becomes a diagnostic at the offending span; an expression that failed
// evaluates to POISON so that one mistake is reported once.

import type { Arg, BlockDecl, CallExpr, Expr, Ident, NameExpr, NetworkDecl, Program, Stmt } from "../../dsl/ast.js";
import type { DiagnosticLog } from "../diagnostics.js";
import type { Dim } from "../ir/dim.js";
import * as D from "../ir/dim.js";
import type { CompositeForm, Graph, GraphIO, Node, Value, Weight, WeightRole } from "../ir/graph.js";
import { type Op, type PadSpec, windowGeometry } from "../ir/ops.js";
import { inferShape } from "../ir/shapes.js";
import { reservedName, MAX_LAYERS, MAX_SIZE, MAX_TENSOR_ELEMENTS, MAX_WEIGHT_BYTES, showBytes, sizeProduct, sizeTooLarge } from "../limits.js";
import type { SourceFile, Span } from "../source.js";
import { didYouMean } from "../suggest.js";
import { ArgReader, type ConstResolver, describe, literalNumber } from "./args.js";
import { BUILTINS, type Builtin, type WeightDecl } from "./builtins.js";
import type { Expand, Expander } from "./composites.js";
import { binaryWithConstant, concatOperands, type ConstLowering, type DerivedWeight, extremumWithConstant, type Operand } from "./constants.js";
import { type Binding, type ConstTensor, type LayerInstance, POISON, Scope } from "./scope.js";

/** A weight whose numbers are still to be found (file, literal, named kernel or initialiser). */
export interface PendingWeight {
  readonly weight: Weight;
  readonly decl: WeightDecl;
  readonly layer: string;
  readonly span: Span;
  readonly resolve: ConstResolver;
}

export interface Lowered {
  readonly graph: Graph;
  readonly pending: PendingWeight[];
  /** `weights "file"` statements, relative to the source file. */
  readonly weightFiles: { path: string; span: Span }[];
  /** Runtime checks on symbolic sizes (output sizes that must be >= 1). */
  readonly checks: { dim: Dim; message: string }[];
}

interface Frame {
  readonly scope: Scope;
  /** Prefix of layer names inside a block use: `<stmt>.<pos>.`. */
  readonly prefix: string;
  /** The statement being evaluated and the position counter of its chain. */
  stmt: string;
  pos: number;
  /** Layers created by a call site, so that repeat steps share them. */
  readonly layers: Map<CallExpr, LayerInstance>;
  readonly depth: number;
}

const MAX_BLOCK_DEPTH = 32;
const MAX_REPEAT = 1000;
const CONST_KINDS = new Set<Expr["kind"]>(["number", "size", "string", "bool", "list", "neg"]);

export function lower(program: Program, file: SourceFile, log: DiagnosticLog, networkName?: string): Lowered | undefined {
  const networks = program.items.filter((i): i is NetworkDecl => i.kind === "network");
  const blocks = new Map<string, BlockDecl>();
  for (const item of program.items) {
    if (item.kind !== "block") continue;
    if (blocks.has(item.name.name)) log.error(`block '${item.name.name}' is defined twice`, file, item.name.span);
    else if (BUILTINS[item.name.name]) log.error(`block '${item.name.name}' has the name of a built-in op`, file, item.name.span);
    else blocks.set(item.name.name, item);
  }
  let net: NetworkDecl | undefined;
  if (networkName !== undefined) {
    net = networks.find((n) => n.name.name === networkName);
    if (!net) {
      log.error(`no network named '${networkName}' in this file${didYouMean(networkName, networks.map((n) => n.name.name))}`, file);
      return undefined;
    }
  } else if (networks.length === 1) net = networks[0];
  else if (networks.length === 0) {
    log.error("this file defines no network (expected `network name(input: f32[...]) -> output { ... }`)", file, program.span);
    return undefined;
  } else {
    log.error(`this file defines ${networks.length} networks (${networks.map((n) => n.name.name).join(", ")}); choose one`, file, networks[1].name.span);
    return undefined;
  }
  return new Lowering(file, log, blocks).network(net);
}

class Lowering {
  private readonly values: Value[] = [];
  private readonly nodes: Node[] = [];
  private readonly weights: Weight[] = [];
  private readonly weightNames = new Set<string>();
  private readonly pending: PendingWeight[] = [];
  private readonly weightFiles: { path: string; span: Span }[] = [];
  private readonly checks: { dim: Dim; message: string }[] = [];
  /** f32 values of all weights so far, held against MAX_WEIGHT_BYTES. */
  private weightValues = 0;
  private tooManyLayers = false;

  constructor(
    private readonly file: SourceFile,
    private readonly log: DiagnosticLog,
    private readonly blocks: Map<string, BlockDecl>,
  ) {}

  private error(message: string, span: Span, notes?: string[]): number {
    this.log.error(message, this.file, span, notes);
    return POISON;
  }

  /** Reports a mistake; for callers that return undefined on failure. */
  private fail(message: string, span: Span): undefined {
    this.log.error(message, this.file, span);
    return undefined;
  }

  private where(span: Span): string {
    const p = this.file.position(span.start);
    return `${p.line}:${p.col}`;
  }

  network(net: NetworkDecl): Lowered | undefined {
    const scope = new Scope();
    const inputs: GraphIO[] = [];
    const symbols: string[] = [];
    for (const p of net.params) {
      if (reservedName(p.name.name)) {
        this.error(`'${p.name.name}' cannot name an input: it is a property of every JavaScript object, so run()'s inputs could not hold it`, p.name.span);
        continue;
      }
      const shape = this.inputType(p.name, p.type, symbols);
      const id = shape ? this.newValue(shape, undefined, p.name.name) : POISON;
      const earlier = scope.bind(p.name.name, { kind: "tensor", value: id, span: p.name.span });
      if (earlier) this.error(`'${p.name.name}' is already bound`, p.name.span);
      else if (id !== POISON) inputs.push({ name: p.name.name, value: id, span: p.name.span });
    }
    const frame: Frame = { scope, prefix: "", stmt: "", pos: 0, layers: new Map(), depth: 0 };
    this.statements(net.body, frame);
    const outputs: GraphIO[] = [];
    for (const o of net.outputs) {
      const b = scope.lookup(o.name);
      if (reservedName(o.name)) this.error(`'${o.name}' cannot name an output: it is a property of every JavaScript object, so run()'s results could not hold it`, o.span);
      else if (!b) this.error(`output '${o.name}' is never bound${didYouMean(o.name, scope.allNames())}`, o.span);
      else if (b.kind === "constant") this.error(`output '${o.name}' is a constant; outputs are computed from the network's inputs`, o.span);
      else if (b.kind !== "tensor") this.error(`output '${o.name}' is not a tensor`, o.span);
      else if (b.value !== POISON) outputs.push({ name: o.name, value: b.value, span: o.span });
    }
    if (this.log.hasErrors) return undefined;
    const graph: Graph = {
      name: net.name.name,
      file: this.file,
      inputs,
      outputs,
      values: this.values,
      nodes: this.nodes,
      weights: this.weights,
      symbols,
    };
    return { graph, pending: this.pending, weightFiles: this.weightFiles, checks: this.checks };
  }

  private inputType(name: Ident, t: NetworkDecl["params"][number]["type"], symbols: string[]): Dim[] | undefined {
    if (t.dtype.name !== "f32") {
      this.error(`input '${name.name}' has element type '${t.dtype.name}'; only f32 is supported`, t.dtype.span);
      return undefined;
    }
    // One axis is a vector of features ([K], as after flatten: a dense head's input).
    if (t.dims.length < 1 || t.dims.length > 4) {
      this.error(`input '${name.name}' must have a channel axis and 0 to 3 spatial axes, like f32[3, 32, 32] or f32[64]; got ${t.dims.length} axes`, t.span);
      return undefined;
    }
    const shape: Dim[] = [];
    for (const [i, d] of t.dims.entries()) {
      if (d.kind === "number") {
        if (!Number.isInteger(d.value) || d.value < 1) {
          this.error(`sizes must be positive whole numbers, got ${d.value}`, d.span);
          return undefined;
        }
        const big = sizeTooLarge(d.value);
        if (big) {
          this.error(`input '${name.name}': ${big}`, d.span);
          return undefined;
        }
        shape.push(d.value);
      } else {
        if (i === 0) {
          this.error(`the channel count of input '${name.name}' must be a number, not the symbol '${d.name}'`, d.span);
          return undefined;
        }
        if (reservedName(d.name)) {
          this.error(`'${d.name}' cannot name a size: it is a property of every JavaScript object, so the sizes could not hold it`, d.span);
          return undefined;
        }
        if (!symbols.includes(d.name)) symbols.push(d.name);
        shape.push(D.sym(d.name));
      }
    }
    const values = leastElements(shape);
    if (values > MAX_TENSOR_ELEMENTS) {
      this.error(`input '${name.name}' of shape ${D.printShape(shape)} has ${values} values, more than the ${MAX_TENSOR_ELEMENTS} (${showBytes(4 * MAX_TENSOR_ELEMENTS)} of f32) a target can hold`, t.span);
      return undefined;
    }
    return shape;
  }

  private newValue(shape: readonly Dim[], producer: number | undefined, name: string): number {
    const id = this.values.length;
    this.values.push({ id, shape, producer, name });
    return id;
  }

  private statements(body: readonly Stmt[], frame: Frame): void {
    for (const s of body) {
      if (s.kind === "weights") {
        if (frame.depth > 0 || frame.scope.parent) this.error("`weights` belongs in the network's body, not in a block or repeat", s.span);
        else this.weightFiles.push({ path: s.path.value, span: s.path.span });
        continue;
      }
      if (s.kind === "const") {
        const c = frame.depth > 0 || frame.scope.parent ? this.fail("`const` belongs in the network's body, not in a block or repeat", s.span) : this.constTensor(s);
        if (!c) continue;
        const earlier = frame.scope.bind(s.target.name, c);
        if (earlier) this.error(`'${s.target.name}' is already bound; names are bound once`, s.target.span, [`first bound at ${this.where(earlier.span)}`]);
        continue;
      }
      frame.stmt = s.target.name;
      frame.pos = 0;
      let b: Binding;
      if (CONST_KINDS.has(s.value.kind)) b = { kind: "const", expr: this.resolver(frame.scope)(s.value), span: s.target.span };
      else b = { kind: "tensor", value: this.tensor(s.value, frame), span: s.target.span };
      const earlier = frame.scope.bind(s.target.name, b);
      if (earlier) {
        this.error(`'${s.target.name}' is already bound; names are bound once`, s.target.span, [
          `first bound at ${this.where(earlier.span)}`,
        ]);
      }
    }
  }

  /** `const k = f32[..] from "name"`: a weight read from the weights file under `name`. */
  private constTensor(s: Extract<Stmt, { kind: "const" }>): ConstTensor | undefined {
    const t = s.type;
    if (t.dtype.name !== "f32") return this.fail(`constant '${s.target.name}' has element type '${t.dtype.name}'; only f32 is supported`, t.dtype.span);
    if (t.dims.length < 1 || t.dims.length > 4) {
      return this.fail(`constant '${s.target.name}' must have a channel axis and 0 to 3 spatial axes, like f32[3, 32, 32] or f32[16, 1, 1]; got ${t.dims.length} axes`, t.span);
    }
    const shape: number[] = [];
    for (const d of t.dims) {
      if (d.kind === "symbol") return this.fail(`the sizes of constant '${s.target.name}' are numbers (its values are fixed), not the symbol '${d.name}'`, d.span);
      if (!Number.isInteger(d.value) || d.value < 1) return this.fail(`sizes must be positive whole numbers, got ${d.value}`, d.span);
      const big = sizeTooLarge(d.value);
      if (big) return this.fail(`constant '${s.target.name}': ${big}`, d.span);
      shape.push(d.value);
    }
    const name = s.source.value;
    if (name === "") return this.fail(`constant '${s.target.name}' needs the name of its tensor in the weights file`, s.source.span);
    const w = this.newWeight(name, { role: "weight", shape, fanIn: 0, fanOut: 0, constant: s.target.name }, s.target.name, s.source.span, (e) => e, false);
    if (!w) return undefined;
    return { kind: "constant", name: s.target.name, weight: w, shape, span: s.target.span };
  }

  /** A named constant, when `e` names one. */
  private constOperand(e: Expr, frame: Frame): ConstTensor | undefined {
    if (e.kind !== "name") return undefined;
    const b = frame.scope.lookup(e.name.name);
    return b?.kind === "constant" ? b : undefined;
  }

  /** A value or a named constant. */
  private operand(e: Expr, frame: Frame): Operand {
    return this.constOperand(e, frame) ?? this.tensor(e, frame);
  }

  /** Emits the nodes of an op on named constants (constants.ts) as anonymous layers of the statement. */
  private constLowering(frame: Frame, span: Span): ConstLowering {
    return {
      node: (op, inputs, weights = {}, form) => {
        const layer = this.anonymousLayer(frame);
        const ws: Partial<Record<WeightRole, Weight>> = {};
        for (const [role, d] of Object.entries(weights) as [WeightRole, DerivedWeight][]) {
          const w = this.newWeight(`${layer}.${role}`, { role, shape: [...d.shape], fanIn: 0, fanOut: 0, derive: d.derive }, layer, span, (e) => e);
          if (!w) return POISON;
          ws[role] = w;
        }
        const out = this.emit(op, [...inputs], ws, layer, span);
        if (form && out !== POISON) this.nodes[this.nodes.length - 1] = { ...this.nodes[this.nodes.length - 1], constantForm: form };
        return out;
      },
      shape: (v) => this.values[v].shape,
      fail: (message, at) => this.error(message, at),
    };
  }

  private resolver(scope: Scope): (e: Expr) => Expr {
    return (e) => {
      if (e.kind === "name") {
        const b = scope.lookup(e.name.name);
        if (b?.kind === "const") return b.expr;
      }
      return e;
    };
  }

  /** Evaluates an expression that must denote a tensor; returns its value id or POISON. */
  private tensor(e: Expr, frame: Frame): number {
    switch (e.kind) {
      case "name":
        return this.nameValue(e, frame);
      case "pipe":
      case "binary":
        return this.chain(e, frame);
      case "call":
        if (e.label) return this.stage(e, [], frame);
        return this.stage(e, [], frame);
      case "repeat":
        return this.repeat(e, frame);
      default:
        return this.error(`expected a tensor, but got ${describe(e)}`, e.span);
    }
  }

  /**
   * A chain `x |> a |> b` or `x + y + z` is a tree as deep as it is long: it is walked down its
   * left spine and evaluated in a loop, not by recursion, so 100,000 stages cannot overflow
   * the stack. The order is the recursive one: the input, then each stage or right operand.
   */
  private chain(e: Extract<Expr, { kind: "pipe" | "binary" }>, frame: Frame): number {
    const spine: Extract<Expr, { kind: "pipe" | "binary" }>[] = [];
    let base: Expr = e;
    while (base.kind === "pipe" || base.kind === "binary") {
      spine.push(base);
      base = base.kind === "pipe" ? base.input : base.left;
    }
    let v: Operand = this.operand(base, frame);
    for (let i = spine.length - 1; i >= 0; i--) {
      const link = spine[i];
      if (typeof v !== "number") {
        if (link.kind === "pipe") v = this.error(`the constant '${v.name}' cannot be piped into an op; it is an operand of + - * /, max, min and concat`, link.span);
        else v = this.withConstant(link, v, this.operand(link.right, frame), frame);
        continue;
      }
      if (link.kind === "pipe") v = this.stage(link.stage, [v], frame);
      else {
        const right = this.operand(link.right, frame);
        if (typeof right !== "number") {
          v = this.withConstant(link, v, right, frame);
          continue;
        }
        let b = right;
        // a - b = a + neg(b) (exact) and a / b = a * reciprocal(b): no new IR op, and the
        // negation or reciprocal fuses into b's producer.
        if ((link.op === "-" || link.op === "/") && b !== POISON) {
          const fn = link.op === "-" ? "neg" : "reciprocal";
          b = this.emit({ kind: "activation", fn, alpha: 0 }, [b], {}, this.anonymousLayer(frame), link.opSpan);
        }
        const op: Op = { kind: link.op === "+" || link.op === "-" ? "add" : "mul" };
        v = this.emit(op, [v, b], {}, this.anonymousLayer(frame), link.opSpan);
      }
    }
    // Every link makes a value: v is a constant only if the spine were empty.
    return typeof v === "number" ? v : POISON;
  }

  /** `a op b` where an operand is a named constant. */
  private withConstant(link: Extract<Expr, { kind: "binary" }>, a: Operand, b: Operand, frame: Frame): number {
    if (a === POISON || b === POISON) return POISON;
    return binaryWithConstant(this.constLowering(frame, link.opSpan), link.op, a, b, link.opSpan);
  }

  private nameValue(e: NameExpr, frame: Frame): number {
    const n = e.name.name;
    const b = frame.scope.lookup(n);
    if (b?.kind === "tensor") return b.value;
    if (b?.kind === "layer") return this.error(`'${n}' is a layer, not a tensor; apply it with \`x |> ${n}\``, e.span);
    if (b?.kind === "const") return this.error(`'${n}' is a constant, not a tensor`, e.span);
    if (b?.kind === "constant") return this.error(`'${n}' is a named constant; it is an operand of + - * /, max, min and concat, not a value of its own`, e.span);
    if (BUILTINS[n] || this.blocks.has(n)) return this.error(`'${n}' is an op, not a tensor; apply it with \`x |> ${n}\``, e.span);
    return this.error(`undefined name '${n}'${didYouMean(n, frame.scope.allNames())}`, e.span);
  }

  private anonymousLayer(frame: Frame): string {
    return `${frame.prefix}${frame.stmt}.${frame.pos++}`;
  }

  private repeat(e: Extract<Expr, { kind: "repeat" }>, frame: Frame): number {
    const countExpr = this.resolver(frame.scope)(e.count);
    const count = literalNumber(countExpr);
    if (count === undefined || !Number.isInteger(count) || count < 1 || count > MAX_REPEAT) {
      return this.error(`repeat needs a whole number of steps from 1 to ${MAX_REPEAT}, got ${describe(countExpr)}`, e.count.span);
    }
    let prev = this.tensor(e.from, frame);
    for (let step = 0; step < count && prev !== POISON; step++) {
      const scope = new Scope(frame.scope);
      if (scope.bind(e.as.name, { kind: "tensor", value: prev, span: e.as.span })) {
        return this.error(`'${e.as.name}' is already bound; choose another name for the previous step`, e.as.span);
      }
      const inner: Frame = { ...frame, scope };
      const stmt = frame.stmt;
      this.statements(e.body, inner);
      inner.stmt = stmt;
      prev = this.tensor(e.result, inner);
      frame.pos = inner.pos;
      // One step's errors are the same in every step: report them once.
      if (this.log.hasErrors) return POISON;
    }
    return prev;
  }

  /** Applies a pipe stage or a plain call to its tensor inputs (the piped value, if any). */
  private stage(stage: CallExpr | NameExpr, piped: number[], frame: Frame): number {
    const name = stage.kind === "call" ? stage.callee : stage.name;
    const args = stage.kind === "call" ? stage.args : [];
    const label = stage.kind === "call" ? stage.label : undefined;
    const b = frame.scope.lookup(name.name);
    if (b && !label) {
      if (b.kind === "layer") {
        if (stage.kind === "call" && stage.hasParens) {
          return this.error(`'${name.name}' is a layer defined at ${this.where(b.span)}; apply it again without arguments`, stage.span);
        }
        return this.reapply(b.layer, piped, frame, stage.span);
      }
      return this.error(`'${name.name}' is a ${b.kind === "tensor" ? "tensor" : b.kind === "constant" ? "named constant" : "constant"}, not an op or a layer`, name.span);
    }
    const builtin = BUILTINS[name.name];
    if (builtin) return this.builtin(name.name, builtin, stage, args, piped, frame, label);
    const block = this.blocks.get(name.name);
    if (block) {
      if (label) return this.error(`a label names a layer, but '${name.name}' is a block`, label.span);
      return this.block(block, stage, args, piped, frame);
    }
    const candidates = [...Object.keys(BUILTINS), ...this.blocks.keys(), ...frame.scope.allNames()];
    return this.error(`unknown op '${name.name}'${didYouMean(name.name, candidates)}`, name.span);
  }

  /** Splits a call's arguments into its tensor inputs and the op's own arguments. */
  private tensorInputs(builtin: Builtin, opName: string, args: readonly Arg[], piped: number[], frame: Frame, span: Span) {
    const inputs = [...piped];
    const rest: Arg[] = [];
    for (const a of args) {
      const wanted = builtin.arity === "many" || inputs.length < builtin.arity;
      if (!a.name && wanted && (builtin.arity === "many" || !CONST_KINDS.has(a.value.kind))) inputs.push(this.tensor(a.value, frame));
      else rest.push(a);
    }
    const need = builtin.arity === "many" ? 1 : builtin.arity;
    if (inputs.length < need) {
      this.error(`${opName} needs ${need === 1 ? "an input tensor" : `${need} input tensors`}: write \`x |> ${opName}(...)\` or \`${opName}(x, ...)\``, span);
      return undefined;
    }
    return { inputs, rest };
  }

  private builtin(
    opName: string,
    builtin: Builtin,
    stage: CallExpr | NameExpr,
    args: readonly Arg[],
    piped: number[],
    frame: Frame,
    label: Ident | undefined,
  ): number {
    const consts = args.some((a) => !a.name && this.constOperand(a.value, frame));
    if (consts && (opName === "max" || opName === "min" || opName === "concat")) return this.withConstants(opName, stage, args, piped, frame);
    if (consts) {
      const a = args.find((x) => !x.name && this.constOperand(x.value, frame)) as Arg;
      return this.error(`${opName} does not take a named constant; constants are operands of + - * /, max, min and concat`, a.span);
    }
    const split = this.tensorInputs(builtin, opName, args, piped, frame, stage.span);
    if (!split) return POISON;
    // A labelled layer still takes its place in the chain, so `c1.1` is the stage after `conv1`.
    const layerName = label ? `${frame.prefix}${label.name}` : this.anonymousLayer(frame);
    if (label) frame.pos++;
    const call = stage.kind === "call" ? stage : undefined;
    const cached = call ? frame.layers.get(call) : undefined;
    if (cached) {
      if (label) frame.scope.bind(label.name, { kind: "layer", layer: cached, span: label.span });
      return this.reapply(cached, split.inputs, frame, stage.span);
    }
    if (split.inputs.includes(POISON)) return POISON;
    // Named tensor arguments (`like: x`) are evaluated here; the op sees only their shapes.
    const named: Record<string, readonly Dim[]> = {};
    const rest: Arg[] = [];
    for (const a of split.rest) {
      if (a.name && builtin.tensorArgs?.includes(a.name.name)) {
        const v = this.tensor(a.value, frame);
        if (v === POISON) return POISON;
        named[a.name.name] = this.values[v].shape;
      } else rest.push(a);
    }
    const resolve = this.resolver(frame.scope);
    const reader = new ArgReader(this.log, this.file, opName, stage.span, resolve, builtin.sig, rest);
    if (!reader.ok) return POISON;
    if (builtin.expand) return this.expand(builtin.expand, opName, reader, split.inputs, layerName, label, stage, frame, resolve);
    const shapes = split.inputs.map((v) => this.values[v].shape);
    const built = builtin.build({ args: reader, inputs: shapes, named });
    if (!built || !reader.ok) return POISON;
    const weights: Partial<Record<WeightRole, Weight>> = {};
    for (const decl of built.weights) {
      const w = this.newWeight(`${layerName}.${decl.role}`, decl, layerName, stage.span, resolve);
      if (!w) return POISON;
      weights[decl.role] = w;
    }
    if (label) {
      const layer: LayerInstance = { name: layerName, builtin: opName, call: stage as CallExpr, resolve, op: built.op, weights, firstInput: shapes[0] };
      const earlier = frame.scope.bind(label.name, { kind: "layer", layer, span: label.span });
      if (earlier) return this.error(`'${label.name}' is already bound; a label names one layer`, label.span, [`first bound at ${this.where(earlier.span)}`]);
      frame.layers.set(stage as CallExpr, layer);
    } else if (call && built.weights.length > 0) {
      frame.layers.set(call, { name: layerName, builtin: opName, call, resolve, op: built.op, weights, firstInput: shapes[0] });
    }
    return this.emit(built.op, split.inputs, weights, layerName, stage.span);
  }

  /** max, min or concat with named constants among its operands (constants.ts). */
  private withConstants(opName: string, stage: CallExpr | NameExpr, args: readonly Arg[], piped: number[], frame: Frame): number {
    if (stage.kind === "call" && stage.label) return this.error(`${opName} with a named constant makes no layer to label`, stage.label.span);
    const rest = args.find((a) => a.name);
    if (rest?.name) return this.error(`${opName} has no argument '${rest.name.name}'`, rest.name.span);
    const ops: Operand[] = [...piped, ...args.map((a) => this.operand(a.value, frame))];
    if (ops.includes(POISON)) return POISON;
    const l = this.constLowering(frame, stage.span);
    if (opName === "concat") {
      const values = concatOperands(l, ops, stage.span);
      return values ? this.emit({ kind: "concat" }, values, {}, this.anonymousLayer(frame), stage.span) : POISON;
    }
    if (ops.length !== 2) return this.error(`${opName} takes two values, ${opName}(a, b); for more, nest them: ${opName}(${opName}(a, b), c)`, stage.span);
    return extremumWithConstant(l, opName === "max", ops[0], ops[1], stage.span);
  }

  /** An op written as several IR nodes (composites.ts): its parts are layers `<layer>.<k>`, its weights `<layer>.weight`. */
  private expand(
    expand: Expand,
    opName: string,
    args: ArgReader,
    inputs: number[],
    layerName: string,
    label: Ident | undefined,
    stage: CallExpr | NameExpr,
    frame: Frame,
    resolve: ConstResolver,
  ): number {
    const span = stage.span;
    let part = 0;
    let last: Op | undefined;
    let form: CompositeForm | undefined;
    const first = this.nodes.length;
    const x: Expander = {
      form: (f) => {
        form = f;
      },
      args,
      node: (op, ins, weights = {}) => {
        last = op;
        return this.emit(op, [...ins], weights, `${layerName}.${part++}`, span);
      },
      weight: (decl) => this.newWeight(`${layerName}.${decl.role}`, decl, layerName, span, resolve),
      constant: (name, shape, data) => {
        const full = `${layerName}.${name}`;
        this.weightNames.add(full);
        const w: Weight = { id: this.weights.length, name: full, shape: [...shape], data: Float32Array.from(data), source: { kind: "constant" } };
        this.weights.push(w);
        return w;
      },
      shape: (v) => this.values[v].shape,
    };
    const out = expand(x, inputs);
    if (out === undefined || !args.ok) return POISON;
    // Tag the chain for export: its nodes share a group, the one computing `out` carries the form.
    const head = out === POISON ? undefined : this.values[out].producer;
    if (form && head !== undefined && head >= first) {
      for (let k = first; k < this.nodes.length; k++) this.nodes[k] = { ...this.nodes[k], composite: { group: first, ...(k === head ? { form } : {}) } };
    }
    if (label && last) {
      const layer: LayerInstance = { name: layerName, builtin: opName, call: stage as CallExpr, resolve, op: last, weights: {}, firstInput: this.values[inputs[0]].shape };
      const earlier = frame.scope.bind(label.name, { kind: "layer", layer, span: label.span });
      if (earlier) return this.error(`'${label.name}' is already bound; a label names one layer`, label.span, [`first bound at ${this.where(earlier.span)}`]);
    }
    return out;
  }

  /** Applies an existing layer again: same op, same weights; the input must fit them. */
  private reapply(layer: LayerInstance, piped: number[], frame: Frame, span: Span): number {
    frame.pos++;
    const builtin = BUILTINS[layer.builtin];
    if (builtin.expand) return this.error(`layer '${layer.name}' is a ${layer.builtin}, which cannot be applied again; write another ${layer.builtin} with its own label`, span);
    const split = this.tensorInputs(builtin, layer.name, [], piped, frame, span);
    if (!split || split.inputs.includes(POISON)) return POISON;
    const shape = this.values[split.inputs[0]].shape;
    const fits =
      shape.length === layer.firstInput.length && D.dimEquals(shape[0], layer.firstInput[0]) &&
      (layer.op.kind !== "dense" || D.dimEquals(D.product(shape), D.product(layer.firstInput))) &&
      // Weights per output position fit only inputs of the first input's size.
      ((layer.op.kind !== "conv" || layer.op.bias !== "location") && layer.op.kind !== "local" ||
        shape.every((d, i) => D.dimEquals(d, layer.firstInput[i])));
    if (!fits) {
      return this.error(
        `layer '${layer.name}' was built for inputs of shape ${D.printShape(layer.firstInput)}; its weights do not fit this input of shape ${D.printShape(shape)}`,
        span,
      );
    }
    return this.emit(layer.op, split.inputs, layer.weights, layer.name, span);
  }

  /** A weight to bind; `inGraph` false keeps it out of the graph (a named constant, whose nodes own derived copies). */
  private newWeight(name: string, decl: WeightDecl, layer: string, span: Span, resolve: ConstResolver, inGraph = true): Weight | undefined {
    if (this.weightNames.has(name)) {
      if (decl.constant !== undefined) this.error(`constant '${decl.constant}' reads tensor '${name}', which another constant or layer's weight already uses`, span);
      else this.error(`two layers would be named '${layer}'; give one of them another label`, span);
      return undefined;
    }
    this.weightNames.add(name);
    const size = sizeProduct(decl.shape);
    // Checked before the weights are allocated: the budget is what the compiler will hold.
    if (4 * (this.weightValues + size) > MAX_WEIGHT_BYTES) {
      const total = 4 * (this.weightValues + size);
      this.error(
        `layer ${layer}: its ${decl.role} of shape [${decl.shape.join(", ")}] takes ${4 * size} bytes, and the network's weights would take ${total}, more than the compile-time memory budget of ${showBytes(MAX_WEIGHT_BYTES)}`,
        span,
      );
      return undefined;
    }
    this.weightValues += size;
    const w: Weight = {
      id: this.weights.length,
      name,
      shape: decl.shape,
      data: new Float32Array(size),
      source: { kind: "init", description: "zeros", defaulted: true },
    };
    if (inGraph) this.weights.push(w);
    this.pending.push({ weight: w, decl, layer, span, resolve });
    return w;
  }

  private block(block: BlockDecl, stage: CallExpr | NameExpr, args: readonly Arg[], piped: number[], frame: Frame): number {
    if (frame.depth >= MAX_BLOCK_DEPTH) return this.error(`block '${block.name.name}' is nested too deeply (does it call itself?)`, stage.span);
    const layerName = this.anonymousLayer(frame);
    const scope = new Scope();
    const params = block.params;
    const given: { name: string; binding: Binding }[] = piped.map((v, i) => ({
      name: params[i]?.name ?? "",
      binding: { kind: "tensor", value: v, span: stage.span },
    }));
    for (const a of args) {
      const name = a.name ? a.name.name : params[given.length]?.name;
      if (name === undefined) {
        return this.error(`block '${block.name.name}' takes ${params.length} argument${params.length === 1 ? "" : "s"} (${params.map((p) => p.name).join(", ")})`, a.span);
      }
      if (!params.some((p) => p.name === name)) return this.error(`block '${block.name.name}' has no parameter '${name}'`, a.name?.span ?? a.span);
      given.push({ name, binding: this.argBinding(a.value, frame) });
    }
    for (const p of params) {
      const g = given.filter((x) => x.name === p.name);
      if (g.length === 0) {
        return this.error(`block '${block.name.name}' needs the argument '${p.name}' (it takes ${params.map((q) => q.name).join(", ")})`, stage.span);
      }
      if (g.length > 1) return this.error(`argument '${p.name}' of block '${block.name.name}' is given twice`, stage.span);
      if (g[0].binding.kind === "tensor" && g[0].binding.value === POISON) return POISON;
      scope.bind(p.name, g[0].binding);
    }
    const inner: Frame = { scope, prefix: `${layerName}.`, stmt: "", pos: 0, layers: new Map(), depth: frame.depth + 1 };
    this.statements(block.body, inner);
    inner.stmt = "return";
    inner.pos = 0;
    return this.tensor(block.result, inner);
  }

  /** What a block argument denotes: a tensor, a layer or a constant. */
  private argBinding(e: Expr, frame: Frame): Binding {
    if (CONST_KINDS.has(e.kind)) return { kind: "const", expr: e, span: e.span };
    if (e.kind === "name") {
      const b = frame.scope.lookup(e.name.name);
      if (b) return b;
      // A bare word such as `same` passed on to an op inside the block.
      if (!BUILTINS[e.name.name] && !this.blocks.has(e.name.name)) return { kind: "const", expr: e, span: e.span };
    }
    return { kind: "tensor", value: this.tensor(e, frame), span: e.span };
  }

  private emit(op: Op, inputs: number[], weights: Partial<Record<WeightRole, Weight>>, layer: string, span: Span): number {
    if (inputs.includes(POISON)) return POISON;
    if (this.nodes.length >= MAX_LAYERS) {
      // Said once: every later stage of the chain would say it again.
      if (this.nodes.length === MAX_LAYERS && !this.tooManyLayers) {
        this.tooManyLayers = true;
        this.error(`layer ${layer}: the network has more than ${MAX_LAYERS} layers, the most one network may have`, span);
      }
      return POISON;
    }
    const window = windowLimit(op);
    if (window) return this.error(`layer ${layer}: ${window}`, span);
    const r = inferShape(op, inputs.map((v) => this.values[v].shape));
    if (!r.ok) return this.error(r.message, span);
    const constant = largeConstant(op, inputs.length ? this.values[inputs[0]].shape : [], r.shape);
    if (constant !== undefined) {
      return this.error(`layer ${layer}: its sizes reach ${constant}, larger than ${MAX_SIZE}, the largest size the targets can index (32-bit)`, span);
    }
    const values = leastElements(r.shape);
    if (values > MAX_TENSOR_ELEMENTS) {
      return this.error(
        `layer ${layer}: its output of shape ${D.printShape(r.shape)} has ${values === Infinity ? "too many" : values} values, more than the ${MAX_TENSOR_ELEMENTS} (${showBytes(4 * MAX_TENSOR_ELEMENTS)} of f32) a target can hold`,
        span,
      );
    }
    for (const p of r.positive) this.checks.push({ dim: p.dim, message: `layer ${layer}: ${p.message}` });
    const id = this.nodes.length;
    const out = this.newValue(r.shape, id, layer);
    this.nodes.push({ id, op, inputs, output: out, weights, layer, span });
    return out;
  }
}

/** The fewest values a tensor of this shape can have: every size symbol is at least 1. */
function leastElements(shape: readonly Dim[]): number {
  const ones: Record<string, number> = {};
  for (const d of shape) for (const s of D.dimSymbols(d)) ones[s] = 1;
  return sizeProduct(shape.map((d) => Math.max(1, D.evalDim(d, ones))));
}

/** Why a sliding window (kernel or pool window, dilated) is too large to index, if it is. */
function windowLimit(op: Op): string | undefined {
  const sizes = "window" in op ? op.window : "kernel" in op ? op.kernel : undefined;
  if (!sizes) return undefined;
  const dilation = "dilation" in op ? op.dilation : undefined;
  const extent = sizes.map((k, i) => (k - 1) * (dilation?.[i] ?? 1) + 1);
  const axis = extent.map(sizeTooLarge).find((m) => m);
  if (axis) return `its dilated window spans ${extent.join("x")}: ${axis}`;
  const values = sizeProduct(extent);
  if (values > MAX_TENSOR_ELEMENTS) return `its window spans ${extent.join("x")} = ${values} positions, more than the ${MAX_TENSOR_ELEMENTS} a target can hold`;
  return undefined;
}

/**
 * A constant past 32-bit indexing in the sizes a layer's code computes (its output sizes and,
 * for sliding windows, its padding): a stride of 2^31 - 1 with `pad: same` makes 2 * stride.
 */
function largeConstant(op: Op, input: readonly Dim[], output: readonly Dim[]): number | undefined {
  const dims: Dim[] = [...output];
  const w = op as Partial<{ window: readonly number[]; kernel: readonly number[]; stride: readonly number[]; dilation: readonly number[]; pad: PadSpec; ceil: boolean }>;
  const sizes = w.window ?? w.kernel;
  // A transposed convolution's code works with the geometry of the convolution it reverses,
  // whose input is the deconv's output.
  const over = op.kind === "deconv" ? output : input;
  if (sizes && w.stride && w.dilation && w.pad && over.length === sizes.length + 1) {
    try {
      const g = windowGeometry(over.slice(1), sizes, w.stride, w.dilation, w.pad, w.ceil ?? false);
      dims.push(...g.padBefore, ...g.padAfter, ...g.out);
    } catch {
      // Geometry the op's own checks refuse is reported by them.
    }
  }
  let found: number | undefined;
  const walk = (d: Dim): void => {
    if (typeof d === "number") {
      if (Math.abs(d) > MAX_SIZE) found = Math.abs(d);
    } else if (d.op !== "sym") {
      walk(d.a);
      walk(d.b);
    }
  };
  dims.forEach(walk);
  return found;
}
