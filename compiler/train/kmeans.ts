// Unsupervised first-layer features (section 9.9): conv kernels learned as k-means centroids
// of image patches, after Coates and Ng ("Learning feature representations with k-means", 2012).
//   1. Draw N random patches of the kernel's size [C, kh, kw] from the images (seeded), skipping
//      flat ones (background): a constant patch has no direction to learn.
//   2. Normalise each patch: subtract its mean, divide by sqrt(variance + eps), so that the
//      clusters are of shape (edges, strokes, ends) rather than of brightness or contrast.
//   3. Spherical k-means: patches and centroids are unit vectors and a patch belongs to the
//      centroid of largest dot product (cosine). Filters are directions: a conv's response to a
//      feature should depend on how well the patch matches it, and with unit centroids every
//      filter has the same gain, so none dominates the next layer. k-means++ seeds the
//      centroids (each new one drawn with probability proportional to its distance to the
//      nearest chosen one, 1 - cos), then Lloyd iterations: assign, set each centroid to the
//      normalised sum of its patches, until no assignment changes or the iteration limit.
//      An emptied cluster is reseeded with the patch its centroid explains worst.
// No ZCA whitening: the result is a conv's weights applied to raw images, and whitened
// centroids would need the whitening folded into them (a bonus left for later).

import { Random } from "../tensors/random.js";

/** Limits that keep a run bounded: N patches of d values, k centroids, N*k*d per iteration. */
export const KMEANS_LIMITS = { maxPatches: 1_000_000, maxK: 4096, maxIterations: 1000, maxWork: 4e11 } as const;

export class KmeansError extends Error {}

export interface PatchOptions {
  /** One image's shape [C, H, W]. */
  readonly sampleShape: readonly number[];
  /** Patch size [kh, kw]. */
  readonly kernel: readonly [number, number];
  /** The conv's dilation [dh, dw]: a patch is the pixels the dilated kernel covers. Default [1, 1]. */
  readonly dilation?: readonly [number, number];
  readonly patches: number;
  readonly seed: number;
  /** Added to each patch's variance before dividing by its square root; 0.01 suits [0, 1] pixels (Coates and Ng use 10 for 0..255). */
  readonly eps?: number;
  /** Patches whose standard deviation is below this are flat and skipped. */
  readonly minStd?: number;
}

/**
 * N normalised patches, row after row ([N, C*kh*kw], each zero-mean, divided by
 * sqrt(var + eps)). Throws KmeansError when the images hold fewer than N non-flat patches
 * within 20 N draws.
 */
export function extractPatches(images: Float32Array, count: number, o: PatchOptions): Float32Array {
  const [C, H, W] = o.sampleShape;
  const [kh, kw] = o.kernel;
  const [dh, dw] = o.dilation ?? [1, 1];
  // The extent the dilated kernel covers in the image.
  const eh = (kh - 1) * dh + 1;
  const ew = (kw - 1) * dw + 1;
  if (o.sampleShape.length !== 3) throw new KmeansError(`patches come from 2-D images [C, H, W], but the samples are [${o.sampleShape.join(", ")}]`);
  if (eh > H || ew > W) throw new KmeansError(`a ${kh}x${kw} patch${dh * dw > 1 ? ` dilated ${dh}x${dw}` : ""} does not fit in a ${H}x${W} image`);
  if (count < 1) throw new KmeansError("the dataset holds no images");
  const d = C * kh * kw;
  const eps = o.eps ?? 0.01;
  const minStd = o.minStd ?? 1e-3;
  const out = new Float32Array(o.patches * d);
  const patch = new Float64Array(d);
  const rng = new Random(o.seed);
  const pick = (n: number): number => Math.min(n - 1, Math.floor(rng.uniform() * n));
  let found = 0;
  for (let tries = 0; found < o.patches && tries < 20 * o.patches; tries++) {
    const img = pick(count);
    const y = pick(H - eh + 1);
    const x = pick(W - ew + 1);
    let j = 0;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < kh; i++) {
        const row = ((img * C + c) * H + y + i * dh) * W + x;
        for (let k = 0; k < kw; k++) {
          patch[j] = images[row + k * dw];
          sum += patch[j++];
        }
      }
    }
    const mean = sum / d;
    let sq = 0;
    for (let i = 0; i < d; i++) sq += (patch[i] - mean) ** 2;
    const variance = sq / d;
    if (Math.sqrt(variance) < minStd) continue;
    const scale = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < d; i++) out[found * d + i] = (patch[i] - mean) * scale;
    found++;
  }
  if (found < o.patches) {
    throw new KmeansError(`found only ${found} non-flat ${kh}x${kw} patches of the ${o.patches} asked for in ${20 * o.patches} draws; ask for fewer patches or give more images`);
  }
  return out;
}

