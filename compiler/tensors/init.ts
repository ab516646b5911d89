// Seeded initialisers for weights nobody trained: what `init: he(seed: 1)`, `glorot`,
// `uniform(a, b)` and `normal(mean, std)` mean, and what a layer without weights gets.
// Each fills the weight's logical layout in row-major order with successive draws of one
// Random stream seeded by the spec's seed, so the numbers depend only on the seed, the
// size and the fans, never on the platform or on which backend runs them.
//   he:      normal(0, sqrt(2 / fanIn))                          (He et al. 2015, for ReLU)
//   glorot:  uniform(-l, l), l = sqrt(6 / (fanIn + fanOut))      (Glorot and Bengio 2010)
// Fans follow PyTorch's _calculate_fan_in_and_fan_out; see `fans`.

import { Random } from "./random.js";

export type InitSpec =
  | { readonly kind: "he" | "glorot"; readonly seed: number }
  | { readonly kind: "uniform"; readonly low: number; readonly high: number; readonly seed: number }
  | { readonly kind: "normal"; readonly mean: number; readonly std: number; readonly seed: number }
  | { readonly kind: "zeros" };

export const he = (seed: number): InitSpec => ({ kind: "he", seed });
export const glorot = (seed: number): InitSpec => ({ kind: "glorot", seed });
export const uniform = (low: number, high: number, seed: number): InitSpec => ({ kind: "uniform", low, high, seed });
export const normal = (mean: number, std: number, seed: number): InitSpec => ({ kind: "normal", mean, std, seed });
export const zeros = (): InitSpec => ({ kind: "zeros" });

/** A new Float32Array of the shape's size, filled by `spec`. */
export function initialise(spec: InitSpec, shape: readonly number[], fanIn: number, fanOut: number): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(spec, out, fanIn, fanOut);
  return out;
}

/** Fills `out` by `spec`. A fan of zero (an empty weight) is treated as one, so nothing divides by zero. */
export function fill(spec: InitSpec, out: Float32Array, fanIn: number, fanOut: number): void {
  switch (spec.kind) {
    case "zeros":
      out.fill(0);
      return;
    case "he": {
      const std = Math.sqrt(2 / Math.max(fanIn, 1));
      const r = new Random(spec.seed);
      for (let i = 0; i < out.length; i++) out[i] = std * r.normal();
      return;
    }
    case "glorot": {
      const l = Math.sqrt(6 / Math.max(fanIn + fanOut, 1));
      const r = new Random(spec.seed);
      for (let i = 0; i < out.length; i++) out[i] = -l + 2 * l * r.uniform();
      return;
    }
    case "uniform": {
      const r = new Random(spec.seed);
      const width = spec.high - spec.low;
      for (let i = 0; i < out.length; i++) out[i] = spec.low + width * r.uniform();
      return;
    }
    case "normal": {
      const r = new Random(spec.seed);
      for (let i = 0; i < out.length; i++) out[i] = spec.mean + spec.std * r.normal();
      return;
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown initialiser ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Fan-in and fan-out of a weight in its logical layout, as PyTorch computes them:
 * conv `[O, C/g, k1..kd]`: fanIn = C/g * prod(k), fanOut = O * prod(k);
 * dense `[units, inputs]`: fanIn = inputs, fanOut = units.
 */
export function fans(kind: "conv" | "dense", weightShape: readonly number[]): { fanIn: number; fanOut: number } {
  if (kind === "dense") return { fanIn: weightShape[1] ?? 0, fanOut: weightShape[0] ?? 0 };
  const receptive = weightShape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: (weightShape[1] ?? 0) * receptive, fanOut: (weightShape[0] ?? 0) * receptive };
}
