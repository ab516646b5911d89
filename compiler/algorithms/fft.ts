// FFT convolution: transform input and kernel, multiply pointwise, transform back. The
// correlation y[j] = sum_k x[j + k] w[k] over one tile of N samples is, by the DFT's
// correlation theorem, IDFT( X · conj(W) ) at j (circular; the positions j in [0, N - k_eff]
// never wrap). So the input is cut into overlapping tiles of N per axis (overlap-save:
// consecutive tiles start T = N - k_eff + 1 apart and each gives T valid outputs), memory
// stays bounded by one tile per channel, and the kernel's spectra (conj(W) / N^d) are
// computed here at compile time. Work per tile: one forward FFT per input channel, one
// inverse FFT per PAIR of output channels (two real outputs ride in one complex transform,
// y_a + i y_b = IDFT(Y_a + i Y_b)), and C complex multiply-adds per output and frequency.
//
// The FFT itself is an in-place iterative mixed-radix decimation-in-time transform for
// N = 2^a 3^b 5^c: the input is loaded in mixed-radix digit-reversed order (`fftPlan.perm`),
// then one stage per radix combines r sub-transforms of length m into one of length r·m,
// twiddling by W_{rm}^{u k} and taking an r-point DFT. The WASM kernel (backends/wasm/fft.ts)
// follows the same plan, stage for stage, on four lanes at a time.

import type { ConvOp } from "../ir/ops.js";

export interface FftPlan {
  readonly n: number;
  /** Radices in stage order (the first stage combines single points). */
  readonly radices: readonly number[];
  /** Position p of the buffer holds input element perm[p]. */
  readonly perm: Int32Array;
}

/** N = 2^a 3^b 5^c? */
export function isFftSize(n: number): boolean {
  if (!Number.isInteger(n) || n < 1) return false;
  for (const p of [2, 3, 5]) while (n % p === 0) n /= p;
  return n === 1;
}

/** Radix-4 stages where it can (fewer passes over memory), then 2, 3 and 5. */
export function radices(n: number): number[] {
  if (!isFftSize(n)) throw new Error(`internal error: FFT size ${n} is not 2^a 3^b 5^c`);
  const out: number[] = [];
  let rest = n;
  while (rest % 4 === 0) {
    out.push(4);
    rest /= 4;
  }
  for (const p of [2, 3, 5]) while (rest % p === 0) {
    out.push(p);
    rest /= p;
  }
  // Small radices first: the first stage has no twiddles, so the odd radix pays least there.
  return out.reverse();
}

export function fftPlan(n: number): FftPlan {
  const rs = radices(n);
  // Recursion level q splits by the radix of stage s - 1 - q (the last stage is the first
  // split). Input index n = u_1 + r_1 (u_2 + r_2 (...)) sits at p = u_1 N_2 + u_2 N_3 + ...
  const splits = [...rs].reverse();
  const perm = new Int32Array(n);
  for (let idx = 0; idx < n; idx++) {
    let rest = idx;
    let p = 0;
    let size = n;
    for (const r of splits) {
      const u = rest % r;
      rest = Math.floor(rest / r);
      size /= r;
      p += u * size;
    }
    perm[p] = idx;
  }
  return { n, radices: rs, perm };
}

/** One stage of the plan: combine r sub-transforms of length m into blocks of r·m. */
export interface FftStage {
  readonly r: number;
  readonly m: number;
}

export function stages(plan: FftPlan): FftStage[] {
  let m = 1;
  return plan.radices.map((r) => {
    const s = { r, m };
    m *= r;
    return s;
  });
}

/** e^{sign 2πi k / n} as [re, im]. */
export function twiddle(k: number, n: number, sign: number): [number, number] {
  const a = (sign * 2 * Math.PI * k) / n;
  return [Math.cos(a), Math.sin(a)];
}

const planCache = new Map<number, FftPlan>();
const rootCache = new Map<number, Float64Array>();

function cachedPlan(n: number): FftPlan {
  let p = planCache.get(n);
  if (!p) planCache.set(n, (p = fftPlan(n)));
  return p;
}

/** twiddle(k, n, sign) for k < n, interleaved [re, im]: computed once per size (weights' spectra take many transforms). */
function roots(n: number, sign: number): Float64Array {
  const key = sign * n;
  let t = rootCache.get(key);
  if (!t) {
    t = new Float64Array(2 * n);
    for (let k = 0; k < n; k++) [t[2 * k], t[2 * k + 1]] = twiddle(k, n, sign);
    rootCache.set(key, t);
  }
  return t;
}

/**
 * In-place DFT of (re, im)[offset + i*stride], i < n: sign -1 forward, +1 inverse (unscaled).
 * The reference for the WASM stages (same plan, same order of operations).
 */
