// The taps of a sliding window, enumerated once: for output position j (row-major over the
// output's spatial axes) and window offset n (row-major over the kernel), the input position
// it reads, p = j*s + k*r - padBefore per axis, as a row-major offset into the input's spatial
// axes, or -1 where p falls in the zero padding. Every windowed gradient (conv, local, tiled,
// pool) is then a loop over (j, n) pairs, the same sum as the forward definition read the
// other way round, instead of a d-deep loop nest written once per op.

import { type PadSpec, windowGeometry } from "../../ir/ops.js";
import { indices, size, staticDims, strides } from "../tensor.js";

export interface Taps {
  /** The output's spatial sizes. */
  readonly out: readonly number[];
  readonly outVolume: number;
  readonly kVolume: number;
  /** [j * kVolume + n] -> input spatial offset, or -1 in the padding. */
  readonly pos: Int32Array;
  /** [j * kVolume + n] -> 1 when the tap lies inside input + padding (avg's count_pad divisor). */
  readonly inPadded: Uint8Array;
  /** The window offsets, row-major. */
  readonly kernels: readonly number[][];
}

export function taps(
  spatial: readonly number[],
  kernel: readonly number[],
  stride: readonly number[],
  dilation: readonly number[],
  pad: PadSpec,
  ceil = false,
): Taps {
  const geo = windowGeometry(spatial, kernel, stride, dilation, pad, ceil);
  const before = staticDims(geo.padBefore, "window padding");
  const after = staticDims(geo.padAfter, "window padding");
  const out = staticDims(geo.out, "window output");
  if (out.some((n) => n < 1)) throw new Error(`window ${kernel.join("x")} larger than the padded input ${spatial.join("x")}`);
  const kernels = [...indices(kernel)];
  const kVolume = kernels.length;
  const outVolume = size(out);
  const ss = strides(spatial);
  const pos = new Int32Array(outVolume * kVolume);
  const inPadded = new Uint8Array(outVolume * kVolume);
  let at = 0;
  for (const j of indices(out)) {
    for (const k of kernels) {
      let p = 0;
      let inside = true;
      let padded = true;
      for (let i = 0; i < j.length; i++) {
        const q = j[i] * stride[i] + k[i] * dilation[i] - before[i];
        if (q < 0 || q >= spatial[i]) inside = false;
        if (q < -before[i] || q >= spatial[i] + after[i]) padded = false;
        p += q * ss[i];
      }
      pos[at] = inside ? p : -1;
      inPadded[at] = padded ? 1 : 0;
      at++;
    }
  }
  return { out, outVolume, kVolume, pos, inPadded, kernels };
}

/** The tile index (row-major over `tiles`) of every output position of `out`. */
export function tileIndex(out: readonly number[], tiles: readonly number[]): Int32Array {
  const ts = strides(tiles);
  const r = new Int32Array(size(out));
  let at = 0;
  for (const j of indices(out)) {
    let t = 0;
    j.forEach((ji, i) => (t += (ji % tiles[i]) * ts[i]));
    r[at++] = t;
  }
  return r;
}

/**
 * An adaptive pool's regions as taps (what the compiled training steps' pooling kernels read):
 * region j of the output spans [floor(i*m/n), ceil((i+1)*m/n)) on each axis; its elements come
 * row-major, as the reference pools them, and the taps past a smaller region's end are -1.
 */
export function adaptiveTaps(spatial: readonly number[], out: readonly number[]): Taps {
  const region = (i: number, a: number): [number, number] => [Math.floor((i * spatial[a]) / out[a]), Math.ceil(((i + 1) * spatial[a]) / out[a])];
  const largest = out.map((n, a) => Math.max(...Array.from({ length: n }, (_, i) => region(i, a)[1] - region(i, a)[0])));
  const kernels = [...indices(largest)];
  const kVolume = kernels.length;
  const outVolume = size(out);
  const ss = strides(spatial);
  const pos = new Int32Array(outVolume * kVolume);
  const inPadded = new Uint8Array(outVolume * kVolume);
  let at = 0;
  for (const j of indices(out)) {
    const bounds = j.map((i, a) => region(i, a));
    for (const k of kernels) {
      const inside = k.every((ki, a) => bounds[a][0] + ki < bounds[a][1]);
      pos[at] = inside ? k.reduce((p, ki, a) => p + (bounds[a][0] + ki) * ss[a], 0) : -1;
      inPadded[at] = inside ? 1 : 0;
      at++;
    }
  }
  return { out: [...out], outVolume, kVolume, pos, inPadded, kernels };
}
