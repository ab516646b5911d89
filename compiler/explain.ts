// `cnnc explain`: per layer, its name, op, output shape, parameter count and FLOPs (2 per
// multiply-add, the convention of GFLOP/s tables), receptive field and algorithm, then the
// algorithms' reasons and totals. Sizes may be symbolic, so counts are Dims and print as
// expressions over the input's size symbols. The table fits 100 columns: fused layers and
// fused ops take a line each, and a column too wide for its share wraps at its natural
// breaks (after a comma, before an operator) instead of pushing the table wider.

import * as D from "./ir/dim.js";
import type { Dim } from "./ir/dim.js";
import type { FusedOp, Graph, Node } from "./ir/graph.js";
import { activationLabel, opLabel } from "./ir/print.js";
import { assertNever } from "./ir/ops.js";
import type { Plan } from "./plan/plan.js";
import { type ReceptiveField, printFraction, receptiveFields } from "./receptive-field.js";

/** The width `cnnc explain` fits in. */
export const EXPLAIN_COLUMNS = 100;

export interface LayerRow {
  /** `conv1 (+ c1.1, c1.2)`: the kernel's layer and the layers fused into it. */
  readonly layer: string;
  /** The same, one entry each: [`conv1`, `c1.1`, `c1.2`]. */
  readonly layers: readonly string[];
  /** `conv2d(6, 5x5, pad same) |> relu`: its op and fused work. */
  readonly op: string;
  /** The same, one entry each. */
  readonly ops: readonly string[];
  readonly shape: string;
  readonly params: number;
  readonly flops: Dim;
  /** `name: reason`, or empty. */
  readonly algorithm: string;
  /** The node's output value in the graph. */
  readonly value: number;
}

/** Floating-point operations of one node, per sample (2 per multiply-add). */
export function nodeFlops(g: Graph, n: Node): Dim {
  const out = g.values[n.output].shape;
  const outSize = D.product(out);
  const op = n.op;
  switch (op.kind) {
    case "conv": {
      const cin = g.values[n.inputs[0]].shape[0];
      const perOut = D.mul(D.floordiv(cin, op.groups), op.kernel.reduce((a, b) => a * b, 1));
      return D.mul(2, D.mul(outSize, perOut));
    }
    case "local":
    case "tiled": {
      const cin = g.values[n.inputs[0]].shape[0];
      return D.mul(2, D.mul(outSize, D.mul(cin, op.kernel.reduce((a, b) => a * b, 1))));
    }
    case "deconv": {
      // Every input element scatters into O/groups outputs per kernel tap.
      const inSize = D.product(g.values[n.inputs[0]].shape);
      return D.mul(2, D.mul(inSize, (op.filters / op.groups) * op.kernel.reduce((a, b) => a * b, 1)));
    }
    case "batchnorm":
      return D.mul(outSize, 2);
    case "maxout":
      return D.product(g.values[n.inputs[0]].shape);
    case "dense":
      return D.mul(2, D.mul(op.units, D.product(g.values[n.inputs[0]].shape)));
    case "pool":
      return D.mul(outSize, op.window.reduce((a, b) => a * b, 1));
    case "adaptive_pool":
      return D.product(g.values[n.inputs[0]].shape);
    case "activation":
    case "add":
    case "mul":
      return outSize;
    case "softmax":
    case "log_softmax":
      return D.mul(outSize, 3);
    case "flatten":
    case "reshape":
    case "concat":
    case "slice":
    case "pad":
    case "transpose":
      return 0;
    case "matmul": {
      const a = g.values[n.inputs[0]].shape;
      return D.mul(2, D.mul(outSize, a[a.length - 1]));
    }
    case "resize":
      // linear: per output element, 2^d products of d weights and 2^d adds.
      return op.mode === "linear" ? D.mul(outSize, (1 << op.out.length) * (op.out.length + 1)) : 0;
    default:
      return assertNever(op);
  }
}

/** Fused work as people read it: `relu`, `+ stem.1` (the value added, by name), a pool. */
export function fusedText(g: Graph, e: FusedOp): string {
  switch (e.kind) {
    case "activation":
      return activationLabel(e.fn, e.alpha, e.beta);
    case "add":
      return `+ ${g.values[e.value].name}`;
    case "pool":
      return opLabel(e.op);
  }
}