export function fft(re: Float64Array, im: Float64Array, n: number, sign: -1 | 1, offset = 0, stride = 1): void {
  const plan = cachedPlan(n);
  const br = new Float64Array(n);
  const bi = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    br[p] = re[offset + plan.perm[p] * stride];
    bi[p] = im[offset + plan.perm[p] * stride];
  }
  const ar = new Float64Array(5);
  const ai = new Float64Array(5);
  for (const { r, m } of stages(plan)) {
    const span = r * m;
    const ws = roots(span, sign);
    const wr1 = roots(r, sign);
    for (let block = 0; block < n; block += span) for (let k = 0; k < m; k++) {
      for (let u = 0; u < r; u++) {
        // u * k < span: the table has it.
        const wr = ws[2 * u * k];
        const wi = ws[2 * u * k + 1];
        const xr = br[block + u * m + k];
        const xi = bi[block + u * m + k];
        ar[u] = xr * wr - xi * wi;
        ai[u] = xr * wi + xi * wr;
      }
      for (let v = 0; v < r; v++) {
        let sr = 0;
        let si = 0;
        for (let u = 0; u < r; u++) {
          const j = (u * v) % r;
          const wr = wr1[2 * j];
          const wi = wr1[2 * j + 1];
          sr += ar[u] * wr - ai[u] * wi;
          si += ar[u] * wi + ai[u] * wr;
        }
        br[block + v * m + k] = sr;
        bi[block + v * m + k] = si;
      }
    }
  }
  for (let p = 0; p < n; p++) {
    re[offset + p * stride] = br[p];
    im[offset + p * stride] = bi[p];
  }
}

/** The d-dimensional DFT of a row-major [n1..nd] array, in place. */
export function fftNd(re: Float64Array, im: Float64Array, shape: readonly number[], sign: -1 | 1): void {
  const total = shape.reduce((a, b) => a * b, 1);
  let inner = total;
  for (const n of shape) {
    inner /= n;
    const outer = total / (n * inner);
    for (let a = 0; a < outer; a++) for (let b = 0; b < inner; b++) fft(re, im, n, sign, a * n * inner + b, inner);
  }
}

/** The sizes worth an FFT tile: 2^a 3^b 5^c, multiples of 4 (the kernel works on four lanes). */
export function fftTileSizes(max: number): number[] {
  const out: number[] = [];
  for (let n = 4; n <= max; n += 4) if (isFftSize(n)) out.push(n);
  return out;
}

/** Real floating-point operations of one complex FFT of length n (per radix stage, per point). */
export function fftFlops(n: number): number {
  const perPoint: Record<number, number> = { 2: 3, 3: 8, 4: 4.25, 5: 10 };
  const twiddled = (r: number, m: number) => (m > 1 ? (6 * (r - 1)) / r : 0);
  return stages(fftPlan(n)).reduce((s, { r, m }) => s + n * (perPoint[r] + twiddled(r, m)), 0);
}

/** FFT applies at stride 1 (it computes every output position; a strided layer would waste them). */
export function fftApplies(op: ConvOp): string | undefined {
  if (op.stride.some((s) => s !== 1)) return `FFT convolution computes every output position, so it needs stride 1; this layer has stride ${op.stride.join("x")}`;
  return undefined;
}

/** The tile size per axis (N) and outputs per tile (T = N - k_eff + 1) for an FFT layer. */
export interface FftTiling {
  readonly n: readonly number[];
  readonly t: readonly number[];
}

/**
 * Picks N per axis minimising (transform + product work) per output, over sizes up to 128
 * (2-D) / 48 (3-D) / 512 (1-D) and never much past the output's extent. `outputs`: the
 * output size per axis where known (for a symbolic size, a nominal 256).
 */
