/// <reference types="@webgpu/types" />
// Runs a compiled network's WGSL programs on a WebGPU device, one sample per command encoder.
//
// Load: the adapter's limits are checked against what the network was compiled (split) for,
// the device is requested with those limits (compatibility-mode adapters default to tiny
// ones, so we ask for what the adapter offers, up to what we need), every pipeline is created
// with createComputePipelineAsync from an explicit layout (binding 0 the uniform block, then
// the storage bindings, the last one written), and each weight tensor gets its own buffer,
// written once. Workgroup sizes are the WGSL override `WG`, lowered to a power of two within
// the device's limits.
//
// Run: activation buffers (one per plan buffer) are allocated once and reused; with symbolic
// sizes they are reallocated only when a run needs more than they hold, and the uniform
// values, bind groups and dispatch grids are recomputed only when the bound sizes change.
// Inputs are written with queue.writeBuffer; one command encoder records every dispatch
// (folded onto a 3-D grid when it exceeds maxComputeWorkgroupsPerDimension) and copies the
// outputs into one staging buffer, which is mapped once. Imports nothing from the compiler.

import { BackendError } from "./backend-error.js";
import { type Dim, type DimEnv, evalDim } from "./dim.js";
import type { GpuLimits, WebGpuBuffer, WebGpuCommand, WebGpuManifest, WebGpuProgram } from "./manifest.js";
import type { GpuProvider, WebGpuBackend } from "./open-network.js";
import type { Executor } from "./session.js";

// GPUBufferUsage / GPUMapMode / GPUShaderStage are globals in browsers but not in Node: their values.
export const USAGE_MAP_READ = 0x1;
export const USAGE_COPY_SRC = 0x4;
export const USAGE_COPY_DST = 0x8;
export const USAGE_UNIFORM = 0x40;
export const USAGE_STORAGE = 0x80;
export const MAP_READ = 0x1;
export const STAGE_COMPUTE = 0x4;
const UNIFORM_ALIGN = 256;


/** An adapter and how to describe it to the user. */
export interface AdapterChoice {
  readonly adapter: GPUAdapter;
  /** "llvmpipe (OpenGL ES 3.2 Mesa 22.3.6), compatibility mode" */
  readonly description: string;
}

export function describeAdapter(adapter: GPUAdapter, how: string | undefined, compatibility: boolean): string {
  const info = adapter.info;
  const name = info.device || [info.vendor, info.architecture].filter(Boolean).join(" ") || "unnamed adapter";
  const detail = info.description && info.description !== name ? ` (${info.description})` : "";
  return `${name}${detail}${how ? ` via ${how}` : ""}${compatibility ? ", compatibility mode" : ""}`;
}

/** A core adapter if there is one, else a compatibility-mode one; undefined when neither. */
export async function requestAnyAdapter(provider: GpuProvider, how?: string): Promise<AdapterChoice | undefined> {
  const gpu = provider as GPU;
  const core = await gpu.requestAdapter();
  if (core) return { adapter: core, description: describeAdapter(core, how, false) };
  const compat = await gpu.requestAdapter({ featureLevel: "compatibility" });
  return compat ? { adapter: compat, description: describeAdapter(compat, how, true) } : undefined;
}

/** The adapter WebGPU runs on: the given provider's, the browser's, or (in Node only) Dawn's. */
export async function findAdapter(gpu?: GpuProvider): Promise<AdapterChoice | undefined> {
  if (gpu) return requestAnyAdapter(gpu);
  const nav = (globalThis as { navigator?: { gpu?: GpuProvider } }).navigator;
  if (nav?.gpu) return requestAnyAdapter(nav.gpu, "the browser's WebGPU");
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (proc?.versions?.node) {
    // Dynamic, and only in Node: a browser never loads the Dawn discovery.
    const node = await import("./webgpu-node.js");
    return node.nodeAdapter();
  }
  return undefined;
}

const LIMIT_NAMES: readonly (keyof GpuLimits)[] = [
  "maxStorageBuffersPerShaderStage",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
];

