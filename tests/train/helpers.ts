// Gradient-check helpers: build small graphs op by op (no source text, so every attribute
// combination is reachable), fill them with seeded random numbers, and compare autodiff's
// gradients with central finite differences of the forward reference, all in float64.

import { expect } from "vitest";
import type { Graph, Node, Value, Weight, WeightRole } from "../../compiler/ir/graph.js";
import type { Op, PadSpec } from "../../compiler/ir/ops.js";
import { inferShape } from "../../compiler/ir/shapes.js";
import { SourceFile } from "../../compiler/source.js";
import { analyse } from "../../compiler/analyse.js";
import { autodiff, type LossName } from "../../compiler/train/autodiff.js";
import type { TrainGraph } from "../../compiler/train/graph.js";
import { referenceSample } from "../../compiler/train/reference-step.js";
import { lossAndGrad } from "../../compiler/reference/grad/loss.js";
import { interpret } from "../../compiler/reference/interpret.js";
import type { Tensor } from "../../compiler/reference/tensor.js";
import { rng, type Rng } from "../rng.js";

export { rng, type Rng };

/** LeNet as in examples/lenet.cnn, without its train declaration (tests add their own). */
export const LENET = `
network lenet(image: f32[1, 28, 28]) -> probs {
  c1 = image |> conv1: conv(6, 5x5, pad: same) |> relu |> maxpool(2x2, stride: 2)
  c2 = c1 |> conv2: conv(16, 5x5) |> relu |> maxpool(2x2, stride: 2)
  probs = c2 |> flatten |> fc1: dense(120) |> relu |> fc2: dense(84) |> relu
             |> fc3: dense(10) |> softmax
}
`;


export function randomTensor(r: Rng, shape: readonly number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return { shape: [...shape], data: Float64Array.from({ length: n }, () => lo + (hi - lo) * r.next()) };
}

const span = { start: 0, end: 0 };

/** Builds a graph node by node; shapes by the IR's own shape rules. */
export class Builder {
  readonly values: Value[] = [];
  readonly nodes: Node[] = [];
  readonly weights: Weight[] = [];
  readonly inputs: { name: string; value: number; span: typeof span }[] = [];

  input(shape: readonly number[], name = `x${this.inputs.length}`): number {
    const id = this.values.length;
    this.values.push({ id, shape: [...shape], producer: undefined, name });
    this.inputs.push({ name, value: id, span });
    return id;
  }

  shape(v: number): number[] {
    return this.values[v].shape as number[];
  }

  /** Adds a node; `weights` gives each role's shape from the input and output shapes, or an existing Weight to share. */
  node(op: Op, inputs: readonly number[], weights: Partial<Record<WeightRole, ((x: number[], y: number[]) => number[]) | Weight>> = {}, layer = `l${this.nodes.length}`): number {
    const r = inferShape(op, inputs.map((v) => this.values[v].shape));
    if (!r.ok) throw new Error(`${op.kind}: ${r.message}`);
    const out = this.values.length;
    this.values.push({ id: out, shape: r.shape, producer: this.nodes.length, name: layer });
    const ws: Partial<Record<WeightRole, Weight>> = {};
    for (const [role, spec] of Object.entries(weights) as [WeightRole, ((x: number[], y: number[]) => number[]) | Weight][]) {
      if (typeof spec !== "function") {
        ws[role] = spec;
        continue;
      }
      const shape = spec(this.shape(inputs[0]), r.shape as number[]);
      const w: Weight = { id: this.weights.length, name: `${layer}.${role}`, shape, data: new Float32Array(shape.reduce((p, d) => p * d, 1)), source: { kind: "literal" } };
      this.weights.push(w);
      ws[role] = w;
    }
    this.nodes.push({ id: this.nodes.length, op, inputs, output: out, weights: ws, layer, span });
    return out;
  }

  graph(output: number): Graph {
    return {
      name: "t",
      file: new SourceFile("t.cnn", ""),
      inputs: this.inputs,
      outputs: [{ name: "y", value: output, span }],
      values: this.values,
      nodes: this.nodes,
      weights: this.weights,
      symbols: [],
    };
  }
}

export interface CheckOptions {
  readonly loss?: LossName;
  /** At most this many coordinates of each tensor are checked (chosen at random). */
  readonly coordinates?: number;
  readonly tolerance?: number;
  /** Weights drawn from [lo, hi] per role (batch norm's variance must stay positive). */
  readonly weightRange?: Partial<Record<WeightRole, [number, number]>>;
  readonly inputRange?: [number, number];
  readonly target?: (r: Rng, shape: readonly number[]) => Tensor;
  /** Keep the graph's own (initialised) weights instead of drawing new ones: whole networks saturate on [-1, 1]. */
  readonly graphWeights?: boolean;
}