export function chooseFftTiling(kEff: readonly number[], inChannels: number, outChannels: number, outputs: readonly number[]): FftTiling {
  const d = kEff.length;
  // The WebAssembly kernel unrolls a tile's transform: past 512 points a 1-D tile's function
  // grows until binaryen takes minutes over it (a 65-tap layer picked 768-point tiles, and
  // `cnnc compile` ran for minutes; 512-point tiles compile in about 3 s).
  const max = d === 1 ? 512 : d === 2 ? 128 : 48;
  const perAxis = kEff.map((k, i) => {
    const sizes = fftTileSizes(max).filter((n) => n - k + 1 >= Math.max(1, Math.ceil(k / 2)));
    // Not far past what one tile needs to cover the whole axis.
    const cover = outputs[i] + k - 1;
    const useful = sizes.filter((n) => n <= Math.max(cover, k + 3) * 1.25 + 4);
    return useful.length ? useful : sizes.slice(0, 1);
  });
  let best: FftTiling | undefined;
  let bestCost = Infinity;
  const recurse = (axis: number, n: number[]) => {
    if (axis === d) {
      const t = n.map((ni, i) => ni - kEff[i] + 1);
      const tiles = t.reduce((p, ti, i) => p * Math.ceil(outputs[i] / ti), 1);
      const points = n.reduce((a, b) => a * b, 1);
      const transform = n.reduce((s, ni) => s + (fftFlops(ni) * points) / ni, 0);
      const cost = tiles * (transform * (inChannels + Math.ceil(outChannels / 2)) + 8 * points * inChannels * outChannels);
      if (cost < bestCost) {
        bestCost = cost;
        best = { n, t };
      }
      return;
    }
    for (const ni of perAxis[axis]) recurse(axis + 1, [...n, ni]);
  };
  recurse(0, []);
  return best as FftTiling;
}

/**
 * conj(DFT(w)) / N^d for one kernel slice (w row-major [k1..kd], dilated by `dilation`,
 * flipped for true convolution), as [re, im] over the row-major [n1..nd] tile.
 *
 * For real w that is the DFT with the positive sign, computed axis by axis as direct sums over
 * the kernel's taps rather than by FFTs of the zero-padded tile: before axis i is transformed,
 * a line along it holds at most kernel[i] non-zeros, and only the lines through a tap of every
 * later axis hold any. A 5x5 kernel in a 16x16 tile takes 1,680 complex multiply-adds this way
 * against 32 full 16-point FFTs, and its loops are simple enough to run fast before V8 has
 * optimised them: `cnnc compile` computes every kernel's spectrum once, in a fresh process
 * (LeNet's conv2: 96 spectra, 90 ms by FFT there, 6 ms once warm). A kernel with so many taps
 * that the sums would cost more (a 1-D kernel of hundreds) takes the FFTs instead.
 */
export function kernelSpectrum(
  w: ArrayLike<number>,
  offset: number,
  kernel: readonly number[],
  dilation: readonly number[],
  flip: boolean,
  n: readonly number[],
): [Float64Array, Float64Array] {
  const d = n.length;
  const points = n.reduce((a, b) => a * b, 1);
  const re = new Float64Array(points);
  const im = new Float64Array(points);
  const strides = n.map((_, i) => n.slice(i + 1).reduce((a, b) => a * b, 1));
  const kVol = kernel.reduce((a, b) => a * b, 1);
  for (let e = 0; e < kVol; e++) {
    let rest = e;
    let at = 0;
    let src = 0;
    let srcStride = 1;
    for (let i = d - 1; i >= 0; i--) {
      const k = rest % kernel[i];
      rest = Math.floor(rest / kernel[i]);
      at += k * dilation[i] * strides[i];
      src += (flip ? kernel[i] - 1 - k : k) * srcStride;
      srcStride *= kernel[i];
    }
    re[at] = w[offset + src];
  }
  if (!fewTaps(kernel, n)) {
    // Large kernels: FFTs of the padded tile cost less than sums over so many taps.
    fftNd(re, im, n, 1);
    for (let i = 0; i < points; i++) {
      re[i] /= points;
      im[i] /= points;
    }
    return [re, im];
  }
  for (let i = 0; i < d; i++) {
    const ni = n[i];
    const stride = strides[i];
    const taps = Array.from({ length: kernel[i] }, (_, k) => k * dilation[i]);
    const cos = new Float64Array(ni);
    const sin = new Float64Array(ni);
    for (let j = 0; j < ni; j++) [cos[j], sin[j]] = twiddle(j, ni, 1);
    // The lines along axis i that can hold a non-zero: every index of the axes already
    // transformed, and only the taps' positions on the axes after i.
    let later = [0];
    for (let a = i + 1; a < d; a++) later = later.flatMap((q) => Array.from({ length: kernel[a] }, (_, k) => q + k * dilation[a] * strides[a]));
    const before = points / (ni * stride);
    const lineRe = new Float64Array(ni);
    const lineIm = new Float64Array(ni);
    for (let p = 0; p < before; p++) {
      for (let l = 0; l < later.length; l++) {
        const base = p * ni * stride + later[l];
        lineRe.fill(0);
        lineIm.fill(0);
        for (let ti = 0; ti < taps.length; ti++) {
          // Output k takes the tap at t times e^{2πi kt/ni}: the table index steps by t.
          const t = taps[ti];
          const xr = re[base + t * stride];
          const xi = im[base + t * stride];
          let j = 0;
          for (let k = 0; k < ni; k++) {
            lineRe[k] += xr * cos[j] - xi * sin[j];
            lineIm[k] += xr * sin[j] + xi * cos[j];
            j += t;
            if (j >= ni) j -= ni; // t < ni: the taps lie inside the tile
          }
        }
        for (let k = 0; k < ni; k++) {
          re[base + k * stride] = lineRe[k];
          im[base + k * stride] = lineIm[k];
        }
      }
    }
  }
  for (let i = 0; i < points; i++) {
    re[i] /= points;
    im[i] /= points;
  }
  return [re, im];
}