/** One row per kernel of the optimised graph; FLOPs and parameters of fused layers included. */
export function layerRows(g: Graph, source: Graph): LayerRow[] {
  const seen = new Set<object>();
  const flopsOf = new Map<string, Dim>();
  for (const n of source.nodes) flopsOf.set(n.layer, D.add(flopsOf.get(n.layer) ?? 0, nodeFlops(source, n)));
  const counted = new Set<string>();
  return g.nodes.map((n) => {
    let params = 0;
    for (const w of Object.values(n.weights)) {
      // A shared layer's parameters are counted once, where they first appear.
      if (w && !seen.has(w)) {
        seen.add(w);
        params += w.data.length;
      }
    }
    // A shared layer applied several times appears once per application in both graphs.
    let total: Dim = nodeFlops(g, n);
    if (!counted.has(n.layer) && flopsOf.has(n.layer)) {
      total = [n.layer, ...(n.fused ?? [])].reduce<Dim>((a, l) => D.add(a, flopsOf.get(l) ?? 0), 0);
      for (const l of [n.layer, ...(n.fused ?? [])]) counted.add(l);
    }
    const layer = n.fused?.length ? `${n.layer} (+ ${n.fused.join(", ")})` : n.layer;
    const ops = [opLabel(n.op), ...(n.epilogue ?? []).map((e) => fusedText(g, e))];
    return {
      layer,
      layers: [n.layer, ...(n.fused ?? [])],
      op: ops.join(" |> "),
      ops,
      value: n.output,
      shape: D.printShape(g.values[n.output].shape),
      params,
      flops: total,
      algorithm: n.algorithm ? `${n.algorithm.name}: ${n.algorithm.reason}` : "",
    };
  });
}

/** A table cell: one or more lines. */
type Cell = readonly string[];

/**
 * Splits a line into pieces of at most `width` characters, at the last natural break that
 * fits: after ", " or a space, or before `*`, `+` or `|>`; a piece with none is cut.
 */
export function wrapCell(line: string, width: number): string[] {
  // Continuations line up under the text, past any indent and `|> `.
  const indent = " ".repeat((/^ *(\|> )?/.exec(line)?.[0].length ?? 0) + 1);
  const out: string[] = [];
  let rest = line;
  let limit = width;
  while (rest.length > limit) {
    // Bracket depth before each character: breaks outside brackets first (`floor(H / 2)`
    // stays whole), then any space.
    const depth: number[] = [];
    let d = 0;
    for (const c of rest) {
      depth.push(d);
      if (c === "(" || c === "[") d++;
      else if (c === ")" || c === "]") d--;
    }
    const base = depth[indent.length] ?? 0;
    const breakAt = (i: number, top: boolean) =>
      (!top || depth[i] <= base) &&
      (rest[i - 1] === " " || rest[i] === "*" || rest[i] === "+" || (rest[i] === "|" && rest[i + 1] === ">"));
    let cut = -1;
    for (const top of [true, false]) {
      for (let i = limit; i > indent.length && cut < 0; i--) if (breakAt(i, top)) cut = i;
      if (cut > 0) break;
    }
    if (cut <= indent.length) cut = limit;
    out.push(rest.slice(0, cut).trimEnd());
    rest = indent + rest.slice(cut).trimStart();
    limit = width;
  }
  out.push(rest);
  return out;
}

/**
 * Rows of cells laid out in at most `columns` characters: the widest wrappable column gives
 * up a character at a time (down to a floor) until the table fits; cells then wrap.
 */
function table(rows: readonly Cell[][], numeric: ReadonlySet<number>, floors: ReadonlyMap<number, number>, columns: number): string {
  const gap = 2;
  const widths = rows[0].map((_, i) => Math.max(...rows.flatMap((r) => r[i].map((l) => l.length))));
  const total = () => widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1);
  // The column furthest above its floor shrinks first; below the floors, the widest, to 10.
  for (const hard of [false, true]) {
    while (total() > columns) {
      let pick = -1;
      let best = 0;
      for (const [i, floor] of floors) {
        const room = hard ? widths[i] - 10 : widths[i] - floor;
        const score = hard ? widths[i] : room;
        if (room > 0 && score > best) [pick, best] = [i, score];
      }
      if (pick < 0) break;
      widths[pick]--;
    }
  }
  const lines: string[] = [];
  for (const row of rows) {
    const cells = row.map((c, i) => c.flatMap((l) => wrapCell(l, widths[i])));
    const height = Math.max(...cells.map((c) => c.length));
    for (let k = 0; k < height; k++) {
      lines.push(cells.map((c, i) => (numeric.has(i) ? (c[k] ?? "").padStart(widths[i]) : (c[k] ?? "").padEnd(widths[i]))).join(" ".repeat(gap)).trimEnd());
    }
  }
  return lines.join("\n");
}

