// Gradients of the convolution family (SPEC "Gradients"), given dy = dJ/dZ:
//
//   eq. 9.11, kernel:  dK[o, c, k] = sum over j of dy[o, j] * V[c, j*s + k*r - padBefore]
//   eq. 9.13, input:   dV[c, x]    = sum over (o, j, k) with j*s + k*r - padBefore = x of K[o, c, k] * dy[o, j]
//
// (the input gradient is the transposed convolution, returning the forward input's size).
// Groups restrict c to o's group; `flip` reads the kernel at K-1-k, so the gradient lands
// there too. Local and tiled layers have the same sums with their own weight index: per
// output position, or per output position modulo the tiles. deconv is the transpose of a
// conv, so its input gradient is that conv and its kernel gradient is eq. 9.11 with the
// roles of input and output exchanged.

import type { ConvGradInput, DeconvGradKernel, LocalGradInput, TiledGradInput } from "../../ir/grad-ops.js";
import { type ConvOp, deconvAsConv, type DeconvOp, type LocalOp, type TiledOp } from "../../ir/ops.js";
import { conv } from "../conv.js";
import { offset, size, strides, type Tensor, tensor } from "../tensor.js";
import { type Taps, taps, tileIndex } from "./taps.js";

/** Where tap n of a [k1..kd] kernel block sits: at n, or mirrored on every axis for `flip`. */
function kernelAt(t: Taps, kernel: readonly number[], flip: boolean): Int32Array {
  const ks = strides(kernel);
  return Int32Array.from(t.kernels, (k) => offset(flip ? k.map((ki, i) => kernel[i] - 1 - ki) : k, ks));
}

