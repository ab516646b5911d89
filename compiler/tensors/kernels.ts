// Hand-made kernels that a layer can name instead of learning (`weight: sobel_x`,
// `weight: gaussian(sigma: 1.5)`, `weight: gabor(sigma: 2, lambda: 4)`): the classic edge
// detectors, blurs and oriented band-pass filters. Each fills one spatial kernel, row-major
// over the spatial axes (for 2-D: [row = y, downwards][column = x, rightwards]); the caller
// copies it to every (filter, channel) pair. Values are in the cross-correlation convention
// that `conv` computes, so sobel_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] is positive where
// the image gets brighter to the right. Positions are measured from the kernel's centre,
// (k - 1) / 2 on each axis, so even sizes are centred between pixels.
//   sobel_x, sobel_y  3x3 only; sobel_y is sobel_x transposed (positive where brighter downwards)
//   laplacian         3x3 only: [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
//   gaussian(sigma)   1-D to 3-D, isotropic, normalised to sum 1
//   box               1-D to 3-D mean filter (every value 1 / size)
//   gabor(sigma, lambda, theta = 0, psi = 0, gamma = 1)   2-D:
//     exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / lambda + psi),
//     x' = x cos(theta) + y sin(theta), y' = -x sin(theta) + y cos(theta); not normalised.
// Every problem (unknown name or argument, a missing one, a bad value, a size the kernel
// cannot have) is a message for the caller to attach to the source; nothing throws.

import { fail, ok, type Result } from "./result.js";

interface Param {
  readonly name: string;
  /** Absent: the argument is required. */
  readonly default?: number;
  readonly positive?: boolean;
}

interface KernelDef {
  readonly params: readonly Param[];
  /** The spatial ranks it can fill. */
  readonly ranks: readonly number[];
  /** Only this size (e.g. 3x3), if any. */
  readonly size?: readonly number[];
  readonly make: (args: Readonly<Record<string, number>>, size: readonly number[]) => Float64Array;
}

const SOBEL_X = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
const SOBEL_Y = [-1, -2, -1, 0, 0, 0, 1, 2, 1];
const LAPLACIAN = [0, 1, 0, 1, -4, 1, 0, 1, 0];

const DEFS: Readonly<Record<string, KernelDef>> = {
  sobel_x: { params: [], ranks: [2], size: [3, 3], make: () => Float64Array.from(SOBEL_X) },
  sobel_y: { params: [], ranks: [2], size: [3, 3], make: () => Float64Array.from(SOBEL_Y) },
  laplacian: { params: [], ranks: [2], size: [3, 3], make: () => Float64Array.from(LAPLACIAN) },
  gaussian: { params: [{ name: "sigma", positive: true }], ranks: [1, 2, 3], make: gaussian },
  box: { params: [], ranks: [1, 2, 3], make: (_, size) => new Float64Array(product(size)).fill(1 / product(size)) },
  gabor: {
    params: [
      { name: "sigma", positive: true },
      { name: "lambda", positive: true },
      { name: "theta", default: 0 },
      { name: "psi", default: 0 },
      { name: "gamma", default: 1, positive: true },
    ],
    ranks: [2],
    make: gabor,
  },
};

export const NAMED_KERNELS: readonly string[] = Object.keys(DEFS);

/** One spatial kernel of size `kernel` (e.g. [3, 3]) made by the named recipe with `args`. */
export function namedKernel(name: string, args: Readonly<Record<string, number>>, kernel: readonly number[]): Result<Float64Array> {
  if (!Object.prototype.hasOwnProperty.call(DEFS, name)) {
    return fail(`unknown kernel '${name}' (known: ${NAMED_KERNELS.join(", ")})`);
  }
  const def = DEFS[name];
  const names = def.params.map((p) => p.name);
  for (const a of Object.keys(args)) {
    if (!names.includes(a)) {
      return fail(
        names.length === 0
          ? `kernel '${name}' takes no arguments, but got '${a}'`
          : `kernel '${name}' has no argument '${a}' (it takes ${names.join(", ")})`,
      );
    }
  }
  const values: Record<string, number> = {};
  for (const p of def.params) {
    const given = Object.prototype.hasOwnProperty.call(args, p.name) ? args[p.name] : p.default;
    if (given === undefined) return fail(`kernel '${name}' needs the argument '${p.name}'`);
    if (!Number.isFinite(given)) return fail(`kernel '${name}': ${p.name} must be a finite number, but got ${given}`);
    if (p.positive && !(given > 0)) return fail(`kernel '${name}': ${p.name} must be positive, but got ${given}`);
    values[p.name] = given;
  }
  if (kernel.length === 0 || !kernel.every((k) => Number.isSafeInteger(k) && k > 0)) {
    return fail(`kernel '${name}' needs a kernel size of positive integers, but got [${kernel.join(", ")}]`);
  }
  if (def.size && (kernel.length !== def.size.length || kernel.some((k, i) => k !== def.size?.[i]))) {
    return fail(`kernel '${name}' is ${def.size.join("x")}, but this layer's kernel is ${showSize(kernel)}`);
  }
  if (!def.ranks.includes(kernel.length)) {
    const ranks = def.ranks.map((r) => `${r}-D`);
    const want = ranks.length === 1 ? ranks[0] : `${ranks.slice(0, -1).join(", ")} or ${ranks[ranks.length - 1]}`;
    return fail(`kernel '${name}' is ${want}, but this layer's kernel is ${showSize(kernel)}`);
  }
  return ok(def.make(values, kernel));
}

/** A kernel size as the DSL writes it: 5x5, 3x3x3; a 1-D size says so. */
function showSize(size: readonly number[]): string {
  return size.length === 1 ? `${size[0]} (1-D)` : size.join("x");
}

function product(size: readonly number[]): number {
  return size.reduce((a, b) => a * b, 1);
}

/** exp(-|p - centre|^2 / (2 sigma^2)) normalised to sum 1; a product of 1-D Gaussians, so built axis by axis. */
function gaussian(args: Readonly<Record<string, number>>, size: readonly number[]): Float64Array {
  const sigma = args.sigma;
  let out = Float64Array.of(1);
  for (const k of size) {
    const axis = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      const d = i - (k - 1) / 2;
      axis[i] = Math.exp(-(d * d) / (2 * sigma * sigma));
    }
    const next = new Float64Array(out.length * k);
    for (let a = 0; a < out.length; a++) for (let i = 0; i < k; i++) next[a * k + i] = out[a] * axis[i];
    out = next;
  }
  let sum = 0;
  for (const v of out) sum += v;
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

function gabor(args: Readonly<Record<string, number>>, size: readonly number[]): Float64Array {
  const { sigma, lambda, theta, psi, gamma } = args;
  const [h, w] = size;
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  const out = new Float64Array(h * w);
  for (let row = 0; row < h; row++) {
    const y = row - (h - 1) / 2;
    for (let col = 0; col < w; col++) {
      const x = col - (w - 1) / 2;
      const xr = x * c + y * s;
      const yr = -x * s + y * c;
      out[row * w + col] = Math.exp(-(xr * xr + gamma * gamma * yr * yr) / (2 * sigma * sigma)) * Math.cos((2 * Math.PI * xr) / lambda + psi);
    }
  }
  return out;
}
