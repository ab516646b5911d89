// Plan -> WGSL programs and the WebGPU part of the manifest. Memory: one GPU buffer per slot
// of the plan's memory plan (never one arena binding, so no activation has to fit one binding
// with the others; values with disjoint lifetimes share a slot), one per weight tensor (sliced
// out of the weights blob at load). WebGPU forbids binding one buffer as both read-only and
// writable storage in a dispatch, so a step the memory plan runs in place reads its input
// through the output's binding (elementwise kernels), or computes into a scratch buffer that
// is copied back (any other kernel).
//
// Limits are checked here, against the WebGPU defaults or the ones given:
// - storage buffers per shader stage: every family binds at most 4 (compatibility mode's
//   default), concat by dispatching once per input;
// - storage binding size: a step with a tensor larger than one binding is split into
//   several dispatches over sub-ranges of its items, each binding only the elements its
//   items read (the family's range function), at 256-byte aligned offsets; where even one
//   item needs more (a dense layer over a huge input), a GpuLimitError names the layer and
//   the limit, and compile() reports it as a diagnostic;
// - workgroups per dimension: dispatch sizes are Dims of work items; the runtime folds them
//   onto a 3-D grid under the device's own limit, which the prelude's group_index unfolds;
// - workgroup size and storage: at most 256 invocations (the runtime lowers the WG override
//   to a device's smaller limit) and 1 KiB of workgroup memory.
// Symbolic sizes are only known at run time: such steps are not split, and the runtime
// checks their bindings against the device before it dispatches.

import * as D from "../../ir/dim.js";
import { assertNever } from "../../ir/ops.js";
import type { Plan, PlanWeight, Step } from "../../plan/plan.js";
import type { OnProgress } from "../../progress.js";
import type { GpuLimits, WebGpuBinding, WebGpuBuffer, WebGpuCommand, WebGpuIO, WebGpuManifest, WebGpuProgram } from "../../../runtime/manifest.js";
import { activationKernels } from "./activation.js";
import { algorithmKernels } from "./algorithms.js";
import { batchnormKernels } from "./batchnorm.js";
import { binaryKernels } from "./binary.js";
import { concatKernels } from "./concat.js";
import { sliceKernels } from "./slice.js";
import { padKernels } from "./pad.js";
import { resizeKernels } from "./resize.js";
import { transposeKernels } from "./transpose.js";
import { matmulKernels } from "./matmul.js";
import { convKernels } from "./conv.js";
import { deconvKernels } from "./deconv.js";
import { denseKernels } from "./dense.js";
import { localKernels } from "./local.js";
import { maxoutKernels } from "./maxout.js";
import { adaptivePoolKernels, poolKernels, prePoolRange } from "./pool.js";
import { type KernelSpec, Program, type SlotSource, type StepContext, type TensorUse } from "./program.js";
import { softmaxKernels } from "./softmax.js";
import { tiledKernels } from "./tiled.js";

/** The WebGPU defaults (the limits every core adapter offers). */
export const DEFAULT_LIMITS: GpuLimits = {
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16 * 1024,
  maxComputeInvocationsPerWorkgroup: 256,
};

/** Storage binding offsets are multiples of 256 bytes (minStorageBufferOffsetAlignment's default and maximum). */
const ALIGN_ELEMENTS = 64;

export interface WgslOptions {
  /** Limits to compile for (default: the WebGPU defaults); lower ones split more. */
  readonly limits?: Partial<GpuLimits>;
  /** Told before each step's kernels are emitted. */
  readonly onProgress?: OnProgress;
}

export interface WgslProgram {
  readonly file: string;
  readonly key: string;
  readonly family: string;
  readonly code: string;
}

/** The network needs more than a limit allows, and splitting cannot help: a user-facing error. */
export class GpuLimitError extends Error {
  override readonly name = "GpuLimitError";
  constructor(
    readonly layer: string,
    readonly limit: keyof GpuLimits,
    message: string,
  ) {
    super(message);
  }
}

