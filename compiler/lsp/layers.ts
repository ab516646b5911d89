// From a place in the source to the graph's nodes and values: which layers a stage made and
// which value a name holds. The lowering records on each node the span of the stage that made
// it (a pipe stage or call: its own span; `a + b`: the operator's), so a stage is found by its
// span. A stage inside a block or a `repeat` body makes one node per use or step, so a lookup
// gives a list. A name's value is its statement's: the output of the node its expression's last
// stage made, or, when that stage is a block (whose nodes point into the block), the last node
// the statement made, found by the layer names the lowering gives (`<statement>.<position>...`).

import type { AssignStmt, Expr } from "../../dsl/ast.js";
import type { Graph, Node } from "../ir/graph.js";
import type { Span } from "../source.js";
import type { Definition, Occurrence } from "./symbols.js";

const sameSpan = (a: Span, b: Span) => a.start === b.start && a.end === b.end;
const within = (inner: Span, outer: Span) => outer.start <= inner.start && inner.end <= outer.end;

/** The nodes a stage made: one, or one per block use or repeat step. */
export function nodesAt(g: Graph, span: Span): Node[] {
  return g.nodes.filter((n) => sameSpan(n.span, span));
}

/** The span the lowering gives the node an expression's outermost stage makes. */
function stageSpan(e: Expr): Span | undefined {
  switch (e.kind) {
    case "pipe":
      return e.stage.span;
    case "binary":
      return e.opSpan;
    case "call":
      return e.span;
    case "repeat":
      return stageSpan(e.result);
    default:
      return undefined;
  }
}

/** Finds the definition a name used at a span stands for (the symbol index answers). */
export type Resolve = (name: string, at: Span) => Definition | undefined;

/** The values (ids) a definition holds: one, or one per block use or repeat step; empty when unknown. */
export function valuesOf(g: Graph, d: Definition, resolve: Resolve): number[] {
  // An alias (`b = a`) holds a's value; names are bound once, so the chain ends, but stay bounded.
  let cur = d;
  for (let i = 0; i < 64; i++) {
    const alias = cur.kind === "value" ? cur.stmt?.value : cur.kind === "step" ? cur.repeat?.from : undefined;
    if (alias?.kind !== "name") break;
    const next = resolve(alias.name.name, alias.span);
    if (!next) return [];
    cur = next;
  }
  switch (cur.kind) {
    case "input": {
      const io = g.inputs.find((i) => i.name === cur.name && cur.owner?.name.name === g.name);
      return io ? [io.value] : [];
    }
    case "label":
      return cur.call ? nodesAt(g, cur.call.span).map((n) => n.output) : [];
    case "step":
      return cur.repeat ? valuesOfExpr(g, cur.repeat.from, undefined) : [];
    case "value":
      return cur.stmt ? valuesOfExpr(g, cur.stmt.value, cur.owner?.kind === "network" ? cur.stmt : undefined) : [];
    default:
      return [];
  }
}

function valuesOfExpr(g: Graph, e: Expr, topStmt: AssignStmt | undefined): number[] {
  const span = stageSpan(e);
  const found = span ? nodesAt(g, span) : [];
  // A repeat's value is its last step's.
  if (found.length > 0) return e.kind === "repeat" ? [found[found.length - 1].output] : found.map((n) => n.output);
  if (!topStmt || !span) return [];
  // The last stage is a block: the statement's value is the last node it made.
  const prefix = `${topStmt.target.name}.`;
  const made = g.nodes.filter((n) => within(n.span, topStmt.span) || n.layer.startsWith(prefix));
  return made.length ? [made[made.length - 1].output] : [];
}

/** The nodes made by the stage an occurrence names (an op, a label applied, a block's call). */
export function stageNodes(g: Graph, o: Occurrence): Node[] {
  return o.stage ? nodesAt(g, o.stage.span) : [];
}
