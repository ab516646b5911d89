// Plan -> one WebAssembly module per network. Memory is laid out by the compiler:
//
//   [0, 1024)                 unused (lets binaryen fold constant address parts into offsets)
//   [1024, ...)               compile-time tables (gauss pooling weights, f64; the packed or
//                             transformed weights of GEMM, Winograd, FFT and separable layers),
//                             shipped beside the weights (tables.bin) and copied in by the
//                             runtime, not as data segments: an FFT layer's spectra are far
//                             larger than its code, and the module stays small to download
//   weightsOffset (64-aligned) the weights blob, copied in once by the runtime
//   (guard)                    room for the fast kernels' masked vector loads before a tensor
//   arenaBase (64-aligned)     the activation arena: buffer b at arenaBase + 4 * b.offset
//   scratchBase                per thread: a spill slot and the fast kernels' scratch (steps
//                              run one at a time; threads.ts splits one step's work), then the
//                              same guard again, for masked loads past a tensor's end
//
// The memory is imported (env.memory, created by the runtime) and exported again: threads
// instantiate the same module over one shared memory; the import is declared non-shared and
// the runtime marks it shared only for threads (runtime/threads.ts), so one binary serves both.
//
// A convolution step whose algorithm is not `direct` goes to its algorithm's kernel
// (gemm.ts, winograd.ts, fft.ts, separable.ts, direct-simd.ts), except with a fused pool, which only the
// direct kernel and direct-simd.ts compute (the pass never picks another then).
//
// Two builds of the same code where a step does vector multiply-adds (simd.ts `fmadd`): one
// with `f32x4.relaxed_madd` (fused where the CPU has FMA; about 1.5x the mul + add peak) and
// the plain-SIMD one for engines without relaxed SIMD; the runtime picks at load.
//
// `run(sym0, sym1, ...)` takes one i32 per plan symbol and calls one function per step, in
// order; each step function takes the same parameters (then tid, part and parts, threads.ts)
// and computes its sizes from them, so a static network has constant sizes everywhere and
// binaryen optimises its loops fully. `step(i, syms..., tid, part, parts)` runs part of step
// i, for the runtime's threads.
// The module is validated (an invalid module is a compiler bug) and optimised at -O3.

import { binaryen, binaryenLoaded } from "./binaryen.js";
import * as D from "../../ir/dim.js";
import { assertNever, gaussWeights } from "../../ir/ops.js";
import type { Plan, Step } from "../../plan/plan.js";
import type { OnProgress } from "../../progress.js";
import type { WasmOptimize } from "../../target.js";
import type { WasmIO, WasmManifest } from "../../../runtime/manifest.js";
import type { WasmCode } from "../../../runtime/wasm.js";
import { emitActivation } from "./activation.js";
import { emitBatchNorm } from "./batchnorm.js";
import { emitBinary } from "./binary.js";
import { Fn } from "./builder.js";
import { emitConcat, emitCopy } from "./concat.js";
import { emitSlice } from "./slice.js";
import { emitPad } from "./pad.js";
import { emitResize, resizeTable } from "./resize.js";
import { emitTranspose } from "./transpose.js";
import { emitMatMul } from "./matmul.js";
import { bufferAddress, KernelContext, type Layout } from "./context.js";
import { emitConv } from "./conv.js";
import { emitDeconv } from "./deconv.js";
import { emitDense } from "./dense.js";
import { emitLocal } from "./local.js";
import { MathImports } from "./math.js";
import { emitMaxout } from "./maxout.js";
import { emitAdaptivePool, emitPool } from "./pool.js";
import { emitSoftmax } from "./softmax.js";
import { emitTiled } from "./tiled.js";
import { prepareGemm } from "./gemm.js";
import { prepareWinograd } from "./winograd.js";
import { prepareWinograd1d } from "./winograd1d.js";
import { prepareSeparable } from "./separable.js";
import { prepareFft } from "./fft.js";
import { prepareDirectSimd } from "./direct-simd.js";
import { emitTilingPool, tilingPool } from "./pool-simd.js";
import { emitLanePool, lanePool } from "./pool-lanes.js";
import { type AlgorithmKernel, SPILL_BYTES } from "./simd.js";
import { dim } from "./dims.js";
import { emitStepDispatch, isParallel, stepParams, TID, worthSplitting } from "./threads.js";

