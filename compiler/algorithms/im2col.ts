// Convolution as matrix multiplication (im2col / GEMM). Per group g, the weights are the
// matrix A [O/g, K] with K = C/g * k1*...*kd (row o is filter o's slice, exactly as stored),
// the input patches the matrix B [K, P] (column p holds the receptive field of output
// position p, zero where it falls in the padding), and Y_g = A B [O/g, P]. Every stride,
// dilation and padding is only a different B. The point is the GEMM: each loaded patch value
// serves O/g filters from registers, so the kernel runs at the machine's multiply-add rate
// instead of at its load rate. The WASM kernel never builds all of B: it packs the columns of
// one tile of output positions at a time, so scratch memory is bounded by K * tile columns.

import type { ConvOp } from "../ir/ops.js";

/** Row index of B for channel c (within the group) and kernel offsets k: c * kVol + flat(k). */
export function im2colRows(op: ConvOp, inChannels: number): number {
  return (inChannels / op.groups) * op.kernel.reduce((a, b) => a * b, 1);
}

/** B for group `g`: [K, P] row-major, P = product of the output's spatial sizes. */
export function im2col(
  x: ArrayLike<number>,
  inShape: readonly number[],
  op: ConvOp,
  padBefore: readonly number[],
  out: readonly number[],
  g: number,
): Float64Array {
  const [C, ...M] = inShape;
  const d = M.length;
  const Cg = C / op.groups;
  const kVol = op.kernel.reduce((a, b) => a * b, 1);
  const P = out.reduce((a, b) => a * b, 1);
  const B = new Float64Array(Cg * kVol * P);
  for (let cc = 0; cc < Cg; cc++) for (let e = 0; e < kVol; e++) {
    const k = new Array<number>(d);
    let rest = e;
    for (let i = d - 1; i >= 0; i--) {
      k[i] = rest % op.kernel[i];
      rest = Math.floor(rest / op.kernel[i]);
    }
    for (let p = 0; p < P; p++) {
      let q = p;
      let at = g * Cg + cc;
      let inside = true;
      const j = new Array<number>(d);
      for (let i = d - 1; i >= 0; i--) {
        j[i] = q % out[i];
        q = Math.floor(q / out[i]);
      }
      for (let i = 0; i < d; i++) {
        const pos = j[i] * op.stride[i] + k[i] * op.dilation[i] - padBefore[i];
        if (pos < 0 || pos >= M[i]) inside = false;
        at = at * M[i] + pos;
      }
      B[(cc * kVol + e) * P + p] = inside ? x[at] : 0;
    }
  }
  return B;
}

/** A for group g: [O/g, K] (the stored weight rows; flipped per slice for true convolution). */
export function weightMatrix(weight: ArrayLike<number>, op: ConvOp, inChannels: number, g: number): Float64Array {
  const Og = op.filters / op.groups;
  const K = im2colRows(op, inChannels);
  const kVol = op.kernel.reduce((a, b) => a * b, 1);
  const A = new Float64Array(Og * K);
  for (let o = 0; o < Og; o++) for (let r = 0; r < K; r++) {
    // Flipping every axis of a row-major block reverses it.
    const e = r % kVol;
    const src = op.flip ? r - e + (kVol - 1 - e) : r;
    A[o * K + r] = weight[(g * Og + o) * K + src];
  }
  return A;
}

/** The whole convolution as per-group GEMMs in float64 (the test oracle): y [O, P]. */
export function gemmConv(x: ArrayLike<number>, inShape: readonly number[], weight: ArrayLike<number>, op: ConvOp, padBefore: readonly number[], out: readonly number[]): Float64Array {
  const P = out.reduce((a, b) => a * b, 1);
  const Og = op.filters / op.groups;
  const K = im2colRows(op, inShape[0]);
  const y = new Float64Array(op.filters * P);
  for (let g = 0; g < op.groups; g++) {
    const A = weightMatrix(weight, op, inShape[0], g);
    const B = im2col(x, inShape, op, padBefore, out, g);
    for (let o = 0; o < Og; o++) for (let r = 0; r < K; r++) {
      const a = A[o * K + r];
      if (a === 0) continue;
      for (let p = 0; p < P; p++) y[(g * Og + o) * P + p] += a * B[r * P + p];
    }
  }
  return y;
}
