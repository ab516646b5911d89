// Hover: what the compiler knows about the name under the cursor, in a few Markdown lines.
// A value (a statement's name, an input, a repeat's step) shows its shape, with symbolic sizes
// as the expressions the compiler computed (`[6, H - 4, W - 4]`), the op and layer that made
// it and the receptive field of one of its elements in the network's input. A layer (its
// label, its op's name, a label applied again) shows its op, input and output shapes and its
// parameter count. A stage in a block or a repeat body is one layer per use or step: each is
// listed. Everything comes from the last analysis (the lowered graph, no passes run).

import type { MarkupContent } from "vscode-languageserver";
import * as D from "../ir/dim.js";
import type { Graph, Node, Weight } from "../ir/graph.js";
import { opLabel } from "../ir/print.js";
import type { Analysis } from "./analysis.js";
import { stageNodes, valuesOf } from "./layers.js";
import { describeReceptiveField } from "./receptive.js";
import { type Definition, type Occurrence, occurrenceAt } from "./symbols.js";

/** At most this many uses or steps are listed one by one. */
const MAX_LISTED = 8;

const code = (s: string) => `\`${s}\``;
const shapeOf = (g: Graph, value: number) => `f32${D.printShape(g.values[value].shape)}`;

function paramCount(weights: readonly Weight[]): number {
  return weights.reduce((sum, w) => sum + w.shape.reduce((p, d) => p * d, 1), 0);
}

function nodeParams(n: Node): string {
  const ws = Object.entries(n.weights).filter((e): e is [string, Weight] => e[1] !== undefined);
  if (ws.length === 0) return "no parameters";
  const count = paramCount(ws.map((e) => e[1]));
  return `${count.toLocaleString("en-US")} parameter${count === 1 ? "" : "s"} (${ws.map(([role, w]) => `${role} [${w.shape.join(", ")}]`).join(", ")})`;
}

/** The graphs a definition's place can be in: its network's, or every network's for a block. */
function graphsFor(a: Analysis, owner: Definition["owner"]): readonly Graph[] {
  if (owner?.kind === "network") return a.graphs.filter((g) => g.name === owner.name.name);
  return a.graphs;
}

function valueLines(g: Graph, value: number): string[] {
  const v = g.values[value];
  const lines = [code(shapeOf(g, value))];
  const producer = v.producer === undefined ? undefined : g.nodes[v.producer];
  if (producer) lines.push(`made by ${code(opLabel(producer.op))}, layer ${code(producer.layer)}, ${nodeParams(producer)}`);
  else lines.push("an input of the network");
  const rf = describeReceptiveField(g, value);
  if (rf) lines.push(rf);
  return lines;
}

/** A layer's op, shapes, parameters and field; `named` puts its name first (a list names it already). */
function layerLines(g: Graph, n: Node, named = true): string[] {
  const inputs = n.inputs.map((i) => code(shapeOf(g, i))).join(", ");
  const op = named ? `layer ${code(n.layer)}: ${code(opLabel(n.op))}` : code(opLabel(n.op));
  const lines = [op, `${inputs} → ${code(shapeOf(g, n.output))}`, nodeParams(n)];
  const rf = describeReceptiveField(g, n.output);
  if (rf) lines.push(rf);
  return lines;
}

/** One block per use or step, each headed by the layer that made it; or the single one bare. */
function listed<T>(items: readonly T[], head: (t: T) => string, body: (t: T) => string[]): string[] {
  if (items.length === 1) return body(items[0]);
  const list = items.slice(0, MAX_LISTED).map((t) => `- ${head(t)}: ${body(t).join("; ")}`);
  if (items.length > MAX_LISTED) list.push(`- and ${items.length - MAX_LISTED} more`);
  // One Markdown list: its items on consecutive lines.
  return [`${items.length} uses:`, list.join("\n")];
}

function networkLines(g: Graph): string[] {
  const ios = (xs: Graph["inputs"]) => xs.map((x) => `${x.name}: ${code(shapeOf(g, x.value))}`).join(", ");
  const params = paramCount(g.weights);
  return [`inputs ${ios(g.inputs)}`, `outputs ${ios(g.outputs)}`, `${g.nodes.length} layers, ${params.toLocaleString("en-US")} parameters`];
}

const KIND_WORD: Record<Definition["kind"], string> = {
  network: "network",
  block: "block",
  input: "input",
  value: "value",
  label: "layer",
  parameter: "block parameter",
  step: "repeat step",
};

export function hoverText(a: Analysis, offset: number): { markdown: string; span: { start: number; end: number } } | undefined {
  if (!a.symbols) return undefined;
  const index = a.symbols;
  const o: Occurrence | undefined = occurrenceAt(index, offset);
  if (!o) return undefined;
  const d = o.definition;
  // What a name used at a place stands for (an alias `b = a` is followed to a's value).
  const resolve = (name: string, at: { start: number }) => {
    const there = occurrenceAt(index, at.start);
    return there?.name === name ? there.definition : undefined;
  };
  const lines: string[] = [];
  // Names go in code spans: an identifier such as `__x__` must not turn into emphasis.
  const title = d ? `${code(o.name)}: ${KIND_WORD[d.kind]}` : code(o.name);

  // A stage: the layers it made (its label, its op's name, a label applied again).
  if (o.stage && (!d || d.kind === "label")) {
    const found = graphsFor(a, d?.owner).flatMap((g) => stageNodes(g, o).map((n) => ({ g, n })));
    if (found.length > 0) {
      lines.push(...listed(found, (x) => `layer ${code(x.n.layer)}`, (x) => layerLines(x.g, x.n, found.length === 1)));
      return { markdown: [title, ...lines].join("\n\n"), span: o.span };
    }
  }
  if (!d) return undefined;
  if (d.kind === "network") {
    const g = a.graphs.find((x) => x.name === d.name);
    if (g) lines.push(...networkLines(g));
  } else if (d.kind === "block") {
    const decl = d.decl;
    if (decl?.kind === "block") lines.push(code(`block ${decl.name.name}(${decl.params.map((p) => p.name).join(", ")})`));
  } else if (d.kind === "parameter") {
    lines.push(`a parameter of block ${code(d.owner?.name.name ?? "")}: a tensor or a constant, given at each use`);
  } else {
    const found = graphsFor(a, d.owner).flatMap((g) => valuesOf(g, d, resolve).map((v) => ({ g, v })));
    if (found.length > 0) {
      lines.push(
        ...listed(
          found,
          (x) => `in ${code(x.g.name)}`,
          (x) => valueLines(x.g, x.v),
        ),
      );
    } else if (a.graphs.length === 0) lines.push("(shapes appear once the network checks)");
  }
  return { markdown: [title, ...lines].join("\n\n"), span: o.span };
}

export function hoverContent(a: Analysis, offset: number): { contents: MarkupContent; span: { start: number; end: number } } | undefined {
  const h = hoverText(a, offset);
  return h ? { contents: { kind: "markdown", value: h.markdown }, span: h.span } : undefined;
}