export interface KmeansOptions {
  readonly k: number;
  readonly seed: number;
  readonly iterations?: number;
  /** Called after each Lloyd iteration (for progress on stderr). */
  readonly progress?: (iteration: number, iterations: number, changed: number) => void;
}

export interface KmeansResult {
  /** k unit vectors of d values, row after row. */
  readonly centroids: Float32Array;
  /** The centroid of each patch. */
  readonly assignment: Int32Array;
  readonly iterations: number;
  /** Mean cosine between each patch and its centroid (1 is a perfect fit). */
  readonly meanCosine: number;
}

/** Spherical k-means of `n` vectors of `d` values (normalised to unit length first). */
export function sphericalKmeans(data: Float32Array, d: number, o: KmeansOptions): KmeansResult {
  const n = data.length / d;
  const iterations = o.iterations ?? 20;
  checkKmeans(n, d, o.k, iterations);
  const k = o.k;
  const x = new Float64Array(data.length);
  for (let p = 0; p < n; p++) {
    let norm = 0;
    for (let i = 0; i < d; i++) norm += data[p * d + i] ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < d; i++) x[p * d + i] = data[p * d + i] * inv;
  }
  const rng = new Random(o.seed);
  const cent = new Float64Array(k * d);
  const dot = (p: number, c: number): number => {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[p * d + i] * cent[c * d + i];
    return s;
  };
  // k-means++: distance 1 - cos (half the squared distance of unit vectors).
  const first = Math.min(n - 1, Math.floor(rng.uniform() * n));
  cent.set(x.subarray(first * d, first * d + d), 0);
  const dist = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let p = 0; p < n; p++) {
      dist[p] = Math.min(dist[p], Math.max(0, 1 - dot(p, c - 1)));
      total += dist[p];
    }
    let chosen = n - 1;
    if (total > 0) {
      let r = rng.uniform() * total;
      for (let p = 0; p < n; p++) {
        r -= dist[p];
        if (r < 0) {
          chosen = p;
          break;
        }
      }
    } else chosen = Math.min(n - 1, Math.floor(rng.uniform() * n));
    cent.set(x.subarray(chosen * d, chosen * d + d), c * d);
  }
  const assignment = new Int32Array(n).fill(-1);
  const best = new Float64Array(n);
  let done = 0;
  for (let it = 1; it <= iterations; it++) {
    let changed = 0;
    for (let p = 0; p < n; p++) {
      let arg = 0;
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        const s = dot(p, c);
        if (s > max) {
          max = s;
          arg = c;
        }
      }
      best[p] = max;
      if (assignment[p] !== arg) changed++;
      assignment[p] = arg;
    }
    done = it;
    if (changed === 0) {
      o.progress?.(it, iterations, 0);
      break;
    }
    cent.fill(0);
    const sizes = new Int32Array(k);
    for (let p = 0; p < n; p++) {
      const c = assignment[p];
      sizes[c]++;
      for (let i = 0; i < d; i++) cent[c * d + i] += x[p * d + i];
    }
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) {
        // The patch explained worst takes the empty centroid (and is no longer a candidate).
        let worst = 0;
        for (let p = 1; p < n; p++) if (best[p] < best[worst]) worst = p;
        best[worst] = Infinity;
        cent.set(x.subarray(worst * d, worst * d + d), c * d);
      }
      normalise(cent, c * d, d);
    }
    o.progress?.(it, iterations, changed);
  }
  let cos = 0;
  for (let p = 0; p < n; p++) cos += dot(p, assignment[p]);
  return { centroids: Float32Array.from(cent), assignment, iterations: done, meanCosine: cos / n };
}

