// Test helper: builds small plans by hand (as the plan builder would from a graph), runs
// them through emitWasm + WasmExecutor, and runs the same layers through the reference ops,
// so every test is "this op with these attributes equals its definition".
import * as D from "../../../compiler/ir/dim.js";
import type { Dim } from "../../../compiler/ir/dim.js";
import { type Op, assertNever } from "../../../compiler/ir/ops.js";
import { inferShape } from "../../../compiler/ir/shapes.js";
import type { Epilogue, Plan, PlanBuffer, PlanWeight, Step } from "../../../compiler/plan/plan.js";
import { emitWasm } from "../../../compiler/backends/wasm/module.js";
import * as R from "../../../compiler/reference/index.js";
import type { Tensor } from "../../../compiler/reference/tensor.js";
import { WasmExecutor } from "../../../runtime/wasm.js";
import { relativeError } from "../../relative-error.js";

/** mulberry32: a small seeded generator, so every random configuration can be replayed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  bool(): boolean {
    return this.next() < 0.5;
  }
  /** f32-representable values in [-1, 1), so f32 and f64 inputs are the same numbers. */
  f32(n: number, scale = 1): Float32Array {
    return Float32Array.from({ length: n }, () => Math.fround((this.next() * 2 - 1) * scale));
  }
}

export interface Layer {
  readonly op: Op;
  readonly inputs: readonly number[];
  readonly weight?: { shape: number[]; data: Float32Array };
  readonly bias?: { shape: number[]; data: Float32Array };
  /** batchnorm's running statistics. */
  readonly mean?: { shape: number[]; data: Float32Array };
  readonly variance?: { shape: number[]; data: Float32Array };
  readonly epilogue: readonly Epilogue[];
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * A plan under construction. Values are numbered: inputs first, then one per layer. Buffers
 * are laid out one after another with a gap of `gap` elements (a multiple of 4) between them,
 * so a kernel that reads or writes past its tensor shows up as a wrong result.
 */
export class PlanBuilder {
  readonly shapes: Dim[][] = [];
  readonly layers: Layer[] = [];
  readonly inputNames: string[] = [];
  private outputsList: { name: string; value: number }[] = [];

  constructor(
    readonly symbols: readonly string[] = [],
    private readonly gap = 4,
  ) {}

  input(name: string, shape: readonly Dim[]): number {
    if (this.layers.length) throw new Error("inputs come first");
    this.shapes.push([...shape]);
    this.inputNames.push(name);
    return this.shapes.length - 1;
  }

  layer(op: Op, inputs: readonly number[], rng?: Rng, epilogue: readonly Epilogue[] = []): number {
    const r = inferShape(
      op,
      inputs.map((v) => this.shapes[v]),
    );
    if (!r.ok) throw new Error(`invalid test layer: ${r.message}`);
    const x = this.shapes[inputs[0]];
    let weight: Layer["weight"];
    let bias: Layer["bias"];
    let mean: Layer["mean"];
    let variance: Layer["variance"];
    const random = (shape: number[], scale = 1) => ({ shape, data: (rng as Rng).f32(shape.reduce((a, b) => a * b, 1), scale) });
    if (op.kind === "conv") {
      const cin = x[0];
      if (typeof cin !== "number") throw new Error("symbolic channels");
      weight = random([op.filters, cin / op.groups, ...op.kernel]);
      if (op.bias === "channel") bias = random([op.filters]);
      else if (op.bias === "location") {
        if (!D.allStatic(r.shape)) throw new Error("location bias needs a static output");
        bias = random(r.shape);
      }
    } else if (op.kind === "local") {
      const cin = x[0];
      if (typeof cin !== "number" || !D.allStatic(r.shape)) throw new Error("local needs static sizes");
      weight = random([op.filters, ...r.shape.slice(1), cin, ...op.kernel]);
      if (op.bias === "location") bias = random(r.shape);
    } else if (op.kind === "tiled") {
      const cin = x[0];
      if (typeof cin !== "number") throw new Error("symbolic channels");
      weight = random([op.filters, cin, ...op.kernel, ...op.tiles]);
      if (op.bias === "tiled") bias = random([op.filters, ...op.tiles]);
    } else if (op.kind === "deconv") {
      const cin = x[0];
      if (typeof cin !== "number") throw new Error("symbolic channels");
      weight = random([cin, op.filters / op.groups, ...op.kernel]);
      if (op.bias === "channel") bias = random([op.filters]);
    } else if (op.kind === "batchnorm") {
      const c = x[0];
      if (typeof c !== "number") throw new Error("symbolic channels");
      weight = random([c]);
      bias = random([c]);
      mean = random([c]);
      // Variances in [0.05, 2): positive, some small enough that eps matters.
      const v = (rng as Rng).f32(c);
      variance = { shape: [c], data: v.map((u) => Math.fround(0.05 + (u + 1) * 0.975)) };
    } else if (op.kind === "dense") {
      const n = D.product(x);
      if (typeof n !== "number") throw new Error("symbolic dense");
      weight = random([op.units, n]);
      if (op.bias === "channel") bias = random([op.units]);
    }
    this.shapes.push(r.shape);
    this.layers.push({ op, inputs, weight, bias, mean, variance, epilogue });
    return this.shapes.length - 1;
  }