/** 128 MiB, 7.1 KiB, 512 bytes. */
function mib(bytes: number): string {
  const fmt = (v: number) => String(Math.round(v * 10) / 10);
  if (bytes >= 1048576) return `${fmt(bytes / 1048576)} MiB`;
  if (bytes >= 1024) return `${fmt(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

export interface ExecutorOptions {
  /** Lay dispatches out as if the device allowed at most this many workgroups per dimension (tests). */
  readonly maxWorkgroupsPerDimension?: number;
  /** Check bindings as if the device allowed at most this many bytes per storage binding (tests). */
  readonly maxStorageBufferBindingSize?: number;
}

interface Prepared {
  readonly key: string;
  readonly bindGroups: (GPUBindGroup | undefined)[];
  readonly grids: ([number, number, number] | undefined)[];
  readonly copies: number[];
  readonly outputs: { buffer: number; bytes: number; offset: number }[];
  readonly stagingBytes: number;
}

export class WebGpuExecutor implements Executor {
  readonly backend = "webgpu" as const;
  private readonly buffers: (GPUBuffer | undefined)[];
  private readonly capacity: number[];
  private prepared: Prepared | undefined;
  private staging: GPUBuffer | undefined;
  private lost: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly manifest: WebGpuManifest,
    private readonly device: GPUDevice,
    private readonly pipelines: readonly GPUComputePipeline[],
    private readonly workgroupSizes: readonly number[],
    private readonly uniformBuffer: GPUBuffer | undefined,
    private readonly uniformOffsets: readonly number[],
    weightBuffers: ReadonlyMap<number, GPUBuffer>,
    private readonly perDimension: number,
    private readonly bindingBytes: number,
  ) {
    this.buffers = manifest.buffers.map((_, i) => weightBuffers.get(i));
    this.capacity = manifest.buffers.map((b) => (b.kind === "weight" ? Number(b.elements) : 0));
    device.lost.then((info) => {
      this.lost = info.message || info.reason;
    });
  }

  /** Checks the adapter, creates the device, pipelines and weight buffers. */
  static async create(
    adapter: GPUAdapter,
    manifest: WebGpuManifest,
    weights: Float32Array,
    sources: readonly string[],
    options: ExecutorOptions = {},
  ): Promise<WebGpuExecutor> {
    if (sources.length !== manifest.programs.length) throw new Error(`the bundle has ${sources.length} WGSL programs, its manifest lists ${manifest.programs.length}`);
    checkAdapter(adapter, manifest);
    const need = manifest.limits;
    const offer = adapter.limits;
    const requiredLimits: Record<string, number> = {
      maxStorageBuffersPerShaderStage: Math.min(offer.maxStorageBuffersPerShaderStage, Math.max(need.maxStorageBuffersPerShaderStage, 1)),
      // Symbolic sizes may need more at run time than the compiler saw: ask for all there is.
      maxStorageBufferBindingSize: offer.maxStorageBufferBindingSize,
      maxBufferSize: offer.maxBufferSize,
      maxComputeWorkgroupStorageSize: Math.min(offer.maxComputeWorkgroupStorageSize, need.maxComputeWorkgroupStorageSize),
      maxComputeInvocationsPerWorkgroup: Math.min(offer.maxComputeInvocationsPerWorkgroup, need.maxComputeInvocationsPerWorkgroup),
      maxComputeWorkgroupSizeX: Math.min(offer.maxComputeWorkgroupSizeX, need.maxComputeInvocationsPerWorkgroup),
    };
    const device = await adapter.requestDevice({ requiredLimits, label: "cnnc" });
    try {
      return await WebGpuExecutor.build(device, manifest, weights, sources, options);
    } catch (e) {
      device.destroy();
      throw e;
    }
  }

  private static async build(
    device: GPUDevice,
    manifest: WebGpuManifest,
    weights: Float32Array,
    sources: readonly string[],
    options: ExecutorOptions,
  ): Promise<WebGpuExecutor> {
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");

    // Workgroup sizes: the preferred one, halved until it fits the device.
    const workgroupSizes = manifest.programs.map((p) => fitWorkgroup(p, device.limits));

    const pipelines = await Promise.all(
      manifest.programs.map(async (p, i) => {
        const module = device.createShaderModule({ code: sources[i], label: p.key });
        const info = await module.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === "error");
        if (errors.length) {
          throw new Error(`internal error: WGSL program ${p.file} does not compile: ${errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`).join("; ")}`);
        }
        const entries: GPUBindGroupLayoutEntry[] = [];
        if (p.uniforms > 0) entries.push({ binding: 0, visibility: STAGE_COMPUTE, buffer: { type: "uniform" } });
        for (let k = 1; k <= p.storage; k++) {
          entries.push({ binding: k, visibility: STAGE_COMPUTE, buffer: { type: k === p.storage ? "storage" : "read-only-storage" } });
        }
        const layout = device.createPipelineLayout({ bindGroupLayouts: [device.createBindGroupLayout({ entries })] });
        try {
          return await device.createComputePipelineAsync({
            label: p.key,
            layout,
            compute: { module, entryPoint: "main", constants: { WG: workgroupSizes[i] } },
          });
        } catch (e) {
          throw new Error(`internal error: cannot create the pipeline for WGSL program ${p.file}: ${(e as Error).message}`);
        }
      }),
    );

    // One uniform block per dispatch, at 256-byte aligned offsets; written when sizes change.
    const uniformOffsets: number[] = [];
    let uniformBytes = 0;
    for (const c of manifest.commands) {
      uniformOffsets.push(uniformBytes);
      if (c.kind === "dispatch" && manifest.programs[c.program].uniforms > 0) {
        uniformBytes += Math.ceil((manifest.programs[c.program].uniforms * 4) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
      }
    }
    const uniformBuffer = uniformBytes > 0 ? device.createBuffer({ size: uniformBytes, usage: USAGE_UNIFORM | USAGE_COPY_DST, label: "uniforms" }) : undefined;

    const weightBuffers = new Map<number, GPUBuffer>();
    manifest.buffers.forEach((b, i) => {
      if (b.kind !== "weight") return;
      const elements = Number(b.elements);
      const bytes = 4 * elements;
      if (bytes > device.limits.maxBufferSize) throw new BackendError(`${layerOf(b)}its weight needs ${mib(bytes)}, over this device's maxBufferSize (${mib(device.limits.maxBufferSize)})`);
      const buffer = device.createBuffer({ size: Math.max(4, bytes), usage: USAGE_STORAGE | USAGE_COPY_DST, label: `weight ${i}` });
      const parts = b.weightParts ?? [{ offset: b.weightOffset ?? 0, length: elements }];
      let to = 0;
      for (const part of parts) {
        if (part.offset + part.length > weights.length || to + part.length > elements) throw new Error(`the weights file is too short for the network's weights`);
        device.queue.writeBuffer(buffer, 4 * to, weights.buffer, weights.byteOffset + 4 * part.offset, 4 * part.length);
        to += part.length;
      }
      weightBuffers.set(i, buffer);
    });

    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (oom) throw new Error(`the GPU is out of memory loading the network: ${oom.message}`);
    if (validation) throw new Error(`internal error: WebGPU rejected the network at load: ${validation.message}`);
    const perDimension = Math.min(device.limits.maxComputeWorkgroupsPerDimension, options.maxWorkgroupsPerDimension ?? Infinity);
    const bindingBytes = Math.min(device.limits.maxStorageBufferBindingSize, options.maxStorageBufferBindingSize ?? Infinity);
    return new WebGpuExecutor(manifest, device, pipelines, workgroupSizes, uniformBuffer, uniformOffsets, weightBuffers, perDimension, bindingBytes);
  }

  runSample(env: DimEnv, inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    // One run at a time: runs share the buffers and the staging buffer.
    const run = this.queue.then(() => this.runOnce(env, inputs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runOnce(env: DimEnv, inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    if (this.lost !== undefined) throw new Error(`the WebGPU device was lost (${this.lost}); load the network again`);
    const m = this.manifest;
    if (inputs.length !== m.inputs.length) throw new Error(`the network takes ${m.inputs.length} inputs, got ${inputs.length}`);
    const device = this.device;
    m.inputs.forEach((io, i) => {
      const expected = io.shape.reduce<number>((n, d) => n * evalDim(d, env), 1);
      if (inputs[i].length !== expected) throw new Error(`input ${io.name} has ${inputs[i].length} values, expected ${expected}`);
    });
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let prepared: Prepared;
    try {
      prepared = this.prepare(env);
    } catch (e) {
      await device.popErrorScope();
      await device.popErrorScope();
      throw e;
    }
    m.inputs.forEach((io, i) => {
      const x = inputs[i];
      device.queue.writeBuffer(this.buffer(io.buffer), 0, x.buffer, x.byteOffset, x.byteLength);
    });
    const encoder = device.createCommandEncoder({ label: "cnnc run" });
    let pass: GPUComputePassEncoder | undefined;
    m.commands.forEach((c, i) => {
      if (c.kind === "copy") {
        pass?.end();
        pass = undefined;
        const bytes = prepared.copies[i];
        if (bytes > 0) encoder.copyBufferToBuffer(this.buffer(c.from), 0, this.buffer(c.to), 0, bytes);
        return;
      }
      const grid = prepared.grids[i];
      const group = prepared.bindGroups[i];
      if (!grid || !group) return;
      pass ??= encoder.beginComputePass();
      pass.setPipeline(this.pipelines[c.program]);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    });
    pass?.end();
    const staging = this.stagingBuffer(prepared.stagingBytes);
    for (const o of prepared.outputs) encoder.copyBufferToBuffer(this.buffer(o.buffer), 0, staging, o.offset, o.bytes);
    device.queue.submit([encoder.finish()]);
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (oom) throw new Error(`the GPU ran out of memory running the network: ${oom.message}`);
    if (validation) throw new Error(`internal error: WebGPU rejected a run: ${validation.message}`);
    await staging.mapAsync(MAP_READ, 0, prepared.stagingBytes);
    try {
      const bytes = staging.getMappedRange(0, prepared.stagingBytes);
      return prepared.outputs.map((o) => new Float32Array(bytes.slice(o.offset, o.offset + o.bytes)));
    } finally {
      staging.unmap();
    }
  }

  private buffer(i: number): GPUBuffer {
    const b = this.buffers[i];
    if (!b) throw new Error(`internal error: GPU buffer ${i} is not allocated`);
    return b;
  }

  private stagingBuffer(bytes: number): GPUBuffer {
    if (!this.staging || this.staging.size < bytes) {
      this.staging?.destroy();
      this.staging = this.device.createBuffer({ size: bytes, usage: USAGE_MAP_READ | USAGE_COPY_DST, label: "outputs" });
    }
    return this.staging;
  }

  /** Buffers, uniforms, bind groups and grids for the bound sizes (cached while they stay the same). */
  private prepare(env: DimEnv): Prepared {
    const key = JSON.stringify(Object.keys(env).sort().map((k) => [k, env[k]]));
    if (this.prepared?.key === key) return this.prepared;
    const m = this.manifest;
    const device = this.device;
    const limits = device.limits;
    const elements = m.buffers.map((b) => evalDim(b.elements, env));

    // (Re)allocate what grew; the rest keeps its buffer.
    m.buffers.forEach((b, i) => {
      if (b.kind === "weight" || (this.buffers[i] && this.capacity[i] >= elements[i])) return;
      const bytes = Math.max(16, 4 * elements[i]);
      if (bytes > limits.maxBufferSize) {
        throw new BackendError(`${layerOf(b)}needs a ${mib(bytes)} buffer for these input sizes, over this device's maxBufferSize (${mib(limits.maxBufferSize)})`);
      }
      this.buffers[i]?.destroy();
      this.buffers[i] = device.createBuffer({ size: bytes, usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST, label: `${b.kind} ${i}` });
      this.capacity[i] = elements[i];
    });

    const uniformData = this.uniformBuffer ? new Int32Array(this.uniformBuffer.size / 4) : undefined;
    const bindGroups: (GPUBindGroup | undefined)[] = [];
    const grids: ([number, number, number] | undefined)[] = [];
    const copies: number[] = [];
    m.commands.forEach((c, i) => {
      if (c.kind === "copy") {
        copies.push(4 * evalDim(c.elements, env));
        bindGroups.push(undefined);
        grids.push(undefined);
        return;
      }
      copies.push(0);
      const program = m.programs[c.program];
      const items = evalDim(c.items, env);
      if (items <= 0) {
        bindGroups.push(undefined);
        grids.push(undefined);
        return;
      }
      const wg = this.workgroupSizes[c.program];
      grids.push(foldGrid(program.itemsPer === "invocation" ? Math.ceil(items / wg) : items, this.perDimension, c.layer));
      const entries: GPUBindGroupEntry[] = [];
      if (program.uniforms > 0 && this.uniformBuffer && uniformData) {
        const at = this.uniformOffsets[i];
        c.uniforms.forEach((d, k) => {
          uniformData[at / 4 + k] = evalI32(d, env, c.layer);
        });
        entries.push({ binding: 0, resource: { buffer: this.uniformBuffer, offset: at, size: Math.ceil(program.uniforms / 4) * 16 } });
      }
      c.bindings.forEach((b, k) => {
        const offset = b.offset === undefined ? 0 : evalDim(b.offset, env);
        const size = b.size === undefined ? elements[b.buffer] - offset : evalDim(b.size, env);
        if (4 * size > this.bindingBytes) {
          throw new BackendError(
            `layer ${c.layer}: its ${program.family} kernel needs a ${mib(4 * size)} storage binding for these input sizes, over this device's maxStorageBufferBindingSize (${mib(this.bindingBytes)}); with fixed input sizes cnnc splits such a layer at compile time`,
          );
        }
        entries.push({ binding: k + 1, resource: { buffer: this.buffer(b.buffer), offset: 4 * offset, size: Math.max(4, 4 * size) } });
      });
      bindGroups.push(device.createBindGroup({ layout: this.pipelines[c.program].getBindGroupLayout(0), entries }));
    });
    if (this.uniformBuffer && uniformData) device.queue.writeBuffer(this.uniformBuffer, 0, uniformData);

    let stagingBytes = 0;
    const outputs = m.outputs.map((io) => {
      const bytes = 4 * io.shape.reduce<number>((n, d) => n * evalDim(d, env), 1);
      const o = { buffer: io.buffer, bytes, offset: stagingBytes };
      stagingBytes += bytes;
      return o;
    });
    this.prepared = { key, bindGroups, grids, copies, outputs, stagingBytes: Math.max(4, stagingBytes) };
    return this.prepared;
  }

  dispose(): void {
    for (const b of this.buffers) b?.destroy();
    this.staging?.destroy();
    this.uniformBuffer?.destroy();
    this.device.destroy();
  }
}

const layerOf = (b: WebGpuBuffer) => (b.layer ? `layer ${b.layer}: ` : "");

function evalI32(d: Dim, env: DimEnv, layer: string): number {
  const v = evalDim(d, env);
  if (!Number.isInteger(v) || v > 2147483647 || v < -2147483648) throw new Error(`layer ${layer}: a size (${v}) does not fit in a 32-bit integer`);
  return v;
}

/** Workgroups laid out as x, y, z, each within the device's per-dimension limit. */
export function foldGrid(groups: number, perDimension: number, layer: string): [number, number, number] {
  const x = Math.min(groups, perDimension);
  const y = Math.min(Math.ceil(groups / x), perDimension);
  const z = Math.ceil(groups / (x * y));
  if (z > perDimension) throw new BackendError(`layer ${layer}: ${groups} workgroups do not fit a ${perDimension}^3 dispatch grid (maxComputeWorkgroupsPerDimension)`);
  return [x, y, z];
}

function fitWorkgroup(p: WebGpuProgram, limits: GPUSupportedLimits): number {
  let wg = p.workgroupSize;
  const bytesAt = (n: number) => (p.workgroupBytes * n) / p.workgroupSize;
  while (wg > 1 && (wg > limits.maxComputeInvocationsPerWorkgroup || wg > limits.maxComputeWorkgroupSizeX || bytesAt(wg) > limits.maxComputeWorkgroupStorageSize)) wg /= 2;
  return wg;
}

/** The adapter must offer what the network was compiled for; the message names the layer and the limit. */
function checkAdapter(adapter: GPUAdapter, manifest: WebGpuManifest): void {
  const offer = adapter.limits;
  for (const name of LIMIT_NAMES) {
    const need = manifest.limits[name];
    const have = offer[name];
    if (name === "maxComputeInvocationsPerWorkgroup" || name === "maxComputeWorkgroupsPerDimension" || name === "maxComputeWorkgroupStorageSize") continue; // adapted at run time
    if (have >= need) continue;
    throw new BackendError(`${firstLayerNeeding(manifest, name, have)}the network needs ${name} = ${need}, but this adapter offers ${have}; compile it for this adapter's limits`);
  }
}

function firstLayerNeeding(manifest: WebGpuManifest, name: keyof GpuLimits, have: number): string {
  const dispatches = manifest.commands.filter((c): c is Extract<WebGpuCommand, { kind: "dispatch" }> => c.kind === "dispatch");
  const hit = dispatches.find((c) => {
    const p = manifest.programs[c.program];
    if (name === "maxStorageBuffersPerShaderStage") return p.storage > have;
    if (name === "maxStorageBufferBindingSize") {
      return c.bindings.some((b) => {
        const size = b.size ?? manifest.buffers[b.buffer].elements;
        return typeof size === "number" && 4 * size > have;
      });
    }
    return false;
  });
  return hit ? `layer ${hit.layer}: ` : "";
}

/** The WebGPU backend for the loader (runtime/open-network.ts). */
export const webgpuBackend: WebGpuBackend = {
  findAdapter,
  create: (adapter, manifest, weights, wgsl) => WebGpuExecutor.create(adapter as GPUAdapter, manifest, weights, wgsl),
};