function normalise(v: Float64Array, at: number, d: number): void {
  let norm = 0;
  for (let i = 0; i < d; i++) norm += v[at + i] ** 2;
  if (norm === 0) return;
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < d; i++) v[at + i] *= inv;
}

/** The bounds every run is held to; a KmeansError names the one broken. */
export function checkKmeans(patches: number, d: number, k: number, iterations: number): void {
  const L = KMEANS_LIMITS;
  if (!Number.isInteger(k) || k < 1) throw new KmeansError(`k-means needs k >= 1 centroids, got ${k}`);
  if (k > L.maxK) throw new KmeansError(`k-means takes at most ${L.maxK} centroids, got ${k}`);
  if (!Number.isInteger(patches) || patches < 1) throw new KmeansError(`k-means needs a positive number of patches, got ${patches}`);
  if (patches < k) throw new KmeansError(`k-means needs at least as many patches as centroids (${k}), got ${patches}`);
  if (patches > L.maxPatches) throw new KmeansError(`k-means takes at most ${L.maxPatches} patches, got ${patches}`);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > L.maxIterations) throw new KmeansError(`k-means iterations must be 1..${L.maxIterations}, got ${iterations}`);
  if (patches * k * d * iterations > L.maxWork) throw new KmeansError(`${patches} patches x ${k} centroids x ${d} values x ${iterations} iterations is more work than the limit (${L.maxWork}); use fewer patches or iterations`);
}

export interface ConvFeatures {
  /** [k, C, kh, kw], unit-norm filters. */
  readonly weight: Float32Array;
  readonly shape: readonly [number, number, number, number];
  readonly result: KmeansResult;
}

/** k-means filters for a conv of kernel [kh, kw] over images of [C, H, W]. */
export function kmeansFilters(
  images: Float32Array,
  count: number,
  sampleShape: readonly number[],
  o: {
    readonly k: number;
    readonly kernel: readonly [number, number];
    readonly dilation?: readonly [number, number];
    /** The conv flips its kernel (a true convolution): flip the centroids so that it still matches them. */
    readonly flip?: boolean;
    readonly patches: number;
    readonly seed: number;
    readonly iterations?: number;
    readonly progress?: KmeansOptions["progress"];
  },
): ConvFeatures {
  const C = sampleShape[0];
  const d = C * o.kernel[0] * o.kernel[1];
  checkKmeans(o.patches, d, o.k, o.iterations ?? 20);
  const patches = extractPatches(images, count, { sampleShape, kernel: o.kernel, dilation: o.dilation, patches: o.patches, seed: o.seed });
  const result = sphericalKmeans(patches, d, { k: o.k, seed: o.seed + 1, iterations: o.iterations, progress: o.progress });
  const weight = o.flip ? flipped(result.centroids, o.k * C, o.kernel[0], o.kernel[1]) : result.centroids;
  return { weight, shape: [o.k, C, o.kernel[0], o.kernel[1]], result };
}

/** Each of `n` kh x kw kernels rotated by 180 degrees (flipped on both axes). */
function flipped(w: Float32Array, n: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let f = 0; f < n; f++) {
    for (let i = 0; i < kh; i++) for (let k = 0; k < kw; k++) out[(f * kh + i) * kw + k] = w[(f * kh + kh - 1 - i) * kw + kw - 1 - k];
  }
  return out;
}