export const WASM_FILE = "model.wasm";
export const WASM_RELAXED_FILE = "model.relaxed.wasm";
export const TABLES_FILE = "tables.bin";
/** A network the WebAssembly target cannot hold: the user's network, not a bug (a diagnostic). */
export class WasmLimitError extends Error {
  override readonly name = "WasmLimitError";
}

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
      if (tilingPool(op, ctx.step.epilogue)) return emitTilingPool(ctx, op);
      return lanePool(op, ctx.step.epilogue) ? emitLanePool(ctx, op) : emitPool(ctx, op);
    case "adaptive_pool":
      return emitAdaptivePool(ctx, op);
    case "dense":
      return emitDense(ctx, op);
    case "activation":
      return emitActivation(ctx, op);
    case "softmax":
    case "log_softmax":
      return emitSoftmax(ctx, op.kind === "log_softmax");
    case "add":
    case "mul":
      return emitBinary(ctx, op);
    case "concat":
      return emitConcat(ctx);
    case "slice":
      return emitSlice(ctx, op);
    case "pad":
      return emitPad(ctx, op);
    case "resize":
      return emitResize(ctx, op);
    case "transpose":
      return emitTranspose(ctx, op);
    case "matmul":
      return emitMatMul(ctx);
    case "flatten":
    case "reshape":
      return emitCopy(ctx);
    default:
      return assertNever(op);
  }
}

/**
 * Every step's fast kernel, one per distinct convolution: the steps of a `repeat` body (or a
 * layer applied twice) run the same op on the same weights at the same shapes, and share one
 * kernel and so one copy of its packed tables. Packing them once per step made a 64-step
 * repeat of a 9.4M-weight layer take minutes and gigabytes (fuzzer seed 37, case 9389). The
 * key is what a kernel's preparation reads; its emit reads the rest (buffers, epilogue) from
 * the step it is emitted for.
 */
function sharedKernels(plan: Plan): (AlgorithmKernel | undefined)[] {
  const made = new Map<string, AlgorithmKernel | undefined>();
  return plan.steps.map((s) => {
    if (!s.weight) return algorithmKernel(s, plan);
    const key = JSON.stringify([s.algorithm?.name, s.op, s.inputs[0]?.shape, s.output.shape, s.weight.offset, s.weight.length, s.pool ?? null]);
    if (!made.has(key)) made.set(key, algorithmKernel(s, plan));
    return made.get(key);
  });
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
    case "winograd1d":
      return prepareWinograd1d(step, plan, op);
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
  if (step.op.kind === "resize") {
    const t = resizeTable(step.op, step.inputs[0].shape as number[]);
    return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  }
  if (step.op.kind !== "pool" || step.op.mode !== "gauss") return undefined;
  const t = gaussWeights(step.op);
  return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
}

/** The WebAssembly artifacts of a network: what runtime/wasm.ts's WasmExecutor.create takes, plus the manifest. */
export interface EmittedWasm extends WasmCode {
  readonly binary: Uint8Array;
  readonly relaxed?: Uint8Array;
  readonly tables: Uint8Array;
  readonly manifest: WasmManifest;
}

export type { WasmOptimize };

/**
 * What cnnc ships: four passes for what our emitter leaves (constant address parts folded,
 * single-use locals sunk into their use, locals coalesced, dead code dropped), not -O3.
 * Measured with `npm run bench -- --compile --levels` (docs/decisions.md): V8's optimising
 * tier makes the run time of -O0, -O3 and this list equal within noise, -O0 leaves the .wasm
 * 30-35% larger, this list 3-8% larger than -O3 at 4-10x less optimisation time. Each of the six
 * passes an earlier list also ran (optimize-instructions, licm, reorder-locals, merge-blocks,
 * remove-unused-brs, a second vacuum) took 5-20% of the time for at most 0.4% of the size.
 */
export const DEFAULT_OPTIMIZE: WasmOptimize = {
  passes: ["precompute", "simplify-locals", "coalesce-locals", "vacuum"],
};

export interface EmitWasmOptions {
  readonly optimize?: WasmOptimize;
  /** Adds milliseconds per phase ("wasm build", "wasm optimise", and the same "(relaxed)"). */
  readonly timings?: Map<string, number>;
  /** Told before each step's kernel is emitted and before binaryen optimises each build. */
  readonly onProgress?: OnProgress;
}