/**
 * Whether the sums over the taps cost no more than FFTs of the whole tile (about 5 n log2 n per
 * line of n): axis i's sums take (the tile's earlier axes) x (the kernel's later axes) lines of
 * n_i x k_i each.
 */
function fewTaps(kernel: readonly number[], n: readonly number[]): boolean {
  const points = n.reduce((a, b) => a * b, 1);
  let sums = 0;
  let ffts = 0;
  for (let i = 0; i < n.length; i++) {
    const lines = n.slice(0, i).reduce((a, b) => a * b, 1) * kernel.slice(i + 1).reduce((a, b) => a * b, 1);
    sums += lines * n[i] * kernel[i];
    ffts += (points / n[i]) * 5 * n[i] * Math.log2(n[i]);
  }
  return sums <= ffts;
}

/**
 * The whole convolution by tiled overlap-save FFT in float64: x [C, D1..Dd] with padding
 * `padBefore`, output [O, J1..Jd]. The test oracle for the math and for the tiling.
 */
export function fftConv(
  x: ArrayLike<number>,
  inShape: readonly number[],
  weight: ArrayLike<number>,
  op: ConvOp,
  padBefore: readonly number[],
  outShape: readonly number[],
  tiling: FftTiling,
): Float64Array {
  const [C, ...M] = inShape;
  const [O, ...J] = outShape;
  const d = M.length;
  const kVol = op.kernel.reduce((a, b) => a * b, 1);
  const Cg = C / op.groups;
  const Og = O / op.groups;
  const points = tiling.n.reduce((a, b) => a * b, 1);
  const spectra: [Float64Array, Float64Array][] = [];
  for (let o = 0; o < O; o++) for (let c = 0; c < Cg; c++) {
    spectra.push(kernelSpectrum(weight, (o * Cg + c) * kVol, op.kernel, op.dilation, op.flip, tiling.n));
  }
  const y = new Float64Array(O * J.reduce((a, b) => a * b, 1));
  const tileCounts = J.map((j, i) => Math.ceil(j / tiling.t[i]));
  const nTiles = tileCounts.reduce((a, b) => a * b, 1);
  const coords = (flat: number, shape: readonly number[]) => {
    const out: number[] = new Array(shape.length);
    for (let i = shape.length - 1; i >= 0; i--) {
      out[i] = flat % shape[i];
      flat = Math.floor(flat / shape[i]);
    }
    return out;
  };
  for (let tile = 0; tile < nTiles; tile++) {
    const t0 = coords(tile, tileCounts).map((ti, i) => ti * tiling.t[i]);
    const X: [Float64Array, Float64Array][] = [];
    for (let c = 0; c < C; c++) {
      const re = new Float64Array(points);
      const im = new Float64Array(points);
      for (let p = 0; p < points; p++) {
        const q = coords(p, tiling.n);
        let at = c;
        let inside = true;
        for (let i = 0; i < d; i++) {
          const pos = t0[i] + q[i] - padBefore[i];
          if (pos < 0 || pos >= M[i]) inside = false;
          at = at * M[i] + pos;
        }
        if (inside) re[p] = x[at];
      }
      fftNd(re, im, tiling.n, -1);
      X.push([re, im]);
    }
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      const re = new Float64Array(points);
      const im = new Float64Array(points);
      for (let c = 0; c < Cg; c++) {
        const [xr, xi] = X[g * Cg + c];
        const [kr, ki] = spectra[o * Cg + c];
        for (let p = 0; p < points; p++) {
          re[p] += xr[p] * kr[p] - xi[p] * ki[p];
          im[p] += xr[p] * ki[p] + xi[p] * kr[p];
        }
      }
      fftNd(re, im, tiling.n, 1);
      for (let p = 0; p < points; p++) {
        const q = coords(p, tiling.n);
        let at = o;
        let inside = true;
        for (let i = 0; i < d; i++) {
          const pos = t0[i] + q[i];
          if (q[i] >= tiling.t[i] || pos >= J[i]) inside = false;
          at = at * J[i] + pos;
        }
        if (inside) y[at] = re[p];
      }
    }
  }
  return y;
}
