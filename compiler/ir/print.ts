// The IR as text, one line per node: what pass tests compare before and after a pass, and
// what `cnnc explain --ir` prints. Values are `%id`; fused work follows `|>`; the chosen
// algorithm follows `@`.

import * as D from "./dim.js";
import { type FusedOp, type Graph, type Node, ownInputs } from "./graph.js";
import { type ActivationFn, assertNever, type Op } from "./ops.js";

/** `conv2d(6, 5x5, pad same)`: an op with the attributes that differ from the defaults. */
export function opLabel(op: Op): string {
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
      return activationLabel(op.fn, op.alpha, op.beta);
    case "softmax":
    case "log_softmax":
    case "flatten":
    case "concat":
      return op.kind;
    case "reshape":
      return `reshape([${op.shape.join(", ")}])`;
    case "resize":
      return `resize(size: [${op.out.join(", ")}], mode: ${op.mode}, coord: ${op.coord}${op.mode === "nearest" ? `, round: ${op.round}` : ""})`;
    case "matmul":
      return "matmul";
    case "transpose":
      return `transpose([${op.perm.join(", ")}])`;
    case "pad":
      return `pad([${op.before.map((b, i) => `[${b}, ${op.after[i]}]`).join(", ")}]${op.mode !== "constant" ? `, mode: ${op.mode}` : ""}${op.value !== 0 ? `, value: ${op.value}` : ""})`;
    case "slice":
      return `slice(${op.start}, ${op.end}, axis: ${op.axis}${op.step !== 1 ? `, step: ${op.step}` : ""})`;
    case "add":
      return "+";
    case "mul":
      return "*";
    default:
      return assertNever(op);
  }
}


export function fusedLabel(e: FusedOp): string {
  switch (e.kind) {
    case "activation":
      return activationLabel(e.fn, e.alpha, e.beta);
    case "add":
      return `+ %${e.value}`;
    case "pool":
      return opLabel(e.op);
  }
}

export function printNode(g: Graph, n: Node): string {
  const args = ownInputs(n);
  let line = `%${n.output} = ${n.layer}: ${opLabel(n.op)}(${args.map((v) => `%${v}`).join(", ")})`;
  for (const e of n.epilogue ?? []) line += ` |> ${fusedLabel(e)}`;
  line += ` : f32${D.printShape(g.values[n.output].shape)}`;
  if (n.algorithm) line += ` @${n.algorithm.name}`;
  return line;
}

export function printGraph(g: Graph): string {
  const ins = g.inputs.map((i) => `%${i.value} ${i.name}: f32${D.printShape(g.values[i.value].shape)}`).join(", ");
  const outs = g.outputs.map((o) => `${o.name} = %${o.value}`).join(", ");
  return [`network ${g.name}(${ins}) -> (${outs})`, ...g.nodes.map((n) => `  ${printNode(g, n)}`)].join("\n");
}

/** An activation as written in `.cnn`: `relu`, `leaky_relu(0.1)`, `clip(0, 6)`. */
export function activationLabel(fn: ActivationFn, alpha: number, beta?: number): string {
  switch (fn) {
    case "leaky_relu":
    case "elu":
    case "pow":
      return `${fn}(${alpha})`;
    case "clip":
    case "hardsigmoid":
    case "selu":
      return `${fn}(${alpha}, ${beta ?? 0})`;
    default:
      return fn;
  }
}