/** Ops whose kernels read input element i only to compute output element i (or, softmax, one position's channels): safe in place. */
const IN_PLACE = new Set<string>(["activation", "softmax", "log_softmax", "add", "mul", "batchnorm", "flatten", "reshape"]);

/** The kernels that implement a fused pool (step.pool). */
const POOLED = new Set<string>(["conv", "local", "tiled", "deconv"]);

const sameDims = (a: readonly D.Dim[], b: readonly D.Dim[]) => a.length === b.length && a.every((d, i) => D.dimEquals(d, b[i]));

/**
 * Binds the step inputs its epilogue adds (residual connections fused into the producer) as
 * `r<k>`, read at the output's index, so they need the output's element range; with a fused
 * pool, at the pre-pool index, so they need the pre-pool range the pooled items' windows read.
 */
function bindResiduals(spec: KernelSpec, step: Step): KernelSpec {
  if (spec.intermediate) return spec;
  const inputs = [...new Set(step.epilogue.flatMap((e) => (e.kind === "add" ? [e.input] : [])))];
  if (inputs.length === 0) return spec;
  const last = spec.tensors.length - 1;
  const residuals: TensorUse[] = inputs.map((k) => ({
    name: `r${k}`,
    buffer: { kind: "activation", id: step.inputs[k].buffer },
    elements: D.product(step.inputs[k].shape),
  }));
  const ranges = spec.ranges;
  const prePool = step.pool && prePoolRange(step.pool, step.output.shape);
  return {
    ...spec,
    tensors: [...spec.tensors.slice(0, last), ...residuals, spec.tensors[last]],
    ranges:
      ranges &&
      (!step.pool || prePool) &&
      ((i0, i1, r0, r1) => {
        const r = ranges(i0, i1, r0, r1);
        const out = r[r.length - 1];
        const at = prePool ? prePool(i0, i1) : out;
        return [...r.slice(0, -1), ...residuals.map(() => at), out];
      }),
  };
}

/** The spec with the aliased inputs unbound: the shader reads them through the output's binding. */
function readThroughOutput(spec: KernelSpec, isAliased: (t: TensorUse) => boolean): KernelSpec {
  const last = spec.tensors.length - 1;
  const keep = spec.tensors.map((t, k) => k === last || !isAliased(t));
  const aliases = new Map(spec.tensors.filter((_, k) => !keep[k]).map((t) => [t.name, spec.tensors[last].name]));
  const ranges = spec.ranges;
  return {
    ...spec,
    tensors: spec.tensors.filter((_, k) => keep[k]),
    aliases,
    ranges: ranges && ((i0, i1, r0, r1) => ranges(i0, i1, r0, r1).filter((_, k) => keep[k])),
  };
}

function kernelsOf(ctx: StepContext): KernelSpec[] {
  const op = ctx.step.op;
  switch (op.kind) {
    case "conv":
      return convKernels(ctx, op);
    case "pool":
      return poolKernels(ctx, op);
    case "adaptive_pool":
      return adaptivePoolKernels(ctx, op);
    case "dense":
      return denseKernels(ctx, op);
    case "activation":
      return activationKernels(ctx, op);
    case "softmax":
    case "log_softmax":
      return softmaxKernels(ctx, op.kind === "log_softmax");
    case "add":
    case "mul":
      return binaryKernels(ctx, op);
    case "concat":
    case "flatten":
    case "reshape":
      return concatKernels(ctx);
    case "slice":
      return sliceKernels(ctx, op);
    case "pad":
      return padKernels(ctx, op);
    case "resize":
      return resizeKernels(ctx, op);
    case "transpose":
      return transposeKernels(ctx, op);
    case "matmul":
      return matmulKernels(ctx);
    case "local":
      return localKernels(ctx, op);
    case "tiled":
      return tiledKernels(ctx, op);
    case "deconv":
      return deconvKernels(ctx, op);
    case "batchnorm":
      return batchnormKernels(ctx, op);
    case "maxout":
      return maxoutKernels(ctx, op);
    default:
      return assertNever(op);
  }
}