  output(name: string, value: number): void {
    this.outputsList.push({ name, value });
  }

  get outputs(): readonly { name: string; value: number }[] {
    return this.outputsList;
  }

  build(name = "test"): Plan {
    const buffers: PlanBuffer[] = [];
    let arena: Dim = 0;
    const bufferOf: number[] = [];
    const newBuffer = (value: number) => {
      const elements = D.product(this.shapes[value]);
      buffers.push({ id: buffers.length, elements, offset: arena });
      bufferOf[value] = buffers.length - 1;
      arena = D.add(D.add(arena, D.mul(D.ceildiv(elements, 4), 4)), this.gap);
    };
    const weights: PlanWeight[] = [];
    const chunks: { offset: number; data: Float32Array }[] = [];
    // Weights start 4 elements in, so no kernel gets away with assuming offset 0.
    let weightElements = 4;
    const addWeight = (name: string, w: { shape: number[]; data: Float32Array } | undefined): PlanWeight | undefined => {
      if (!w) return undefined;
      const pw = { name, offset: weightElements, shape: w.shape, length: w.data.length };
      weights.push(pw);
      chunks.push({ offset: weightElements, data: w.data });
      weightElements += align4(w.data.length) + 4;
      return pw;
    };
    this.inputNames.forEach((_, i) => newBuffer(i));
    const steps: Step[] = this.layers.map((l, i) => {
      const value = this.inputNames.length + i;
      newBuffer(value);
      return {
        id: i,
        layer: `layer ${i}/${l.op.kind}`,
        op: l.op,
        inputs: l.inputs.map((v) => ({ buffer: bufferOf[v], shape: this.shapes[v] })),
        output: { buffer: bufferOf[value], shape: this.shapes[value] },
        weight: addWeight(`l${i}.weight`, l.weight),
        bias: addWeight(`l${i}.bias`, l.bias),
        mean: addWeight(`l${i}.running_mean`, l.mean),
        variance: addWeight(`l${i}.running_var`, l.variance),
        epilogue: l.epilogue,
      };
    });
    const weightData = new Float32Array(weightElements);
    for (const c of chunks) weightData.set(c.data, c.offset);
    const io = (n: string, v: number) => ({ name: n, buffer: bufferOf[v], shape: this.shapes[v] });
    return {
      name,
      symbols: this.symbols,
      inputs: this.inputNames.map((n, i) => io(n, i)),
      outputs: this.outputsList.map((o) => io(o.name, o.value)),
      buffers,
      steps,
      weights,
      weightData,
      arenaElements: arena,
      unplannedElements: arena,
      checks: [],
    };
  }

