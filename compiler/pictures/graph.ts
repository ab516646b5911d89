// The graph picture's model: one box per kernel of the optimised plan (the layers fused into
// it, its op and fused work, the algorithm and why, output shape, FLOPs, parameters, memory,
// receptive field), one box per network input and output, and an edge per tensor a kernel
// reads, labelled with its shape and size. Boxes are sized to their text (text.ts) and laid out
// by dagre (a layered, Sugiyama-style layout: ranks top to bottom, few crossings), so the SVG
// renderer only draws. A plain JSON-able object: the playground computes it in a Web Worker.

import dagre, { type EdgeLabel, type GraphLabel, type NodeLabel } from "@dagrejs/dagre";
import * as D from "../ir/dim.js";
import type { Dim } from "../ir/dim.js";
import type { Graph, Node } from "../ir/graph.js";
import type { Op } from "../ir/ops.js";
import { opLabel } from "../ir/print.js";
import type { Plan } from "../plan/plan.js";
import { fusedText, layerRows } from "../explain.js";
import { printField, receptiveFields } from "../receptive-field.js";
import { BODY_SIZE, humanBytes, humanCount, LINE_GAP, monoWidth, TITLE_SIZE, titleWidth, wrap } from "./text.js";

/** What a box computes, for its colour. */
export type Family = "input" | "output" | "conv" | "pool" | "dense" | "norm" | "elementwise" | "shape";

