// `cnnc check MODEL --size H=224 --size W=224`: a network with symbolic sizes checked at given
// ones, before anything runs. The plan's sizes are Dims, so each is evaluated at the sizes:
// the run-time checks (every output size at least 1), every activation buffer against the
// largest tensor a target holds, the WebAssembly memory (weights + activations, one sample)
// against its 2 GiB, and each buffer against WebGPU's default storage-binding limit (128 MiB,
// a warning: many adapters allow more, and the runtime asks for what the bundle needs).
// Errors and warnings name the layer and point at it in the source.

import type { DiagnosticLog } from "./diagnostics.js";
import { type DimEnv, evalDim, printShape } from "./ir/dim.js";
import { MAX_SIZE, MAX_TENSOR_ELEMENTS } from "./limits.js";
import type { Optimised } from "./optimise.js";
import { didYouMean } from "./suggest.js";

/** WebAssembly memory the runtime can grow to (runtime/wasm.ts: addresses are kept non-negative i32). */
const WASM_MEMORY_BYTES = 2 ** 31;
/** WebGPU's default maxStorageBufferBindingSize; adapters may offer more. */
const WEBGPU_DEFAULT_BINDING_BYTES = 2 ** 27;

export interface SizeSummary {
  /** `H = 224, W = 224` */
  readonly sizes: string;
  /** Activation memory of one sample, bytes (with the plan's buffer reuse). */
  readonly activationBytes: number;
  readonly weightBytes: number;
  /** The largest activation tensor: its layer, shape and bytes. */
  readonly largest?: { readonly layer: string; readonly shape: string; readonly bytes: number };
}

/**
 * Checks the optimised network at `sizes`, adding errors and warnings to `log`; returns a
 * summary when the sizes name the network's symbols (even if a check then failed).
 */
export function checkAtSizes(o: Optimised, sizes: DimEnv, log: DiagnosticLog): SizeSummary | undefined {
  const symbols = o.plan.symbols;
  const { file } = o;
  if (symbols.length === 0) {
    log.error(`--size: network ${o.plan.name} has no size symbols (all its input sizes are fixed)`, file);
    return undefined;
  }
  for (const name of Object.keys(sizes)) {
    if (!symbols.includes(name)) log.error(`--size: network ${o.plan.name} has no size symbol '${name}'${didYouMean(name, symbols)}; its sizes are ${symbols.join(", ")}`, file);
  }
  const missing = symbols.filter((s) => sizes[s] === undefined);
  if (missing.length) log.error(`--size: give every size symbol of ${o.plan.name}; missing ${missing.join(", ")}`, file);
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isSafeInteger(v) || v < 1 || v > MAX_SIZE) log.error(`--size: ${name} = ${v} must be a whole number from 1 to ${MAX_SIZE}`, file);
  }
  if (log.hasErrors) return undefined;

  const env: DimEnv = Object.fromEntries(symbols.map((s) => [s, sizes[s]]));
  const shown = symbols.map((s) => `${s} = ${env[s]}`).join(", ");
  const spanOf = (layer: string) => o.graph.nodes.find((n) => n.layer === layer || n.fused?.includes(layer))?.span;

  // Output sizes that would be zero or negative: what run() would refuse for these inputs.
  const failed = new Set(o.plan.checks.filter((c) => evalDim(c.dim, env) < 1).map((c) => c.message));
  for (const message of failed) log.error(`${message} (with ${shown})`, file);
  if (log.hasErrors) return undefined;

  let largest: SizeSummary["largest"];
  for (const step of o.plan.steps) {
    const shape = step.output.shape.map((d) => evalDim(d, env));
    const values = shape.reduce((p, d) => p * d, 1);
    const bytes = 4 * values;
    const where = spanOf(step.layer);
    const text = `[${shape.join(", ")}]`;
    if (values > MAX_TENSOR_ELEMENTS) {
      log.error(`layer ${step.layer}: its output ${printShape(step.output.shape)} is ${text} with ${shown}: ${values} values, more than the ${MAX_TENSOR_ELEMENTS} a target can hold`, file, where);
    } else if (bytes > WEBGPU_DEFAULT_BINDING_BYTES) {
      log.warning(`layer ${step.layer}: its output ${text} (${mib(bytes)} with ${shown}) is over WebGPU's default maxStorageBufferBindingSize of 128 MiB; WebGPU runs it only on an adapter that allows ${mib(bytes)}`, file, where);
    }
    if (!largest || bytes > largest.bytes) largest = { layer: step.layer, shape: text, bytes };
  }
  const activationBytes = 4 * evalDim(o.plan.arenaElements, env);
  const weightBytes = 4 * o.plan.weightData.length;
  if (!log.hasErrors && activationBytes + weightBytes > WASM_MEMORY_BYTES) {
    log.error(`with ${shown}, one sample needs ${mib(activationBytes)} of activations and ${mib(weightBytes)} of weights, more than the 2 GiB of WebAssembly memory`, file);
  }
  return { sizes: shown, activationBytes, weightBytes, largest };
}

/** `12.3 MiB`, `512 KiB`, `96 bytes`. */
export function mib(bytes: number): string {
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}
