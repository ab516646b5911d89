// Plan -> one WebAssembly module per network. Memory is laid out by the compiler:
//
//   [0, 1024)                 unused (lets binaryen fold constant address parts into offsets)
//   [1024, ...)               compile-time tables (gauss pooling weights, f64; the packed or
//                             transformed weights of GEMM, Winograd, FFT and separable layers)
//   weightsOffset (64-aligned) the weights blob, copied in once by the runtime
//   (guard)                    room for the fast kernels' masked vector loads before a tensor
//   arenaBase (64-aligned)     the activation arena: buffer b at arenaBase + 4 * b.offset
//   scratchBase                the fast kernels' scratch (shared: steps run one at a time),
//                              then the same guard again, for masked loads past a tensor's end
//
// A convolution step whose algorithm is not `direct` goes to its algorithm's kernel
// (gemm.ts, winograd.ts, fft.ts, separable.ts, direct-simd.ts), except with a fused pool, which only the
// direct kernel and direct-simd.ts compute (the pass never picks another then).
//
// `run(sym0, sym1, ...)` takes one i32 per plan symbol and calls one function per step, in
// order; each step function takes the same parameters and computes its sizes from them, so
// a static network has constant sizes everywhere and binaryen optimises its loops fully.
// The module is validated (an invalid module is a compiler bug) and optimised at -O3.

import binaryen from "binaryen";
import * as D from "../../ir/dim.js";
import { assertNever } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import type { WasmIO, WasmManifest } from "../../../runtime/manifest.js";
import { emitActivation } from "./activation.js";
import { emitBatchNorm } from "./batchnorm.js";
import { emitBinary } from "./binary.js";
import { Fn } from "./builder.js";
import { emitConcat, emitCopy } from "./concat.js";
import { bufferAddress, KernelContext, type Layout } from "./context.js";
import { emitConv } from "./conv.js";
import { emitDeconv } from "./deconv.js";
import { emitDense } from "./dense.js";
import { emitLocal } from "./local.js";
import { MathImports } from "./math.js";
import { emitMaxout } from "./maxout.js";
import { emitAdaptivePool, emitPool, gaussTable } from "./pool.js";
import { emitSoftmax } from "./softmax.js";
import { emitTiled } from "./tiled.js";
import { prepareGemm } from "./gemm.js";
import { prepareWinograd } from "./winograd.js";
import { prepareSeparable } from "./separable.js";
import { prepareFft } from "./fft.js";
import { prepareDirectSimd } from "./direct-simd.js";
import { emitTilingPool, tilingPool } from "./pool-simd.js";
import { type AlgorithmKernel, SPILL_BYTES } from "./simd.js";
import { dim } from "./dims.js";

export const WASM_FILE = "model.wasm";
const PAGE = 65536;
const LOW_MEMORY = 1024;
/** 2 GiB: addresses are i32 arithmetic, kept below 2^31 so that they are never negative. */
export const MAX_MEMORY_BYTES = 2 ** 31;
const MAX_PAGES = MAX_MEMORY_BYTES / PAGE;

const align = (n: number, to: number) => Math.ceil(n / to) * to;

/** A function name from the step's number, op and layer: only [A-Za-z0-9_], never raw user text. */
export function stepFunctionName(step: Step): string {
  const layer = step.layer.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 48);
  return `step${step.id}_${step.op.kind}${layer ? `_${layer}` : ""}`;
}

function emitStep(ctx: KernelContext): void {
  const op = ctx.step.op;
  switch (op.kind) {
    case "conv":
      return emitConv(ctx, op);
    case "local":
      return emitLocal(ctx, op);
    case "tiled":
      return emitTiled(ctx, op);
    case "deconv":
      return emitDeconv(ctx, op);
    case "batchnorm":
      return emitBatchNorm(ctx, op);
    case "maxout":
      return emitMaxout(ctx, op);
    case "pool":
      return tilingPool(op, ctx.step.epilogue) ? emitTilingPool(ctx, op) : emitPool(ctx, op);
    case "adaptive_pool":
      return emitAdaptivePool(ctx, op);
    case "dense":
      return emitDense(ctx, op);
    case "activation":
      return emitActivation(ctx, op);
    case "softmax":
      return emitSoftmax(ctx);
    case "add":
    case "mul":
      return emitBinary(ctx, op);
    case "concat":
      return emitConcat(ctx);
    case "flatten":
    case "reshape":
      return emitCopy(ctx);
    default:
      return assertNever(op);
  }
}

/** The fast kernel of a convolution step whose algorithm is not direct. */
function algorithmKernel(step: Step, plan: Plan): AlgorithmKernel | undefined {
  const op = step.op;
  if (op.kind !== "conv" || !step.algorithm || step.algorithm.name === "direct") return undefined;
  if (step.pool && step.algorithm.name !== "direct_simd") return undefined;
  switch (step.algorithm.name) {
    case "gemm":
      return prepareGemm(step, plan, op);
    case "winograd2":
      return prepareWinograd(step, plan, op, 2);
    case "winograd4":
      return prepareWinograd(step, plan, op, 4);
    case "separable":
      return prepareSeparable(step, plan, op);
    case "fft":
      return prepareFft(step, plan, op);
    case "direct_simd":
      return prepareDirectSimd(step, plan, op);
    default:
      return assertNever(step.algorithm.name);
  }
}

/** Compile-time constant tables, per step: gauss pooling's weights, a fast kernel's packed weights. */
function stepTable(step: Step, kernel: AlgorithmKernel | undefined): Uint8Array | undefined {
  if (kernel) return kernel.tables.byteLength ? kernel.tables : undefined;
  if (step.op.kind !== "pool" || step.op.mode !== "gauss") return undefined;
  const t = gaussTable(step.op);
  return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
}

