// One-step Plans built by hand (no parser needed): an op, its input shapes (static or
// symbolic), seeded random inputs and weights, the reference's answer for them, and a runner
// that compiles the plan to WGSL and runs it on a WebGPU adapter found the way `cnnc` finds
// one in Node (Dawn: a GPU, else Vulkan or OpenGL ES software rendering).

import * as D from "../../../compiler/ir/dim.js";
import type { Dim } from "../../../compiler/ir/dim.js";
import { inferShape } from "../../../compiler/ir/shapes.js";
import type { Op } from "../../../compiler/ir/ops.js";
import type { Epilogue, Plan, PlanBuffer, PlanWeight, Step } from "../../../compiler/plan/plan.js";
import * as R from "../../../compiler/reference/index.js";
import { emitWgsl, type WgslOptions } from "../../../compiler/backends/wgsl/module.js";
import { type AdapterChoice, type ExecutorOptions, findAdapter, WebGpuExecutor } from "../../../runtime/webgpu.js";

/** mulberry32: small, seeded, the same everywhere. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomData(n: number, seed: number, scale = 1): Float32Array {
  const r = random(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

export interface OneStep {
  readonly plan: Plan;
  /** batchnorm: running mean and variance. */
  readonly mean?: Float32Array;
  readonly variance?: Float32Array;
  readonly weight?: Float32Array;
  readonly weightShape?: number[];
  readonly bias?: Float32Array;
  readonly biasShape?: number[];
}

/** The weight and bias shapes an op takes, given its static input and output shapes. */
function parameterShapes(op: Op, input: readonly number[], output: readonly number[]): { weight?: number[]; bias?: number[]; stats?: number[] } {
  switch (op.kind) {
    case "local":
      return { weight: [op.filters, ...output.slice(1), input[0], ...op.kernel], bias: op.bias === "location" ? [...output] : undefined };
    case "tiled":
      return { weight: [op.filters, input[0], ...op.kernel, ...op.tiles], bias: op.bias === "tiled" ? [op.filters, ...op.tiles] : undefined };
    case "deconv":
      return { weight: [input[0], op.filters / op.groups, ...op.kernel], bias: op.bias === "channel" ? [op.filters] : undefined };
    case "batchnorm":
      return { weight: [input[0]], bias: [input[0]], stats: [input[0]] };
    case "conv":
      return {
        weight: [op.filters, input[0] / op.groups, ...op.kernel],
        bias: op.bias === "channel" ? [op.filters] : op.bias === "location" ? [...output] : undefined,
      };
    case "dense":
      return { weight: [op.units, input.reduce((a, b) => a * b, 1)], bias: op.bias === "channel" ? [op.units] : undefined };
    default:
      return {};
  }
}

/**
 * A plan with one step computing `op` on inputs of the given shapes. `staticShapes` are the
 * same shapes with every symbol bound (used to size the weights, which never depend on a
 * symbol). Weights are uniform in [-1, 1) from `seed`.
 */