export function emitWasm(plan: Plan, options: EmitWasmOptions = {}): EmittedWasm {
  if (!binaryenLoaded()) throw new Error("internal error: binaryen is not loaded; await loadBinaryen() (backends/wasm/binaryen.ts) before emitting");
  // Layout: tables, then weights, then the arena, then the fast kernels' scratch.
  const kernels = sharedKernels(plan);
  const tables = plan.steps.map((s, i) => stepTable(s, kernels[i]));
  // A kernel shared by several steps has one copy of its tables, at one address.
  const placed = new Map<Uint8Array, number>();
  const tableAt: (number | undefined)[] = [];
  let end = LOW_MEMORY;
  for (const t of tables) {
    const at = t ? placed.get(t) : undefined;
    tableAt.push(t ? (at ?? end) : undefined);
    if (t && at === undefined) {
      placed.set(t, end);
      end += align(t.byteLength, 16);
    }
  }
  const guard = align(Math.max(0, ...kernels.map((k) => k?.overreadBytes ?? 0)), 64);
  const weightsOffset = align(end, 64);
  const arenaBase = align(weightsOffset + 4 * plan.weightData.length + guard, 64);
  const layout: Layout = { tablesOffset: LOW_MEMORY, weightsOffset, arenaBase };
  const scratchBase = D.add(arenaBase, D.mul(16, D.ceildiv(plan.arenaElements, 4)));
  const scratch = kernels.reduce<D.Dim>((most, k) => (k ? D.max(most, k.scratchBytes) : most), 0);
  // Per thread: the spill slot, then the scratch; each thread's block 64-byte aligned.
  const spillBytes = align(SPILL_BYTES, 64);
  const threadBytes = kernels.some((k) => k) ? D.mul(64, D.ceildiv(D.add(spillBytes, scratch), 64)) : 0;
  const memoryBytes = kernels.some((k) => k) ? D.add(scratchBase, D.add(threadBytes, guard)) : D.add(arenaBase, D.mul(4, plan.arenaElements));

  // A static network gets all its memory up front; a symbolic one grows it at run time.
  const initialBytes = typeof memoryBytes === "number" ? memoryBytes : arenaBase;
  if (initialBytes > MAX_MEMORY_BYTES) {
    throw new WasmLimitError(`network ${plan.name} needs ${initialBytes} bytes of memory; the WebAssembly backend addresses at most 2 GiB`);
  }
  const initialPages = Math.max(1, Math.ceil(initialBytes / PAGE));

  // The tables region, [LOW_MEMORY, end), as the runtime copies it in.
  const tableBytes = new Uint8Array(end - LOW_MEMORY);
  tables.forEach((t, i) => t && tableBytes.set(t, (tableAt[i] as number) - LOW_MEMORY));

  const parallel: boolean[] = [];
  const build = (relaxed: boolean) =>
    buildModule(plan, relaxed, initialPages, options, (m, math) =>
      plan.steps.map((step, i) => {
        options.onProgress?.({ stage: "emit", part: relaxed ? "wasm relaxed" : "wasm", done: i, total: plan.steps.length, layer: step.layer });
        const fn = new Fn(m, stepParams(plan.symbols), relaxed);
        const ctx = new KernelContext(fn, step, plan, layout, math, tableAt[i]);
        const kernel = kernels[i];
        if (kernel) {
          const own = fn.atEntry("thread.block", () => dim(fn, scratchBase).add(fn.symbol(TID).mul(dim(fn, threadBytes))));
          kernel.emit(ctx, { tables: tableAt[i] ?? 0, scratch: own.add(spillBytes), spill: own });
        } else emitStep(ctx);
        const name = stepFunctionName(step);
        fn.finish(name);
        if (!relaxed) parallel.push(isParallel(fn) && worthSplitting(step));
        return { name, fused: fn.multiplyAdds > 0 };
      }),
    );
  const plain = build(false);
  // The relaxed build only where it differs: a step with vector multiply-adds.
  const relaxed = plain.fused ? build(true).binary : undefined;

  const io = (x: { name: string; buffer: number; shape: readonly D.Dim[] }): WasmIO => {
    const buffer = plan.buffers.find((b) => b.id === x.buffer);
    if (!buffer) throw new Error(`internal error: ${x.name} names buffer ${x.buffer}, which the plan does not have`);
    return { name: x.name, shape: x.shape, offset: bufferAddress(layout, buffer.offset) };
  };
  const manifest: WasmManifest = {
    file: WASM_FILE,
    ...(relaxed ? { relaxedFile: WASM_RELAXED_FILE } : {}),
    memoryBytes,
    memoryPages: initialPages,
    threadBytes,
    parallel,
    weightsOffset,
    ...(tableBytes.byteLength ? { tables: { file: TABLES_FILE, offset: LOW_MEMORY, bytes: tableBytes.byteLength } } : {}),
    inputs: plan.inputs.map(io),
    outputs: plan.outputs.map(io),
  };
  return { binary: plain.binary, relaxed, tables: tableBytes, manifest };
}

