// `cnnc explain`: per layer, its name, op, output shape, parameter count and FLOPs (2 per
// multiply-add, the convention of GFLOP/s tables), then totals. Sizes may be symbolic, so
// counts are Dims and print as expressions over the input's size symbols.

import * as D from "./ir/dim.js";
import type { Dim } from "./ir/dim.js";
import type { Graph, Node } from "./ir/graph.js";
import { assertNever } from "./ir/ops.js";
import type { Plan } from "./plan/plan.js";

export interface LayerRow {
  readonly layer: string;
  readonly op: string;
  readonly shape: string;
  readonly params: number;
  readonly flops: Dim;
}

function opLabel(n: Node): string {
  const op = n.op;
  switch (op.kind) {
    case "conv": {
      const parts = [`${op.filters}`, op.kernel.join("x")];
      if (op.stride.some((s) => s !== 1)) parts.push(`stride ${op.stride.join("x")}`);
      if (op.pad.kind !== "valid") parts.push(`pad ${op.pad.kind === "explicit" ? op.pad.before.map((b, i) => `${b}/${op.pad.kind === "explicit" ? op.pad.after[i] : 0}`).join(",") : op.pad.kind}`);
      if (op.dilation.some((s) => s !== 1)) parts.push(`dilation ${op.dilation.join("x")}`);
      if (op.groups !== 1) parts.push(`groups ${op.groups}`);
      if (op.flip) parts.push("flip");
      return `conv${op.kernel.length}d(${parts.join(", ")})`;
    }
    case "local":
    case "tiled":
    case "deconv": {
      const extra = op.kind === "tiled" ? `, tiles ${op.tiles.join("x")}` : op.kind === "deconv" ? `, out ${op.out.map(D.printDim).join("x")}` : "";
      const stride = op.stride.some((s) => s !== 1) ? `, stride ${op.stride.join("x")}` : "";
      return `${op.kind}${op.kernel.length}d(${op.filters}, ${op.kernel.join("x")}${stride}${extra})`;
    }
    case "batchnorm":
      return "batchnorm";
    case "maxout":
      return `maxout(${op.k})`;
    case "pool":
      return `${op.mode}pool${op.window.length}d(${op.window.join("x")}, stride ${op.stride.join("x")}${op.ceil ? ", ceil" : ""})`;
    case "adaptive_pool":
      return `adaptive ${op.mode}pool(out ${op.out.join("x")})`;
    case "dense":
      return `dense(${op.units})`;
    case "activation":
      return op.fn === "leaky_relu" ? `leaky_relu(${op.alpha})` : op.fn;
    case "softmax":
    case "flatten":
    case "concat":
      return op.kind;
    case "reshape":
      return `reshape([${op.shape.join(", ")}])`;
    case "add":
      return "+";
    case "mul":
      return "*";
    default:
      return assertNever(op);
  }
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
      return D.mul(outSize, 3);
    case "flatten":
    case "reshape":
    case "concat":
      return 0;
    default:
      return assertNever(op);
  }
}

export function layerRows(g: Graph): LayerRow[] {
  const seen = new Set<object>();
  return g.nodes.map((n) => {
    let params = 0;
    for (const w of Object.values(n.weights)) {
      // A shared layer's parameters are counted once, where they first appear.
      if (w && !seen.has(w)) {
        seen.add(w);
        params += w.data.length;
      }
    }
    return { layer: n.layer, op: opLabel(n), shape: D.printShape(g.values[n.output].shape), params, flops: flops(g, n) };
  });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}

export function explain(g: Graph, plan: Plan): string {
  const rows = layerRows(g);
  const lines: string[] = [];
  const ins = g.inputs.map((i) => `${i.name}: f32${D.printShape(g.values[i.value].shape)}`).join(", ");
  const outs = g.outputs.map((o) => `${o.name}: f32${D.printShape(g.values[o.value].shape)}`).join(", ");
  lines.push(`network ${g.name}(${ins}) -> (${outs})`, "");
  const header = ["layer", "op", "output", "params", "FLOPs"];
  lines.push(table([header, ...rows.map((r) => [r.layer, r.op, r.shape, String(r.params), D.printDim(r.flops)])]));
  const totalParams = rows.reduce((a, r) => a + r.params, 0);
  const totalFlops = rows.reduce<Dim>((a, r) => D.add(a, r.flops), 0);
  lines.push("", `parameters: ${totalParams}`, `FLOPs per sample: ${D.printDim(totalFlops)}`);
  lines.push(`kernels: ${plan.steps.length}; activation memory: ${D.printDim(D.mul(plan.arenaElements, 4))} bytes; weights: ${plan.weightData.byteLength} bytes`);
  return lines.join("\n");
}