/** `5x5 (1)`, `16x16 (4)`, `whole`, `<=3x3 (1/2)`: size in input pixels, then the jump. */
export function compactField(f: ReceptiveField): string {
  if (f.axes.length === 0 || f.axes.every((a) => a.whole)) return "whole";
  const size = f.axes.map((a) => (a.whole ? "all" : D.printDim(a.size))).join("x");
  const jumps = f.axes.filter((a) => !a.whole).map((a) => printFraction(a.jump));
  const jump = jumps.every((j) => j === jumps[0]) ? jumps[0] : jumps.join("x");
  return `${f.exact ? "" : "<="}${size} (${jump})`;
}

const bytes = (elements: Dim) => `${D.printDim(D.mul(elements, 4))} bytes`;

/**
 * `cnnc explain`: one row per kernel of the optimised graph (fused layers shown with their
 * producer), the algorithm chosen per convolution and why, totals, and activation memory
 * before and after planning.
 */
export function explain(g: Graph, source: Graph, plan: Plan, columns = EXPLAIN_COLUMNS): string {
  const rows = layerRows(g, source);
  const fields = receptiveFields(g);
  const lines: string[] = [];
  const ins = g.inputs.map((i) => `${i.name}: f32${D.printShape(g.values[i.value].shape)}`).join(", ");
  const outs = g.outputs.map((o) => `${o.name}: f32${D.printShape(g.values[o.value].shape)}`).join(", ");
  lines.push(`network ${g.name}(${ins}) -> (${outs})`, "");
  // A kernel's first column: its layer, the layers fused into it, then its op and fused work.
  const header = ["kernel: layers, ops", "output", "params", "FLOPs", "field", "algorithm"].map((h) => [h]);
  const body = rows.map((r) => [
    [r.layers[0], ...r.layers.slice(1).map((l) => `+ ${l}`), ...r.ops.map((o, i) => `  ${i ? "|> " : ""}${o}`)],
    [r.shape],
    [String(r.params)],
    [D.printDim(r.flops)],
    [compactField(fields[r.value])],
    [r.algorithm.split(": ")[0]],
  ]);
  lines.push(table([header, ...body], new Set([2, 3]), new Map([[1, 16], [3, 14], [0, 28]]), columns));
  const reasons = rows.filter((r) => r.algorithm);
  if (reasons.length) {
    lines.push("", "algorithms:");
    for (const r of reasons) {
      // `conv1: direct_simd: because...`, wrapped with a hanging indent.
      const text = `${r.layers[0]}: ${r.algorithm}`;
      lines.push(...wrapWords(text, columns, 6).map((l, i) => (i ? l : `  ${l}`)));
    }
  }
  lines.push("", ...wrapWords("field: the input pixels one output element can depend on, per axis, and (in brackets) the input pixels between neighbouring elements; <= marks an upper bound (after a deconv)", columns, 0));
  const totalParams = rows.reduce((a, r) => a + r.params, 0);
  const totalFlops = source.nodes.reduce<Dim>((a, n) => D.add(a, nodeFlops(source, n)), 0);
  lines.push("", `parameters: ${totalParams}`, ...wrapWords(`FLOPs per sample: ${D.printDim(totalFlops)}`, columns, 2));
  lines.push(`kernels: ${plan.steps.length} (from ${source.nodes.length} layers)`);
  lines.push(...wrapWords(`activation memory: ${bytes(plan.arenaElements)} planned (${bytes(plan.unplannedElements)} without reuse); weights: ${plan.weightData.byteLength} bytes`, columns, 2));
  return lines.join("\n");
}

/** Words into lines of at most `width` characters, every line after the first indented by `indent`. */
function wrapWords(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const limit = lines.length ? width - indent : width - 2;
    if (line && line.length + 1 + word.length > limit) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i ? " ".repeat(indent) + l : l));
}