/** Class targets: a random class in [0, classes) at each position. */
export const classes =
  (n: number) =>
  (r: Rng, shape: readonly number[]): Tensor => ({ shape: [...shape], data: Float64Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => r.int(0, n - 1)) });

/** Random inputs, weights and target; autodiff's gradients of every weight and input against central differences. */
export function checkGradients(g: Graph, r: Rng, o: CheckOptions = {}): TrainGraph {
  const tg = autodiff(g, { loss: o.loss ?? "mse", inputGradients: true });
  const inputs = new Map(g.inputs.map((io) => [io.name, randomTensor(r, g.values[io.value].shape as number[], ...(o.inputRange ?? [-1, 1]))]));
  const weights = new Map(
    g.weights.map((w) => [w, o.graphWeights ? { shape: w.shape, data: Float64Array.from(w.data) } : randomTensor(r, w.shape, ...(o.weightRange?.[roleOf(g, w)] ?? [-1, 1]))]),
  );
  const target = o.target ? o.target(r, tg.targetShape) : randomTensor(r, tg.targetShape);
  const got = referenceSample(tg, inputs, target, weights);
  const lossAt = (): number => {
    const env = new Map<number, Tensor>();
    interpret(g, inputs, env, weights);
    return lossAndGrad(tg.lossKind, env.get(tg.prediction) as Tensor, target).loss;
  };
  const h = 1e-6;
  const tol = o.tolerance ?? 1e-6;
  const check = (what: string, t: Tensor, grad: Tensor | undefined): void => {
    expect(grad, `${what} has a gradient`).toBeDefined();
    const n = t.data.length;
    const picks = n <= (o.coordinates ?? 48) ? [...Array(n).keys()] : Array.from({ length: o.coordinates ?? 48 }, () => r.int(0, n - 1));
    for (const i of picks) {
      const keep = t.data[i];
      t.data[i] = keep + h;
      const up = lossAt();
      t.data[i] = keep - h;
      const down = lossAt();
      t.data[i] = keep;
      const numeric = (up - down) / (2 * h);
      const analytic = (grad as Tensor).data[i];
      const err = Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric));
      if (err > tol) expect.fail(`${what}[${i}]: autodiff ${analytic}, finite differences ${numeric}`);
    }
  };
  for (const [name, t] of inputs) check(`input ${name}`, t, got.inputGradients.get(name));
  for (const [w, t] of weights) if (w.name.endsWith(".weight") || w.name.endsWith(".bias")) check(w.name, t, got.gradients.get(w));
  return tg;
}

function roleOf(g: Graph, w: Weight): WeightRole {
  for (const n of g.nodes) for (const [role, x] of Object.entries(n.weights)) if (x === w) return role as WeightRole;
  return "weight";
}

/** A random window geometry of `d` spatial axes for gradient tests: kernel, stride, dilation, padding and an input that fits. */
export interface Window {
  kernel: number[];
  stride: number[];
  dilation: number[];
  pad: PadSpec;
  spatial: number[];
}

export function randomWindow(r: Rng, d: number, maxK = 3): Window {
  const kernel = Array.from({ length: d }, () => r.int(1, d === 3 ? 2 : maxK));
  const stride = Array.from({ length: d }, () => r.int(1, 2));
  const dilation = Array.from({ length: d }, () => (r.bool(0.3) ? 2 : 1));
  const kind = r.pick(["valid", "same", "full", "explicit"] as const);
  const pad: PadSpec =
    kind === "explicit"
      ? { kind, before: kernel.map(() => r.int(0, 1)), after: kernel.map(() => r.int(0, 2)) }
      : { kind };
  const spatial = kernel.map((k, i) => (k - 1) * dilation[i] + 1 + r.int(0, d === 3 ? 2 : 4));
  return { kernel, stride, dilation, pad, spatial };
}

/** Every weight of a training graph from the seed (a running variance kept positive, as a real one is). */
export function seedWeights(tg: TrainGraph, seed: number): void {
  for (const w of tg.forward.weights) {
    const variance = w.name.endsWith("running_var");
    w.data = Float32Array.from(w.data, (_, i) => (variance ? 0.5 + Math.abs(Math.sin(seed * 5 + i)) : Math.sin(seed * 7 + i) * 0.5));
  }
}

/** A network's training graph under `loss` (batch norm on running statistics unless `batchStatistics`). */
export function trainGraphOf(source: string, loss: LossName, batchStatistics = false): TrainGraph {
  const a = analyse(source, { fileName: "n.cnn" });
  if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
  return autodiff(a.graph, { loss, batchStatistics });
}