/** FNV-1a, for cache keys. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** 128 MiB, 7.1 KiB, 512 bytes. */
function mib(bytes: number): string {
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  if (bytes >= 1048576) return `${fmt(Math.round((bytes / 1048576) * 10) / 10)} MiB`;
  if (bytes >= 1024) return `${fmt(Math.round((bytes / 1024) * 10) / 10)} KiB`;
  return `${bytes} bytes`;
}

export function emitWgsl(plan: Plan, options: WgslOptions = {}): { programs: WgslProgram[]; manifest: WebGpuManifest } {
  const limits: GpuLimits = { ...DEFAULT_LIMITS, ...options.limits };
  if (limits.maxStorageBufferBindingSize < 4 * ALIGN_ELEMENTS * 2) {
    throw new Error(`maxStorageBufferBindingSize must be at least ${4 * ALIGN_ELEMENTS * 2} bytes`);
  }
  const bindingElements = Math.floor(limits.maxStorageBufferBindingSize / 4);

  const buffers: WebGpuBuffer[] = [];
  const activation = new Map<number, number>();
  const producer = new Map<number, string>();
  for (const s of plan.steps) producer.set(s.output.buffer, s.layer);
  // One GPU buffer per slot of the memory plan: plan buffers placed at the same arena offset
  // (values with disjoint lifetimes, or an in-place step's input and output) share it.
  const slots = new Map<string, number>();
  for (const b of plan.buffers) {
    const key = JSON.stringify(b.offset);
    let at = slots.get(key);
    if (at === undefined) {
      at = buffers.length;
      slots.set(key, at);
      const layer = producer.get(b.id) ?? plan.inputs.find((i) => i.buffer === b.id)?.name;
      buffers.push(layer === undefined ? { kind: "activation", elements: b.elements } : { kind: "activation", elements: b.elements, layer });
    } else {
      const slot = buffers[at];
      buffers[at] = { ...slot, elements: D.max(slot.elements, b.elements) };
    }
    activation.set(b.id, at);
  }
  const weightBuffers = new Map<number, number>();
  const weightBuffer = (w: PlanWeight, layer: string): number => {
    let at = weightBuffers.get(w.offset);
    if (at === undefined) {
      at = buffers.length;
      buffers.push({ kind: "weight", elements: w.length, weightOffset: w.offset, layer });
      weightBuffers.set(w.offset, at);
    }
    return at;
  };
  const packedBuffers = new Map<string, number>();
  const packedBuffer = (ws: readonly PlanWeight[], layer: string): number => {
    const key = ws.map((w) => w.offset).join(",");
    let at = packedBuffers.get(key);
    if (at === undefined) {
      at = buffers.length;
      const weightParts = ws.map((w) => ({ offset: w.offset, length: w.length }));
      buffers.push({ kind: "weight", elements: ws.reduce((n, w) => n + w.length, 0), weightParts, layer });
      packedBuffers.set(key, at);
    }
    return at;
  };
  const gpuBuffer = (t: TensorUse, layer: string): number => {
    if (t.buffer.kind === "weight") return weightBuffer(t.buffer.weight, layer);
    if (t.buffer.kind === "packed") return packedBuffer(t.buffer.weights, layer);
    const at = activation.get(t.buffer.id);
    if (at === undefined) throw new Error(`internal error: the plan has no buffer ${t.buffer.id}`);
    return at;
  };

  /** The algorithms' shared scratch buffers, by role. */
  const algorithmScratch = new Map<number, number>();

  const programs: WgslProgram[] = [];
  const manifestPrograms: WebGpuProgram[] = [];
  const programIndex = new Map<string, number>();
  const commands: WebGpuCommand[] = [];
  const needs = { storage: 1, binding: 4, workgroupBytes: 0, invocations: 1 };

  // A fused pool cannot split its channel sum (a pool is not linear in partial sums): where
  // one pooled output's windows read more than one binding holds, the step runs unfused, the
  // producer into a scratch buffer (its sum split as usual), then the pool from it.
  const needsUnfusing = (step: Step): boolean => {
    if (!step.pool) return false;
    try {
      for (const spec of kernelsOf(context(step, undefined))) splitParts(bindResiduals(spec, step), step, bindingElements);
      return false;
    } catch (e) {
      if (e instanceof GpuLimitError && e.limit === "maxStorageBufferBindingSize" && kernelsOf(context({ ...step, pool: undefined }, undefined))[0].reduce) return true;
      throw e;
    }
  };
  const unfuse = (step: Step): Step[] => {
    const pool = step.pool as NonNullable<Step["pool"]>;
    buffers.push({ kind: "scratch", elements: D.product(pool.inShape), layer: step.layer });
    // A pseudo plan buffer id below 0, as for the in-place scratch outputs.
    const id = -buffers.length;
    activation.set(id, buffers.length - 1);
    const prePool = { buffer: id, shape: pool.inShape };
    const producerStep: Step = { ...step, output: prePool, pool: undefined };
    const poolStep: Step = { id: step.id, layer: step.layer, op: pool.op, inputs: [prePool], output: step.output, epilogue: pool.epilogue };
    return [producerStep, poolStep];
  };

  // A convolution step whose algorithm is not direct runs its algorithm's kernels
  // (algorithms.ts) when they honour the limits; else the direct kernel, which computes the
  // same (the passes only choose what fits the default limits; lower ones can still refuse).
  const algorithmFits = (step: Step): boolean => {
    const specs = algorithmKernels(context(step, undefined, false));
    if (!specs) return false;
    return specs.every((made) => {
      const spec = bindResiduals(made, step);
      if (spec.tensors.length > limits.maxStorageBuffersPerShaderStage) return false;
      if ((spec.workgroupBytes ?? 0) > limits.maxComputeWorkgroupStorageSize) return false;
      if (spec.workgroupSize > limits.maxComputeInvocationsPerWorkgroup) return false;
      return spec.tensors.every((t) => typeof t.elements !== "number" || t.elements <= bindingElements);
    });
  };

  let told = -1;
  for (const [i, planned] of plan.steps.entries()) for (const step of needsUnfusing(planned) ? unfuse(planned) : [planned]) {
    // Once per planned step, whatever unfusing made of it.
    if (told !== i) options.onProgress?.({ stage: "emit", part: "webgpu", done: (told = i), total: plan.steps.length, layer: planned.layer });
    const outElements = D.product(step.output.shape);
    const outGpu = activation.get(step.output.buffer);
    const aliased = step.inputs.map((t) => activation.get(t.buffer) === outGpu);
    // In place (the memory plan put the output over an input it last reads): an elementwise
    // kernel reads that input through the output's binding; any other kernel computes into
    // scratch and copies back.
    const inPlace =
      aliased.some(Boolean) &&
      IN_PLACE.has(step.op.kind) &&
      aliased.every((a, k) => !a || sameDims(step.inputs[k].shape, step.output.shape) || (step.op.kind !== "add" && step.op.kind !== "mul" && D.dimEquals(D.product(step.inputs[k].shape), outElements)));
    let scratch: number | undefined;
    if (aliased.some(Boolean) && !inPlace) {
      scratch = buffers.length;
      buffers.push({ kind: "scratch", elements: outElements, layer: step.layer });
    }
    if (step.pool && !POOLED.has(step.op.kind)) throw new Error(`internal error: layer ${step.layer} (${step.op.kind}) has a fused pool, which only convolution-like kernels implement`);
    const ctx = context(step, scratch);
    const aliasedBuffers = new Set(step.inputs.filter((_, k) => aliased[k]).map((t) => t.buffer));
    const stepKernels = step.op.kind === "conv" && algorithmFits(step) ? (algorithmKernels(ctx) as KernelSpec[]) : kernelsOf(ctx);
    for (const made of stepKernels) {
      const withResiduals = bindResiduals(made, step);
      const spec = inPlace ? readThroughOutput(withResiduals, (t) => t.buffer.kind === "activation" && aliasedBuffers.has(t.buffer.id)) : withResiduals;
      const storage = spec.tensors.length;
      if (storage > limits.maxStorageBuffersPerShaderStage) {
        throw new GpuLimitError(step.layer, "maxStorageBuffersPerShaderStage", `layer ${step.layer}: its ${spec.family} kernel binds ${storage} storage buffers, over maxStorageBuffersPerShaderStage (${limits.maxStorageBuffersPerShaderStage})`);
      }
      const wgBytes = spec.workgroupBytes ?? 0;
      if (wgBytes > limits.maxComputeWorkgroupStorageSize) {
        throw new GpuLimitError(step.layer, "maxComputeWorkgroupStorageSize", `layer ${step.layer}: its ${spec.family} kernel needs ${wgBytes} bytes of workgroup memory, over maxComputeWorkgroupStorageSize (${limits.maxComputeWorkgroupStorageSize})`);
      }
      // A smaller invocation limit lowers the preferred workgroup size (a power of two).
      let wg = spec.workgroupSize;
      while (wg > limits.maxComputeInvocationsPerWorkgroup && wg > 1) wg /= 2;
      const fitted: KernelSpec = wg === spec.workgroupSize ? spec : { ...spec, workgroupSize: wg, workgroupBytes: (wgBytes * wg) / spec.workgroupSize };
      const parts = splitParts(fitted, step, bindingElements);
      const program = new Program(fitted, parts !== undefined);
      const code = program.build();
      let index = programIndex.get(code);
      if (index === undefined) {
        index = manifestPrograms.length;
        const key = `${fitted.family}-${hash(code)}`;
        const file = `wgsl/${index}-${fitted.family}.wgsl`;
        programs.push({ file, key, family: fitted.family, code });
        manifestPrograms.push({
          file,
          family: fitted.family,
          key,
          workgroupSize: fitted.workgroupSize,
          itemsPer: fitted.itemsPer,
          uniforms: program.slotSources.length,
          storage,
          workgroupBytes: fitted.workgroupBytes ?? 0,
        });
        programIndex.set(code, index);
      }
      needs.storage = Math.max(needs.storage, storage);
      needs.workgroupBytes = Math.max(needs.workgroupBytes, fitted.workgroupBytes ?? 0);
      needs.invocations = Math.max(needs.invocations, fitted.workgroupSize);
      const bufferIds = fitted.tensors.map((t) => gpuBuffer(t, step.layer));
      const dispatch = (items: D.Dim, bindings: WebGpuBinding[], value: (s: SlotSource) => D.Dim): WebGpuCommand => ({
        kind: "dispatch",
        program: index as number,
        step: step.id,
        layer: step.layer,
        items,
        uniforms: program.slotSources.map(value),
        bindings,
      });
      if (!parts) {
        for (const t of fitted.tensors) if (typeof t.elements === "number") needs.binding = Math.max(needs.binding, 4 * t.elements);
        const whole = (s: SlotSource): D.Dim => {
          if (s.kind === "dim") return s.dim;
          throw new Error(`internal error: slot ${s.kind} in an unsplit program`);
        };
        // A tensor smaller than its buffer (a slot the memory plan shares) binds only its elements.
        const bindings = bufferIds.map((buffer, k) => {
          const elements = fitted.tensors[k].elements;
          return D.dimEquals(elements, buffers[buffer].elements) ? { buffer } : { buffer, size: elements };
        });
        commands.push(dispatch(fitted.items, bindings, whole));
        continue;
      }
      for (const part of parts) {
        for (const b of part.bindings) needs.binding = Math.max(needs.binding, 4 * b.size);
        const value = (s: SlotSource): D.Dim => {
          switch (s.kind) {
            case "dim":
              return s.dim;
            case "items":
              return part.i1 - part.i0;
            case "item0":
              return part.i0;
            case "base":
              return part.bindings[s.tensor].offset;
            case "r0":
              return part.r0;
            case "r1":
              return part.r1;
            case "first":
              return part.first ? 1 : 0;
            case "last":
              return part.last ? 1 : 0;
          }
        };
        commands.push(dispatch(part.i1 - part.i0, part.bindings.map((b, k) => ({ buffer: bufferIds[k], offset: b.offset, size: b.size })), value));
      }
    }
    if (scratch !== undefined) {
      const to = activation.get(step.output.buffer) as number;
      commands.push({ kind: "copy", from: scratch, to, elements: outElements });
    }
  }

  const io = (x: { name: string; buffer: number; shape: readonly D.Dim[] }): WebGpuIO => {
    const buffer = activation.get(x.buffer);
    if (buffer === undefined) throw new Error(`internal error: ${x.name} names buffer ${x.buffer}, which the plan does not have`);
    return { name: x.name, shape: x.shape, buffer };
  };
  const manifest: WebGpuManifest = {
    programs: manifestPrograms,
    buffers,
    commands,
    inputs: plan.inputs.map(io),
    outputs: plan.outputs.map(io),
    limits: {
      maxStorageBuffersPerShaderStage: needs.storage,
      maxStorageBufferBindingSize: needs.binding,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupStorageSize: needs.workgroupBytes,
      maxComputeInvocationsPerWorkgroup: needs.invocations,
    },
  };
  return { programs, manifest };

  function context(step: Step, scratchBuffer: number | undefined, allocate = true): StepContext {
    const weightUse = (w: PlanWeight | undefined, name: string, what: string): TensorUse => {
      if (!w) throw new Error(`internal error: layer ${step.layer} has no ${what} in the plan`);
      return { name, buffer: { kind: "weight", weight: w }, elements: w.length };
    };
    return {
      step,
      input: (k, name) => ({ name, buffer: { kind: "activation", id: step.inputs[k].buffer }, elements: D.product(step.inputs[k].shape) }),
      output: () => {
        const elements = D.product(step.output.shape);
        if (scratchBuffer === undefined) return { name: "y", buffer: { kind: "activation", id: step.output.buffer }, elements };
        // The scratch buffer is registered as a pseudo plan buffer id below 0.
        const id = -1 - scratchBuffer;
        activation.set(id, scratchBuffer);
        return { name: "y", buffer: { kind: "activation", id }, elements };
      },
      weight: (name) => weightUse(step.weight, name, "weight"),
      bias: (name) => (step.bias ? weightUse(step.bias, name, "bias") : undefined),
      packed: (name, list) => {
        const ws = list.map((w) => {
          if (!w) throw new Error(`internal error: layer ${step.layer} lacks a parameter in the plan`);
          return w;
        });
        return { name, buffer: { kind: "packed", weights: ws }, elements: ws.reduce((n, w) => n + w.length, 0) };
      },
      scratch: (name, role, elements) => {
        // A dry run (does the algorithm fit?) allocates nothing.
        if (!allocate) return { name, buffer: { kind: "activation", id: Number.MIN_SAFE_INTEGER }, elements };
        let at = algorithmScratch.get(role);
        if (at === undefined) {
          at = buffers.length;
          buffers.push({ kind: "scratch", elements, layer: step.layer });
          algorithmScratch.set(role, at);
        } else {
          // Shared by several layers: messages about its size name none of them.
          const grown = D.max(buffers[at].elements, elements);
          buffers[at] = buffers[at].layer === step.layer ? { ...buffers[at], elements: grown } : { kind: "scratch", elements: grown };
        }
        // A pseudo plan buffer id below 0, as for the in-place scratch outputs.
        const id = -1 - at;
        activation.set(id, at);
        return { name, buffer: { kind: "activation", id }, elements };
      },
    };
  }
}