export function oneStepPlan(
  op: Op,
  shapes: readonly (readonly Dim[])[],
  options: { seed?: number; epilogue?: Epilogue[]; symbols?: string[]; env?: Record<string, number>; aliasOutput?: boolean } = {},
): OneStep {
  const env = options.env ?? {};
  const inferred = inferShape(op, shapes);
  if (!inferred.ok) throw new Error(inferred.message);
  const outShape = inferred.shape;
  const params = parameterShapes(
    op,
    shapes[0].map((d) => D.evalDim(d, env)),
    outShape.map((d) => D.evalDim(d, env)),
  );
  const seed = options.seed ?? 1;
  const weights: PlanWeight[] = [];
  let at = 0;
  const add = (name: string, shape: number[] | undefined, s: number): { pw?: PlanWeight; data?: Float32Array } => {
    if (!shape) return {};
    const length = shape.reduce((a, b) => a * b, 1);
    const pw: PlanWeight = { name, offset: at, shape, length };
    at += align4(length);
    weights.push(pw);
    return { pw, data: randomData(length, s) };
  };
  const w = add("layer.weight", params.weight, seed * 7 + 1);
  const b = add("layer.bias", params.bias, seed * 7 + 2);
  const mean = add("layer.running_mean", params.stats, seed * 7 + 3);
  const variance = add("layer.running_var", params.stats, seed * 7 + 4);
  // A variance is positive.
  variance.data?.forEach((v, i, a) => (a[i] = Math.abs(v) + 0.1));
  const weightData = new Float32Array(Math.max(at, 4));
  for (const t of [w, b, mean, variance]) if (t.pw && t.data) weightData.set(t.data, t.pw.offset);

  const buffers: PlanBuffer[] = [];
  let arena: Dim = 0;
  const newBuffer = (shape: readonly Dim[]): number => {
    const elements = D.product(shape);
    buffers.push({ id: buffers.length, elements, offset: arena });
    arena = D.add(arena, D.mul(D.ceildiv(elements, 4), 4));
    return buffers.length - 1;
  };
  const inputs = shapes.map((s, k) => ({ name: `x${k}`, buffer: newBuffer(s), shape: s }));
  // aliasOutput: the step writes over its first input (as an in-place memory plan would).
  const out = options.aliasOutput ? inputs[0].buffer : newBuffer(outShape);
  const step: Step = {
    id: 0,
    layer: "layer",
    op,
    inputs: inputs.map((i) => ({ buffer: i.buffer, shape: i.shape })),
    output: { buffer: out, shape: outShape },
    weight: w.pw,
    bias: b.pw,
    mean: mean.pw,
    variance: variance.pw,
    epilogue: options.epilogue ?? [],
  };
  const plan: Plan = {
    name: "one_step",
    symbols: options.symbols ?? [],
    inputs,
    outputs: [{ name: "y", buffer: out, shape: outShape }],
    buffers,
    steps: [step],
    weights,
    weightData,
    arenaElements: arena,
    unplannedElements: arena,
    checks: inferred.positive,
  };
  return { plan, weight: w.data, weightShape: params.weight, bias: b.data, biasShape: params.bias, mean: mean.data, variance: variance.data };
}

/**
 * A linear chain of single-input ops on one static input: a plan with one step per op, and
 * the reference's answer for an input, computed op by op with the same weights.
 */
export function chainPlan(ops: readonly Op[], input: readonly number[], seed = 1): { plan: Plan; reference: (x: Float32Array) => R.Tensor } {
  const weights: PlanWeight[] = [];
  const data: Float32Array[] = [];
  let at = 0;
  const buffers: PlanBuffer[] = [];
  let arena = 0;
  const newBuffer = (shape: readonly number[]): number => {
    const elements = shape.reduce((a, b) => a * b, 1);
    buffers.push({ id: buffers.length, elements, offset: arena });
    arena += align4(elements);
    return buffers.length - 1;
  };
  let shape = [...input];
  let buffer = newBuffer(shape);
  const steps: Step[] = [];
  const params: { weight?: R.Tensor; bias?: R.Tensor }[] = [];
  ops.forEach((op, k) => {
    const inferred = inferShape(op, [shape]);
    if (!inferred.ok) throw new Error(inferred.message);
    const out = inferred.shape as number[];
    const shapes = parameterShapes(op, shape, out);
    const param = (name: string, pshape: number[] | undefined, s: number) => {
      if (!pshape) return {};
      const length = pshape.reduce((a, b) => a * b, 1);
      const pw: PlanWeight = { name, offset: at, shape: pshape, length };
      const values = randomData(length, s);
      weights.push(pw);
      data.push(values);
      at += align4(length);
      return { pw, t: t64(pshape, values) };
    };
    const w = param(`l${k}.weight`, shapes.weight, seed * 1000 + 2 * k);
    const b = param(`l${k}.bias`, shapes.bias, seed * 1000 + 2 * k + 1);
    params.push({ weight: w.t, bias: b.t });
    const outBuffer = newBuffer(out);
    steps.push({ id: k, layer: `l${k}`, op, inputs: [{ buffer, shape }], output: { buffer: outBuffer, shape: out }, weight: w.pw, bias: b.pw, epilogue: [] });
    shape = out;
    buffer = outBuffer;
  });
  const weightData = new Float32Array(Math.max(at, 4));
  weights.forEach((w, k) => weightData.set(data[k], w.offset));
  const plan: Plan = {
    name: "chain",
    symbols: [],
    inputs: [{ name: "x", buffer: 0, shape: input }],
    outputs: [{ name: "y", buffer, shape }],
    buffers,
    steps,
    weights,
    weightData,
    arenaElements: arena,
    unplannedElements: arena,
    checks: [],
  };
  const reference = (x: Float32Array): R.Tensor =>
    steps.reduce<R.Tensor>((t, step, k) => {
      const single: OneStep = { plan: { ...plan, steps: [step] }, weight: params[k].weight && Float32Array.from(params[k].weight.data), weightShape: params[k].weight?.shape as number[] | undefined, bias: params[k].bias && Float32Array.from(params[k].bias.data), biasShape: params[k].bias?.shape as number[] | undefined };
      return referenceOf(single, [t]);
    }, t64(input, x));
  return { plan, reference };
}