export interface PictureBox {
  /** `input:image`, `step:3`, `output:probs`. */
  readonly id: string;
  readonly family: Family;
  /** The box's heading: the layer and the layers fused into it, or the input's name. */
  readonly title: string;
  /** The layers this kernel computes (empty for inputs and outputs). */
  readonly layers: readonly string[];
  /** The op and its fused work, one entry each: `conv2d(6, 5x5, pad same)`, `relu`. */
  readonly ops: readonly string[];
  readonly algorithm?: { readonly name: string; readonly reason: string };
  /** The output shape, `[6, 14, 14]`. */
  readonly shape: string;
  /** Floating-point operations per sample (2 per multiply-add), as text (may be symbolic). */
  readonly flops?: string;
  readonly params?: number;
  /** The output tensor's bytes per sample, as text. */
  readonly memory: string;
  /** Receptive field of the output in input pixels: `14x14 (jump 2x2)`. */
  readonly field?: string;
  /** The lines drawn under the title, in order. */
  readonly lines: readonly string[];
  /** Centre and size, from the layout. */
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface PictureEdge {
  readonly from: string;
  readonly to: string;
  /** `[6, 14, 14] · 4.59 KiB`. */
  readonly label: string;
  /** The route from the layout, first point at `from`, last at `to`. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** Centre of the label. */
  readonly labelX: number;
  readonly labelY: number;
}

export interface GraphPicture {
  readonly name: string;
  readonly boxes: readonly PictureBox[];
  readonly edges: readonly PictureEdge[];
  readonly width: number;
  readonly height: number;
}

/** What a compile or `optimise` result carries: the optimised graph, the lowered one, the plan. */
export interface Compiled {
  readonly graph: Graph;
  readonly source: Graph;
  readonly plan: Plan;
}

const PAD_X = 10;
const PAD_Y = 8;
/** Wrap reasons at this many characters. */
const REASON_WIDTH = 44;
const REASON_LINES = 3;

export function family(op: Op): Family {
  switch (op.kind) {
    case "conv":
    case "local":
    case "tiled":
    case "deconv":
      return "conv";
    case "pool":
    case "adaptive_pool":
    case "maxout":
      return "pool";
    case "dense":
      return "dense";
    case "batchnorm":
    case "softmax":
    case "log_softmax":
      return "norm";
    case "matmul":
      return "dense";
    case "activation":
    case "add":
    case "mul":
      return "elementwise";
    case "concat":
    case "slice":
    case "flatten":
    case "reshape":
    case "pad":
    case "resize":
    case "transpose":
      return "shape";
  }
}

/**
 * The gist of an algorithm's reason for a box: the clause after the layer description and
 * before the estimates ("Winograd F(4x4,3x3) needs 4x fewer multiplies"), wrapped; the whole
 * reason stays in the model (the SVG's tooltip, the DOT's).
 */
export function reasonLines(reason: string): string[] {
  let gist = reason.split("; ")[0];
  const colon = gist.indexOf("): ") >= 0 ? gist.indexOf("): ") + 1 : gist.indexOf(": ");
  if (colon >= 0 && colon < gist.length - 2) gist = gist.slice(colon + 2);
  const lines = wrap(gist, REASON_WIDTH);
  if (lines.length > REASON_LINES) {
    lines.length = REASON_LINES;
    lines[REASON_LINES - 1] += " …";
  }
  return lines;
}

const bytesOf = (elements: Dim): string => (typeof elements === "number" ? humanBytes(elements * 4) : `${D.printDim(D.mul(elements, 4))} B`);
const countOf = (d: Dim): string => (typeof d === "number" ? humanCount(d) : D.printDim(d));

/** The nodes of `g` that became plan steps, in step order (plan/build.ts skips pure aliases). */
function stepNodes(g: Graph, plan: Plan): Node[] {
  const nodes = g.nodes.filter((n) => !((n.op.kind === "flatten" || n.op.kind === "reshape") && !n.epilogue?.length));
  if (nodes.length !== plan.steps.length || nodes.some((n, i) => n.layer !== plan.steps[i].layer)) {
    throw new Error("internal error: the plan's steps do not follow the graph's nodes");
  }
  return nodes;
}

interface Unplaced extends Omit<PictureBox, "x" | "y" | "width" | "height"> {}

function sized(b: Unplaced): { width: number; height: number } {
  const width = Math.max(titleWidth(b.title), ...b.lines.map((l) => monoWidth(l))) + 2 * PAD_X;
  const height = TITLE_SIZE + b.lines.length * (BODY_SIZE + LINE_GAP) + 2 * PAD_Y + (b.lines.length ? LINE_GAP : 0);
  return { width: Math.ceil(width), height: Math.ceil(height) };
}

/** The model of the optimised plan's picture, laid out. */
export function graphPicture(compiled: Compiled): GraphPicture {
  const { graph: g, source, plan } = compiled;
  const nodes = stepNodes(g, plan);
  const rows = layerRows(g, source);
  const rowOf = new Map(g.nodes.map((n, i) => [n, rows[i]]));
  const fields = receptiveFields(g);
  const boxes: Unplaced[] = [];
  // Who wrote each plan buffer: a network input or a step (reshape and flatten alias it).
  const writer = new Map<number, string>();
  for (const io of plan.inputs) {
    const id = `input:${io.name}`;
    writer.set(io.buffer, id);
    const shape = D.printShape(io.shape);
    boxes.push({ id, family: "input", title: io.name, layers: [], ops: [], shape, memory: bytesOf(D.product(io.shape)), lines: [`input f32${shape}`] });
  }
  const edges: { from: string; to: string; label: string }[] = [];
  const edgeLabel = (shape: readonly Dim[]) => `${D.printShape(shape)} · ${bytesOf(D.product(shape))}`;
  plan.steps.forEach((step, i) => {
    const n = nodes[i];
    const row = rowOf.get(n);
    const id = `step:${step.id}`;
    const ops = [opLabel(n.op), ...(n.epilogue ?? []).map((e) => fusedText(g, e))];
    const shape = D.printShape(step.output.shape);
    const flops = row ? countOf(row.flops) : undefined;
    const params = row?.params ?? 0;
    const field = printField(fields[n.output]);
    const lines = [ops[0], ...ops.slice(1).map((o) => `|> ${o}`)];
    if (n.algorithm) lines.push(`algorithm: ${n.algorithm.name}`, ...reasonLines(n.algorithm.reason).map((l) => `  ${l}`));
    lines.push(`out ${shape} · ${bytesOf(D.product(step.output.shape))}`);
    lines.push(`${flops} FLOPs${params ? ` · ${humanCount(params)} params` : ""}`);
    lines.push(`field ${field}`);
    boxes.push({
      id,
      family: family(n.op),
      title: [n.layer, ...(n.fused ?? [])].join(" + "),
      layers: [n.layer, ...(n.fused ?? [])],
      ops,
      ...(n.algorithm ? { algorithm: { name: n.algorithm.name, reason: n.algorithm.reason } } : {}),
      shape,
      flops,
      params,
      memory: bytesOf(D.product(step.output.shape)),
      field,
      lines,
    });
    const seen = new Set<number>();
    for (const t of step.inputs) {
      if (seen.has(t.buffer)) continue; // x + x: one edge
      seen.add(t.buffer);
      const from = writer.get(t.buffer);
      if (from === undefined) throw new Error(`internal error: step ${step.layer} reads buffer ${t.buffer} before it is written`);
      edges.push({ from, to: id, label: edgeLabel(t.shape) });
    }
    writer.set(step.output.buffer, id);
  });
  for (const io of plan.outputs) {
    const id = `output:${io.name}`;
    const shape = D.printShape(io.shape);
    boxes.push({ id, family: "output", title: io.name, layers: [], ops: [], shape, memory: bytesOf(D.product(io.shape)), lines: [`output f32${shape}`] });
    const from = writer.get(io.buffer);
    if (from !== undefined) edges.push({ from, to: id, label: edgeLabel(io.shape) });
  }
  return layout(plan.name, boxes, edges);
}

function layout(name: string, boxes: readonly Unplaced[], edges: readonly { from: string; to: string; label: string }[]): GraphPicture {
  const dg = new dagre.graphlib.Graph<GraphLabel, NodeLabel, EdgeLabel>({ multigraph: true });
  dg.setGraph({ rankdir: "TB", nodesep: 36, ranksep: 34, edgesep: 16, marginx: 12, marginy: 12 });
  for (const b of boxes) dg.setNode(b.id, sized(b));
  edges.forEach((e, i) => {
    dg.setEdge(e.from, e.to, { width: monoWidth(e.label, BODY_SIZE - 1) + 8, height: BODY_SIZE + 4, labelpos: "c" }, `e${i}`);
  });
  dagre.layout(dg);
  const placed: PictureBox[] = boxes.map((b) => {
    const l = dg.node(b.id);
    return { ...b, x: l.x ?? 0, y: l.y ?? 0, width: l.width, height: l.height };
  });
  const routed: PictureEdge[] = edges.map((e, i) => {
    const l = dg.edge(e.from, e.to, `e${i}`);
    const points = (l.points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y }));
    return { ...e, points, labelX: l.x ?? points[0]?.x ?? 0, labelY: l.y ?? points[0]?.y ?? 0 };
  });
  const label = dg.graph();
  return { name, boxes: placed, edges: routed, width: Math.ceil(label.width ?? 0), height: Math.ceil(label.height ?? 0) };
}