function convTaps(inShape: readonly number[], op: ConvOp): Taps {
  return taps(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
}

/** What both convolution gradients walk: the taps, channel and group counts, and the kernel index of each tap. */
function convGeometry(inShape: readonly number[], c: ConvOp) {
  const t = convTaps(inShape, c);
  const C = inShape[0];
  const O = c.filters;
  return { t, O, Cg: C / c.groups, Og: O / c.groups, inVol: size(inShape.slice(1)), wAt: kernelAt(t, c.kernel, c.flip) };
}

/** Eq. 9.13: dy [O, j..] and the weight [O, C/g, k..] -> dV [C, D..] (op.inShape). */
export function convGradInput(dy: Tensor, op: ConvGradInput, weight: Tensor): Tensor {
  const c = op.conv;
  const { t, O, Cg, Og, inVol, wAt } = convGeometry(op.inShape, c);
  const dx = tensor(op.inShape);
  for (let o = 0; o < O; o++) {
    const g = Math.floor(o / Og);
    for (let j = 0; j < t.outVolume; j++) {
      const gy = dy.data[o * t.outVolume + j];
      if (gy === 0) continue;
      for (let cc = 0; cc < Cg; cc++) {
        const xBase = (g * Cg + cc) * inVol;
        const wBase = (o * Cg + cc) * t.kVolume;
        for (let n = 0; n < t.kVolume; n++) {
          const p = t.pos[j * t.kVolume + n];
          if (p >= 0) dx.data[xBase + p] += weight.data[wBase + wAt[n]] * gy;
        }
      }
    }
  }
  return dx;
}

/** Eq. 9.11: x [C, D..] and dy [O, j..] -> dK [O, C/g, k..]. */
export function convGradKernel(x: Tensor, dy: Tensor, c: ConvOp): Tensor {
  const { t, O, Cg, Og, inVol, wAt } = convGeometry(x.shape, c);
  const dw = tensor([O, Cg, ...c.kernel]);
  for (let o = 0; o < O; o++) {
    const g = Math.floor(o / Og);
    for (let cc = 0; cc < Cg; cc++) {
      const xBase = (g * Cg + cc) * inVol;
      const wBase = (o * Cg + cc) * t.kVolume;
      for (let n = 0; n < t.kVolume; n++) {
        let sum = 0;
        for (let j = 0; j < t.outVolume; j++) {
          const p = t.pos[j * t.kVolume + n];
          if (p >= 0) sum += x.data[xBase + p] * dy.data[o * t.outVolume + j];
        }
        dw.data[wBase + wAt[n]] += sum;
      }
    }
  }
  return dw;
}


/** deconv's input gradient: its forward conv applied to dy [O, out..] -> [C_in, J..]. */
export function deconvGradInput(dy: Tensor, op: DeconvOp, weight: Tensor): Tensor {
  return conv(dy, deconvAsConv(op, weight.shape[0]), weight, undefined);
}

/** deconv's kernel gradient: eq. 9.11 on its forward conv, whose input is dy and whose output gradient is x. */
export function deconvGradKernel(x: Tensor, dy: Tensor, op: DeconvGradKernel): Tensor {
  return convGradKernel(dy, x, deconvAsConv(op.deconv, x.shape[0]));
}

function unsharedTaps(inShape: readonly number[], op: LocalOp | TiledOp): Taps {
  return taps(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad);
}

/** Weight index of (o, j, c, n) in a local [O, j.., C, k..] or tiled [O, C, k.., t..] weight. */
function unsharedIndex(op: LocalOp | TiledOp, t: Taps, C: number): (o: number, j: number, c: number, n: number) => number {
  if (op.kind === "local") return (o, j, c, n) => ((o * t.outVolume + j) * C + c) * t.kVolume + n;
  const tile = tileIndex(t.out, op.tiles);
  const tVol = size(op.tiles);
  return (o, j, c, n) => ((o * C + c) * t.kVolume + n) * tVol + tile[j];
}

/** Local or tiled input gradient: dy [O, j..] -> dV [C, D..]. */
export function unsharedGradInput(dy: Tensor, op: LocalGradInput | TiledGradInput, weight: Tensor): Tensor {
  const layer = op.kind === "local_grad_input" ? op.local : op.tiled;
  const t = unsharedTaps(op.inShape, layer);
  const C = op.inShape[0];
  const inVol = size(op.inShape.slice(1));
  const at = unsharedIndex(layer, t, C);
  const dx = tensor(op.inShape);
  for (let o = 0; o < layer.filters; o++) {
    for (let j = 0; j < t.outVolume; j++) {
      const gy = dy.data[o * t.outVolume + j];
      for (let c = 0; c < C; c++) {
        for (let n = 0; n < t.kVolume; n++) {
          const p = t.pos[j * t.kVolume + n];
          if (p >= 0) dx.data[c * inVol + p] += weight.data[at(o, j, c, n)] * gy;
        }
      }
    }
  }
  return dx;
}

/** Local or tiled kernel gradient: x [C, D..], dy [O, j..] -> the weight's shape. */
export function unsharedGradKernel(x: Tensor, dy: Tensor, layer: LocalOp | TiledOp): Tensor {
  const t = unsharedTaps(x.shape, layer);
  const C = x.shape[0];
  const inVol = size(x.shape.slice(1));
  const at = unsharedIndex(layer, t, C);
  const shape = layer.kind === "local" ? [layer.filters, ...t.out, C, ...layer.kernel] : [layer.filters, C, ...layer.kernel, ...layer.tiles];
  const dw = tensor(shape);
  for (let o = 0; o < layer.filters; o++) {
    for (let j = 0; j < t.outVolume; j++) {
      const gy = dy.data[o * t.outVolume + j];
      for (let c = 0; c < C; c++) {
        for (let n = 0; n < t.kVolume; n++) {
          const p = t.pos[j * t.kVolume + n];
          if (p >= 0) dw.data[at(o, j, c, n)] += x.data[c * inVol + p] * gy;
        }
      }
    }
  }
  return dw;
}

/** dy [O, j..] summed per channel ([O]), kept per location ([O, j..]) or summed per tile ([O, t..]). */
export function biasGrad(dy: Tensor, bias: "channel" | "location" | "tiled", tiles: readonly number[]): Tensor {
  const [O, ...out] = dy.shape;
  const per = size(out);
  if (bias === "location") return tensor(dy.shape, dy.data);
  if (bias === "channel") {
    const db = tensor([O]);
    for (let o = 0; o < O; o++) for (let j = 0; j < per; j++) db.data[o] += dy.data[o * per + j];
    return db;
  }
  const tile = tileIndex(out, tiles);
  const tVol = size(tiles);
  const db = tensor([O, ...tiles]);
  for (let o = 0; o < O; o++) for (let j = 0; j < per; j++) db.data[o * tVol + tile[j]] += dy.data[o * per + j];
  return db;
}