function t64(shape: readonly number[], data: ArrayLike<number>): R.Tensor {
  return { shape: [...shape], data: Float64Array.from(data) };
}

/** The reference's result for a one-step plan (inputs with static shapes). */
export function referenceOf(s: OneStep, inputs: readonly { shape: readonly number[]; data: ArrayLike<number> }[]): R.Tensor {
  const step = s.plan.steps[0];
  const op = step.op;
  const xs = inputs.map((i) => t64(i.shape, i.data));
  const w = s.weight && s.weightShape ? t64(s.weightShape, s.weight) : undefined;
  const b = s.bias && s.biasShape ? t64(s.biasShape, s.bias) : undefined;
  let y: R.Tensor;
  switch (op.kind) {
    case "conv":
      y = R.conv(xs[0], op, w as R.Tensor, b);
      break;
    case "pool":
      y = R.pool(xs[0], op);
      break;
    case "adaptive_pool":
      y = R.adaptivePool(xs[0], op);
      break;
    case "dense":
      y = R.dense(xs[0], op, w as R.Tensor, b);
      break;
    case "activation":
      y = R.activation(xs[0], op);
      break;
    case "softmax":
      y = R.softmax(xs[0]);
      break;
    case "log_softmax":
      y = R.logSoftmax(xs[0]);
      break;
    case "add":
    case "mul":
      y = R.binary(op.kind, xs[0], xs[1]);
      break;
    case "concat":
      y = R.concat(xs);
      break;
    case "flatten":
      y = R.flatten(xs[0]);
      break;
    case "local":
      y = R.local(xs[0], op, w as R.Tensor, b);
      break;
    case "tiled":
      y = R.tiled(xs[0], op, w as R.Tensor, b);
      break;
    case "deconv":
      y = R.deconv(xs[0], op, w as R.Tensor, b);
      break;
    case "batchnorm": {
      const c = [xs[0].shape[0]];
      y = R.batchnorm(xs[0], op, { gamma: w as R.Tensor, beta: b as R.Tensor, mean: t64(c, s.mean as Float32Array), variance: t64(c, s.variance as Float32Array) });
      break;
    }
    case "maxout":
      y = R.maxout(xs[0], op);
      break;
    default:
      throw new Error(`referenceOf: ${op.kind} is not covered by the helper`);
  }
  for (const e of step.epilogue) y = e.kind === "add" ? R.binary("add", y, xs[e.input]) : R.activation(y, { kind: "activation", fn: e.fn, alpha: e.alpha });
  return y;
}

/** A fresh adapter (each makes one device), found the way cnnc finds one; undefined when there is none. */
export function testAdapter(): Promise<AdapterChoice | undefined> {
  return findAdapter().catch(() => undefined);
}

/** Compiles the plan to WGSL and loads it on the shared adapter (dispose() it when done). */
export async function executorFor(
  plan: Plan,
  options: WgslOptions = {},
  runtime: ExecutorOptions = {},
): Promise<{ exec: WebGpuExecutor; wgsl: ReturnType<typeof emitWgsl> }> {
  const choice = await testAdapter();
  if (!choice) throw new Error("no WebGPU adapter");
  const wgsl = emitWgsl(plan, options);
  const exec = await WebGpuExecutor.create(choice.adapter, wgsl.manifest, plan.weightData, wgsl.programs.map((p) => p.code), runtime);
  return { exec, wgsl };
}

/** Compiles the plan to WGSL and runs it on WebGPU; returns the output and the compiled manifest. */
export async function runOnWebGpu(
  plan: Plan,
  inputs: readonly Float32Array[],
  env: Record<string, number> = {},
  options: WgslOptions = {},
  runtime: ExecutorOptions = {},
): Promise<{ output: Float32Array; wgsl: ReturnType<typeof emitWgsl> }> {
  const { exec, wgsl } = await executorFor(plan, options, runtime);
  try {
    const [output] = await exec.runSample(env, inputs);
    return { output, wgsl };
  } finally {
    exec.dispose();
  }
}

export { relativeError as relError } from "../../relative-error.js";
