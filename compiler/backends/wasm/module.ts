// Plan -> one WebAssembly module per network. Memory is laid out by the compiler:
//
//   [0, 1024)                 unused (lets binaryen fold constant address parts into offsets)
//   [1024, ...)               compile-time tables (gauss pooling weights, f64), data segments
//   weightsOffset (64-aligned) the weights blob, copied in once by the runtime
//   arenaBase (64-aligned)     the activation arena: buffer b at arenaBase + 4 * b.offset
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
      return emitPool(ctx, op);
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

/** Compile-time constant tables, per step (only gauss pooling has one). */
function stepTable(step: Step): Float64Array | undefined {
  return step.op.kind === "pool" && step.op.mode === "gauss" ? gaussTable(step.op) : undefined;
}

export function emitWasm(plan: Plan): { binary: Uint8Array; manifest: WasmManifest } {
  // Layout: tables, then weights, then the arena.
  const tables = plan.steps.map(stepTable);
  const tableAt: (number | undefined)[] = [];
  let end = LOW_MEMORY;
  for (const t of tables) {
    tableAt.push(t ? end : undefined);
    if (t) end += align(t.byteLength, 16);
  }
  const weightsOffset = align(end, 64);
  const arenaBase = align(weightsOffset + 4 * plan.weightData.length, 64);
  const layout: Layout = { tablesOffset: LOW_MEMORY, weightsOffset, arenaBase };
  const memoryBytes = D.add(arenaBase, D.mul(4, plan.arenaElements));

  const m = new binaryen.Module();
  try {
    m.setFeatures(
      binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory,
    );
    // The memory comes first: binaryen.js binds every load and store to it as it is built.
    // A static network gets all its memory up front; a symbolic one grows it at run time.
    const initialBytes = typeof memoryBytes === "number" ? memoryBytes : arenaBase;
    const initialPages = Math.max(1, Math.ceil(initialBytes / PAGE));
    if (initialBytes > MAX_MEMORY_BYTES) {
      throw new Error(`network ${plan.name} needs ${initialBytes} bytes of memory; the WebAssembly backend addresses at most 2 GiB`);
    }
    const segments = tables.flatMap((t, i) =>
      t ? [{ offset: m.i32.const(tableAt[i] as number), data: new Uint8Array(t.buffer, t.byteOffset, t.byteLength), passive: false }] : [],
    );
    m.setMemory(initialPages, MAX_PAGES, "memory", segments);

    const math = new MathImports(m);
    const names: string[] = [];
    plan.steps.forEach((step, i) => {
      const fn = new Fn(m, plan.symbols);
      emitStep(new KernelContext(fn, step, plan, layout, math, tableAt[i]));
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