/**
 * One build of the module: the imported memory (shared or not: the runtime decides, threads.ts),
 * the math imports, the step functions `steps` emits, `run` (every step on one thread) and
 * `step` (one part of one step, for the runtime's threads).
 */
function buildModule(
  plan: Plan,
  relaxed: boolean,
  initialPages: number,
  options: EmitWasmOptions,
  steps: (m: binaryen.Module, math: MathImports) => { name: string; fused: boolean }[],
): { binary: Uint8Array; fused: boolean } {
  const started = performance.now();
  const m = new binaryen.Module();
  try {
    m.setFeatures(
      binaryen.Features.MVP |
        binaryen.Features.MutableGlobals |
        binaryen.Features.SignExt |
        binaryen.Features.NontrappingFPToInt |
        binaryen.Features.BulkMemory |
        binaryen.Features.SIMD128 |
        (relaxed ? binaryen.Features.RelaxedSIMD : 0),
    );
    // The memory comes first: binaryen.js binds every load and store to it as it is built.
    m.setMemory(initialPages, MAX_PAGES, "memory", [], false, false, "memory");
    m.addMemoryImport("memory", "env", "memory", false);
    const math = new MathImports(m);
    const fns = steps(m, math);
    const names = fns.map((f) => f.name);
    const symbolType = binaryen.createType(plan.symbols.map(() => binaryen.i32));
    const args = () => [...plan.symbols.map((_, i) => m.local.get(i, binaryen.i32)), m.i32.const(0), m.i32.const(0), m.i32.const(1)];
    const body = m.block(null, names.length ? names.map((n) => m.call(n, args(), binaryen.none)) : [m.nop()]);
    m.addFunction("run", symbolType, binaryen.none, [], body);
    m.addFunctionExport("run", "run");
    emitStepDispatch(m, names, plan.symbols);
    if (!m.validate()) throw new Error(`internal error: the WebAssembly module for network ${plan.name} is invalid (binaryen printed why above)`);
    const built = performance.now();
    options.onProgress?.({ stage: "binaryen", part: relaxed ? "wasm relaxed" : "wasm", done: 0, total: 1 });
    const binary = optimizeAndEmit(m, options.optimize ?? DEFAULT_OPTIMIZE);
    const t = options.timings;
    if (t) {
      const tag = relaxed ? " (relaxed)" : "";
      t.set(`wasm build${tag}`, (t.get(`wasm build${tag}`) ?? 0) + built - started);
      t.set(`wasm optimise${tag}`, (t.get(`wasm optimise${tag}`) ?? 0) + performance.now() - built);
    }
    return { binary, fused: fns.some((f) => f.fused) };
  } finally {
    m.dispose();
  }
}

/** Optimises (-O3 by default) and emits the binary, with binaryen's global options set for this module only. */
function optimizeAndEmit(m: binaryen.Module, how: WasmOptimize): Uint8Array {
  const saved = {
    level: binaryen.getOptimizeLevel(),
    shrink: binaryen.getShrinkLevel(),
    lowMemory: binaryen.getLowMemoryUnused(),
    debugInfo: binaryen.getDebugInfo(),
    oneCaller: binaryen.getOneCallerInlineMaxSize(),
  };
  try {
    binaryen.setOptimizeLevel("level" in how ? how.level : 3);
    binaryen.setShrinkLevel(0);
    // True by construction: nothing lives below LOW_MEMORY.
    binaryen.setLowMemoryUnused(true);
    // Keep one function per step, by name (a name section, hence debug info), so that a
    // profile says which layer the time goes to: `run` calls each once, and binaryen would
    // otherwise inline them all into it.
    binaryen.setDebugInfo(true);
    binaryen.setOneCallerInlineMaxSize(0);
    if ("level" in how) {
      if (how.level > 0) m.optimize();
    } else m.runPasses([...how.passes]);
    return m.emitBinary();
  } finally {
    binaryen.setOptimizeLevel(saved.level);
    binaryen.setShrinkLevel(saved.shrink);
    binaryen.setLowMemoryUnused(saved.lowMemory);
    binaryen.setDebugInfo(saved.debugInfo);
    binaryen.setOneCallerInlineMaxSize(saved.oneCaller);
  }
}