export function emitWasm(plan: Plan): { binary: Uint8Array; manifest: WasmManifest } {
  // Layout: tables, then weights, then the arena, then the fast kernels' scratch.
  const kernels = plan.steps.map((s) => algorithmKernel(s, plan));
  const tables = plan.steps.map((s, i) => stepTable(s, kernels[i]));
  const tableAt: (number | undefined)[] = [];
  // At the start of the tables region: the fast kernels' spill and staging slots.
  const spill = LOW_MEMORY;
  let end = LOW_MEMORY + SPILL_BYTES;
  for (const t of tables) {
    tableAt.push(t ? end : undefined);
    if (t) end += align(t.byteLength, 16);
  }
  const guard = align(Math.max(0, ...kernels.map((k) => k?.overreadBytes ?? 0)), 64);
  const weightsOffset = align(end, 64);
  const arenaBase = align(weightsOffset + 4 * plan.weightData.length + guard, 64);
  const layout: Layout = { tablesOffset: LOW_MEMORY, weightsOffset, arenaBase };
  const scratchBase = D.add(arenaBase, D.mul(16, D.ceildiv(plan.arenaElements, 4)));
  const scratch = kernels.reduce<D.Dim>((most, k) => (k ? D.max(most, k.scratchBytes) : most), 0);
  const memoryBytes = kernels.some((k) => k) ? D.add(scratchBase, D.add(scratch, guard)) : D.add(arenaBase, D.mul(4, plan.arenaElements));

  const m = new binaryen.Module();
  try {
    m.setFeatures(
      binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory | binaryen.Features.SIMD128,
    );
    // The memory comes first: binaryen.js binds every load and store to it as it is built.
    // A static network gets all its memory up front; a symbolic one grows it at run time.
    const initialBytes = typeof memoryBytes === "number" ? memoryBytes : arenaBase;
    const initialPages = Math.max(1, Math.ceil(initialBytes / PAGE));
    if (initialBytes > MAX_MEMORY_BYTES) {
      throw new Error(`network ${plan.name} needs ${initialBytes} bytes of memory; the WebAssembly backend addresses at most 2 GiB`);
    }
    const segments = tables.flatMap((t, i) => (t ? [{ offset: m.i32.const(tableAt[i] as number), data: t, passive: false }] : []));
    m.setMemory(initialPages, MAX_PAGES, "memory", segments);

    const math = new MathImports(m);
    const names: string[] = [];
    plan.steps.forEach((step, i) => {
      const fn = new Fn(m, plan.symbols);
      const ctx = new KernelContext(fn, step, plan, layout, math, tableAt[i]);
      const kernel = kernels[i];
      if (kernel) kernel.emit(ctx, { tables: tableAt[i] ?? 0, scratch: dim(fn, scratchBase), spill });
      else emitStep(ctx);
      const name = stepFunctionName(step);
      fn.finish(name);
      names.push(name);
    });

    const symbolType = binaryen.createType(plan.symbols.map(() => binaryen.i32));
    const args = () => plan.symbols.map((_, i) => m.local.get(i, binaryen.i32));
    const body = m.block(null, names.length ? names.map((n) => m.call(n, args(), binaryen.none)) : [m.nop()]);
    m.addFunction("run", symbolType, binaryen.none, [], body);
    m.addFunctionExport("run", "run");

    if (!m.validate()) throw new Error(`internal error: the WebAssembly module for network ${plan.name} is invalid (binaryen printed why above)`);
    const binary = optimizeAndEmit(m);

    const io = (x: { name: string; buffer: number; shape: readonly D.Dim[] }): WasmIO => {
      const buffer = plan.buffers.find((b) => b.id === x.buffer);
      if (!buffer) throw new Error(`internal error: ${x.name} names buffer ${x.buffer}, which the plan does not have`);
      return { name: x.name, shape: x.shape, offset: bufferAddress(layout, buffer.offset) };
    };
    const manifest: WasmManifest = {
      file: WASM_FILE,
      memoryBytes,
      weightsOffset,
      inputs: plan.inputs.map(io),
      outputs: plan.outputs.map(io),
    };
    return { binary, manifest };
  } finally {
    m.dispose();
  }
}

/** -O3 and the binary, with binaryen's global options set for this module only. */
function optimizeAndEmit(m: binaryen.Module): Uint8Array {
  const saved = {
    level: binaryen.getOptimizeLevel(),
    shrink: binaryen.getShrinkLevel(),
    lowMemory: binaryen.getLowMemoryUnused(),
    debugInfo: binaryen.getDebugInfo(),
    oneCaller: binaryen.getOneCallerInlineMaxSize(),
  };
  try {
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    // True by construction: nothing lives below LOW_MEMORY.
    binaryen.setLowMemoryUnused(true);
    // Keep one function per step, by name (a name section, hence debug info), so that a
    // profile says which layer the time goes to: `run` calls each once, and binaryen would
    // otherwise inline them all into it.
    binaryen.setDebugInfo(true);
    binaryen.setOneCallerInlineMaxSize(0);
    m.optimize();
    return m.emitBinary();
  } finally {
    binaryen.setOptimizeLevel(saved.level);
    binaryen.setShrinkLevel(saved.shrink);
    binaryen.setLowMemoryUnused(saved.lowMemory);
    binaryen.setDebugInfo(saved.debugInfo);
    binaryen.setOneCallerInlineMaxSize(saved.oneCaller);
  }
}
