// The one error class the runtime throws for "this backend cannot be used here", kept in a
// file of its own so that what the runtime exports never drags in the WebGPU type
// declarations (a bundle's .d.ts must type-check without @webgpu/types).

/**
 * WebGPU (or WebAssembly) cannot be used here: no adapter, no `webgpu` package in Node, an
 * adapter below what the network was compiled for, sizes beyond the device, a bundle without
 * that target. The user's situation, not a bug: the CLI prints the message and exits 1 (a
 * bundle carries its own copy of the runtime, hence the CLI also checks the name).
 */
export class BackendError extends Error {
  override readonly name = "BackendError";
  /** Recognised across bundle copies, where `instanceof` fails: each bundle has its own class. */
  readonly code = "CNNC_BACKEND";
}