  /** The reference's outputs for the given inputs (float64). */
  reference(inputs: readonly Float32Array[], env: D.DimEnv = {}): Float64Array[] {
    const values: Tensor[] = inputs.map((data, i) => ({ shape: D.evalDims(this.shapes[i], env), data: Float64Array.from(data) }));
    const t = (w: { shape: number[]; data: Float32Array } | undefined): Tensor | undefined =>
      w ? { shape: w.shape, data: Float64Array.from(w.data) } : undefined;
    for (const l of this.layers) {
      const xs = l.inputs.map((v) => values[v]);
      let y = applyOp(l.op, xs, env, t(l.weight), t(l.bias), t(l.mean), t(l.variance));
      for (const e of l.epilogue) {
        y = e.kind === "add" ? R.binary("add", y, xs[e.input]) : R.activation(y, { kind: "activation", fn: e.fn, alpha: e.alpha });
      }
      values.push(y);
    }
    return this.outputsList.map((o) => values[o.value].data);
  }
}

function applyOp(op: Op, xs: Tensor[], env: D.DimEnv, weight: Tensor | undefined, bias: Tensor | undefined, mean?: Tensor, variance?: Tensor): Tensor {
  switch (op.kind) {
    case "conv":
      return R.conv(xs[0], op, weight as Tensor, bias);
    case "local":
      return R.local(xs[0], op, weight as Tensor, bias);
    case "tiled":
      return R.tiled(xs[0], op, weight as Tensor, bias);
    case "deconv":
      return R.deconv(xs[0], op, weight as Tensor, bias, env);
    case "batchnorm":
      return R.batchnorm(xs[0], op, { gamma: weight as Tensor, beta: bias as Tensor, mean: mean as Tensor, variance: variance as Tensor });
    case "maxout":
      return R.maxout(xs[0], op);
    case "pool":
      return R.pool(xs[0], op);
    case "adaptive_pool":
      return R.adaptivePool(xs[0], op);
    case "dense":
      return R.dense(xs[0], op, weight as Tensor, bias);
    case "activation":
      return R.activation(xs[0], op);
    case "softmax":
      return R.softmax(xs[0]);
    case "log_softmax":
      return R.logSoftmax(xs[0]);
    case "flatten":
      return R.flatten(xs[0]);
    case "reshape":
      return R.reshape(xs[0], op.shape);
    case "add":
    case "mul":
      return R.binary(op.kind, xs[0], xs[1]);
    case "concat":
      return R.concat(xs);
    case "slice":
      return R.slice(xs[0], op);
    case "pad":
      return R.pad(xs[0], op);
    case "resize":
      return R.resize(xs[0], op);
    case "transpose":
      return R.transpose(xs[0], op);
    case "matmul":
      return R.matmul(xs[0], xs[1]);
    default:
      return assertNever(op);
  }
}

/** Compiles the plan and runs one sample. */
export async function runWasm(plan: Plan, inputs: readonly Float32Array[], env: D.DimEnv = {}): Promise<Float32Array[]> {
  const emitted = emitWasm(plan);
  const { manifest } = emitted;
  const exec = await WasmExecutor.create(emitted, manifest, plan.weightData);
  return exec.runSample(env, plan.symbols, inputs);
}

/** The measure the tolerances are stated in (every backend is held to 1e-5 of the reference). */
export { relativeError };

/** Builds one layer on random inputs, runs it both ways, returns the relative error per output. */
export async function checkLayer(
  inputShapes: readonly (readonly number[])[],
  op: Op,
  seed: number,
  epilogue: readonly Epilogue[] = [],
  inputScale = 2,
): Promise<number> {
  const rng = new Rng(seed);
  const b = new PlanBuilder();
  const ins = inputShapes.map((s, i) => b.input(`x${i}`, s));
  b.output("y", b.layer(op, ins, rng, epilogue));
  const inputs = inputShapes.map((s) => rng.f32(s.reduce((a, c) => a * c, 1), inputScale));
  const [got] = await runWasm(b.build(), inputs);
  const [want] = b.reference(inputs);
  return relativeError(got, want);
}

export const TOLERANCE = 1e-5;