interface Part {
  readonly i0: number;
  readonly i1: number;
  /** The reduction chunk [r0, r1) (0, 0 without a reduction); first and last chunk of its items. */
  readonly r0: number;
  readonly r1: number;
  readonly first: boolean;
  readonly last: boolean;
  readonly bindings: readonly { readonly offset: number; readonly size: number }[];
}

/**
 * Splits a step whose static tensors exceed one binding into item ranges whose bindings all
 * fit (the largest range that fits, greedily: binding sizes only grow with the range). When
 * even one item does not fit and the kernel has a splittable reduction (conv's channels,
 * dense's inputs), the reduction is cut into chunks too, each dispatch adding its partial sum
 * to what the previous chunk stored. Undefined when everything fits in one dispatch.
 */
function splitParts(spec: KernelSpec, step: Step, limit: number): Part[] | undefined {
  const big = spec.tensors.filter((t) => typeof t.elements !== "number" || t.elements > limit);
  if (!big.some((t) => typeof t.elements === "number")) return undefined;
  const items = spec.items;
  const ranges = spec.ranges;
  // Symbolic tensors have no size to state here (the input sets it): name them as such.
  const what = big.map((t) => `${t.name === "y" ? "output" : t.name === "w" ? "weight" : t.name === "b" ? "bias" : "input"} (${typeof t.elements === "number" ? mib(4 * t.elements) : "sized at run time"})`).join(", ");
  if (typeof items !== "number" || !ranges || spec.tensors.some((t) => typeof t.elements !== "number")) {
    throw new GpuLimitError(step.layer, "maxStorageBufferBindingSize", `layer ${step.layer}: its ${what} exceeds maxStorageBufferBindingSize (${mib(4 * limit)}), and a ${spec.family} kernel with symbolic sizes cannot be split`);
  }
  const extent = spec.reduce?.extent ?? 0;
  const bind = (i0: number, i1: number, r0: number, r1: number) =>
    ranges(i0, i1, r0, r1).map(([lo, hi]) => {
      const offset = Math.floor(lo / ALIGN_ELEMENTS) * ALIGN_ELEMENTS;
      return { offset, size: Math.max(hi - offset, 1) };
    });
  const chunks = (chunk: number): [number, number][] => {
    if (extent === 0) return [[0, 0]];
    const out: [number, number][] = [];
    for (let r0 = 0; r0 < extent; r0 += chunk) out.push([r0, Math.min(extent, r0 + chunk)]);
    return out;
  };
  const fits = (i0: number, i1: number, chunk: number) => chunks(chunk).every(([r0, r1]) => bind(i0, i1, r0, r1).every((b) => b.size <= limit));
  /** Largest n in [lo, hi] with ok(n), given ok(lo) (ok is monotone: true, then false). */
  const largest = (lo: number, hi: number, ok: (n: number) => boolean): number => {
    if (ok(hi)) return hi;
    let good = lo;
    let bad = hi;
    while (bad - good > 1) {
      const mid = Math.floor((good + bad) / 2);
      if (ok(mid)) good = mid;
      else bad = mid;
    }
    return good;
  };
  const parts: Part[] = [];
  let i0 = 0;
  while (i0 < items) {
    let chunk = extent;
    if (!fits(i0, i0 + 1, chunk)) {
      if (extent === 0 || !fits(i0, i0 + 1, 1)) {
        const worst = bind(i0, i0 + 1, 0, Math.min(extent, 1)).reduce((m, b) => Math.max(m, b.size), 0);
        throw new GpuLimitError(
          step.layer,
          "maxStorageBufferBindingSize",
          `layer ${step.layer}: one ${spec.family} output reads ${mib(4 * worst)} through one storage binding, over maxStorageBufferBindingSize (${mib(4 * limit)}); splitting the layer cannot help`,
        );
      }
      chunk = largest(1, extent, (c) => fits(i0, i0 + 1, c));
    }
    const i1 = largest(i0 + 1, items, (n) => fits(i0, n, chunk));
    const list = chunks(chunk);
    list.forEach(([r0, r1], k) => {
      parts.push({ i0, i1, r0, r1, first: k === 0, last: k === list.length - 1, bindings: bind(i0, i1, r0, r1) });
    });
    i0 = i1;
  }
  return parts;
}
