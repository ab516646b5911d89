// The sizes the compiler accepts, stated once. Every size a program writes (filters,
// kernels, windows, `out:`, multipliers, units, input dimensions) is checked against them
// where it is written, so that a size no target can address is a diagnostic naming the
// value, the limit and the layer, never a typed-array RangeError or an i32 constant that
// overflows in a backend. docs/limits.md explains each one to users.

/** The largest single size: the targets index in signed 32-bit integers. */
export const MAX_SIZE = 2 ** 31 - 1;

/**
 * The largest tensor, in f32 values: the WebAssembly backend's memory is 2 GiB (addresses
 * are i32 and kept non-negative), so no one tensor of more than 2^29 values fits on it.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 29;

/**
 * The compile-time memory budget for weights: all layers' weights together, as f32, at most
 * 256 MiB (64 million parameters: ResNet-50 has 25 million). The compiler holds them, and
 * tables derived from them, in memory while it works, and its time grows with them.
 */
export const MAX_WEIGHT_BYTES = 2 ** 28;

/**
 * The most layers (graph nodes) one network may have, after `repeat` and blocks are
 * unrolled: compile time grows with it (a few milliseconds a layer), and the deepest
 * networks in use have a few thousand.
 */
export const MAX_LAYERS = 4096;

/** Human-readable byte counts for messages: `1 GiB`, `2 GiB`. */
export function showBytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  return `${n} bytes`;
}

/** A product that stays readable when it overflows: exact below 2^53, else Infinity-free. */
export function sizeProduct(ds: readonly number[]): number {
  return ds.reduce((p, d) => p * d, 1);
}

/** Why `n` cannot be a size, or undefined when it can (whole numbers are checked elsewhere). */
export function sizeTooLarge(n: number): string | undefined {
  if (n > MAX_SIZE) return `${n} is larger than ${MAX_SIZE}, the largest size the targets can index (32-bit)`;
  return undefined;
}

/**
 * Names a network gives its inputs, outputs and size symbols become keys of plain objects
 * (`run()`'s inputs and results, the sizes); a name that is already a property of every
 * object (`__proto__`, `constructor`, `toString`) would collide with JavaScript itself.
 */
export function reservedName(name: string): boolean {
  return name in Object.prototype;
}

/** The largest weights file read: Node reads at most 2 GiB into one buffer. */
export const MAX_WEIGHTS_FILE_BYTES = 2 ** 31 - 1;
