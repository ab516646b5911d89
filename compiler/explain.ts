// `cnnc explain`: per layer, its name, op, output shape, parameter count and FLOPs (2 per
// multiply-add, the convention of GFLOP/s tables), then totals. Sizes may be symbolic, so
// counts are Dims and print as expressions over the input's size symbols.

import * as D from "./ir/dim.js";
import type { Dim } from "./ir/dim.js";
import type { Graph, Node } from "./ir/graph.js";
import { fusedLabel, opLabel } from "./ir/print.js";
import { assertNever } from "./ir/ops.js";
import type { Plan } from "./plan/plan.js";

export interface LayerRow {
  readonly layer: string;
  readonly op: string;
  readonly shape: string;
  readonly params: number;
  readonly flops: Dim;
  readonly algorithm: string;
}

function flops(g: Graph, n: Node): Dim {
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

/** One row per kernel of the optimised graph; FLOPs and parameters of fused layers included. */
export function layerRows(g: Graph, source: Graph): LayerRow[] {
  const seen = new Set<object>();
  const flopsOf = new Map<string, Dim>();
  for (const n of source.nodes) flopsOf.set(n.layer, D.add(flopsOf.get(n.layer) ?? 0, flops(source, n)));
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
    let total: Dim = flops(g, n);
    if (!counted.has(n.layer) && flopsOf.has(n.layer)) {
      total = [n.layer, ...(n.fused ?? [])].reduce<Dim>((a, l) => D.add(a, flopsOf.get(l) ?? 0), 0);
      for (const l of [n.layer, ...(n.fused ?? [])]) counted.add(l);
    }
    const layer = n.fused?.length ? `${n.layer} (+ ${n.fused.join(", ")})` : n.layer;
    return {
      layer,
      op: [opLabel(n.op), ...(n.epilogue ?? []).map(fusedLabel)].join(" |> "),
      shape: D.printShape(g.values[n.output].shape),
      params,
      flops: total,
      algorithm: n.algorithm ? `${n.algorithm.name}: ${n.algorithm.reason}` : "",
    };
  });
}

function table(rows: string[][], numeric: ReadonlySet<number>): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}

const bytes = (elements: Dim) => `${D.printDim(D.mul(elements, 4))} bytes`;

/**
 * `cnnc explain`: one row per kernel of the optimised graph (fused layers shown with their
 * producer), the algorithm chosen per convolution and why, totals, and activation memory
 * before and after planning.
 */
export function explain(g: Graph, source: Graph, plan: Plan): string {
  const rows = layerRows(g, source);
  const lines: string[] = [];
  const ins = g.inputs.map((i) => `${i.name}: f32${D.printShape(g.values[i.value].shape)}`).join(", ");
  const outs = g.outputs.map((o) => `${o.name}: f32${D.printShape(g.values[o.value].shape)}`).join(", ");
  lines.push(`network ${g.name}(${ins}) -> (${outs})`, "");
  const header = ["layer", "op", "output", "params", "FLOPs", "algorithm"];
  lines.push(table([header, ...rows.map((r) => [r.layer, r.op, r.shape, String(r.params), D.printDim(r.flops), r.algorithm])], new Set([3, 4])));
  const totalParams = rows.reduce((a, r) => a + r.params, 0);
  const totalFlops = source.nodes.reduce<Dim>((a, n) => D.add(a, flops(source, n)), 0);
  lines.push("", `parameters: ${totalParams}`, `FLOPs per sample: ${D.printDim(totalFlops)}`);
  lines.push(`kernels: ${plan.steps.length} (from ${source.nodes.length} layers)`);
  lines.push(`activation memory: ${bytes(plan.arenaElements)} planned (${bytes(plan.unplannedElements)} without reuse); weights: ${plan.weightData.byteLength} bytes`);
  return lines.join("\n");
}
