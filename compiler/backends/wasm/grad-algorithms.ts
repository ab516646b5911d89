// Which algorithm each convolution of the WebAssembly training step runs, per layer, by a
// cost model of the three products it does per sample (the forward, eq. 9.13's input gradient
// and eq. 9.11's kernel gradient), as the inference planner picks per layer:
//
//   gemm      im2col columns and three register-blocked GEMMs of O x C x k x J multiply-adds
//             (grad-window.ts), the columns folded back for the input gradient (col2im);
//   winograd  F(2x2, 3x3) (grad-winograd.ts): three GEMMs of O x C x 16 per tile of 4 outputs
//             (16/36 of the multiply-adds), plus the transforms, linear in C and O, and two
//             padded copies; 3x3 kernels at stride 1 only.
//
// The model counts wasm vector operations per sample, for the products the step runs (a first
// layer has no input gradient, a frozen one no kernel gradient); its constants are the
// operations each loop body issues per element, counted from the emitted code (rowGemm's 4x8
// block issues 22 for 32 lane multiply-adds), and were checked against timed steps
// (`npm run bench -- --train --algorithms`: layers forced each way).

import type { ConvOp } from "../../ir/ops.js";
import { windowGeometry } from "../../ir/ops.js";
import { winogradShape, winogradTrainApplies } from "./grad-winograd.js";

export type TrainConvAlgorithm = "gemm" | "winograd";
/** `auto`: the cost model per layer; otherwise that algorithm wherever it applies (tests and benchmarks). */
export type TrainAlgorithmSetting = "auto" | TrainConvAlgorithm;

export interface TrainConvChoice {
  readonly layer: string;
  readonly algorithm: TrainConvAlgorithm;
  /** Why: the estimated costs, or what rules the other algorithm out. */
  readonly why: string;
}

/** Vector operations per lane multiply-add in grad-gemm.ts's blocks (22 for 32). */
const MAC = 22 / 32;
/** Per output element of rowGemm (a 4 x 8 block's accumulators set up and stored), and per dot product of blockDot (its lanes summed and written). */
const ROW_OUT = 0.6;
const DOT_OUT = 10;
/** Per tile of four outputs and channel: the input transform, and its adjoint for the input gradient. */
const INPUT_TRANSFORM = 22;
const INPUT_ADJOINT = 32;
/** Per tile and filter: the output transform, and the output gradient's. */
const OUTPUT_TRANSFORM = 12;
/** Per element copied or cleared (im2col, the padded blocks); col2im adds, a little more. */
const COPY = 0.5;
const COL2IM = 0.75;

const volume = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const rowGemm = (I: number, U: number, n: number) => I * U * n * MAC + I * n * ROW_OUT;
const blockDot = (I: number, K: number, n: number) => I * K * n * MAC + I * K * DOT_OUT;

/** Which of a layer's three products the step runs: the forward always; the gradients where something needs them. */
export interface Products {
  /** The input gradient (eq. 9.13): not for a first layer, or below frozen ones. */
  readonly input: boolean;
  /** The kernel gradient (eq. 9.11), added straight into the batch's sum: not for a frozen layer. */
  readonly kernel: boolean;
}

/** The estimated vector operations of one sample's products, im2col GEMM. */
export function gemmCost(op: ConvOp, inShape: readonly number[], p: Products): number {
  const geo = windowGeometry(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad, false);
  const J = volume(geo.out as number[]);
  const Og = op.filters / op.groups;
  const R = (inShape[0] / op.groups) * volume(op.kernel);
  const g = op.groups;
  let ops = g * (rowGemm(Og, R, J) + R * J * COPY);
  if (p.input) ops += g * (rowGemm(R, Og, J) + R * J * COL2IM);
  if (p.kernel) ops += g * blockDot(Og, R, J);
  return ops;
}

/** The same for Winograd F(2x2, 3x3). */
export function winogradCost(op: ConvOp, inShape: readonly number[], p: Products): number {
  const s = winogradShape(op, inShape);
  const { C, O, T } = s;
  const inBlock = C * s.PH * s.PW;
  const outBlock = O * s.QH * s.QW;
  const outputs = O * s.Ho * s.Wo;
  let ops = 16 * rowGemm(O, C, T) + T * (C * INPUT_TRANSFORM + O * OUTPUT_TRANSFORM) + (2 * inBlock + outBlock + outputs) * COPY;
  if (p.input || p.kernel) ops += T * O * OUTPUT_TRANSFORM + (outBlock + outputs) * COPY;
  if (p.input) ops += 16 * rowGemm(C, O, T) + T * C * INPUT_ADJOINT + (2 * inBlock + C * s.H * s.W) * COPY;
  if (p.kernel) ops += 16 * blockDot(O, C, T);
  return ops;
}

export function chooseTrainConv(op: ConvOp, inShape: readonly number[], setting: TrainAlgorithmSetting, layer: string, products: Products = { input: true, kernel: true }): TrainConvChoice {
  const ruledOut = winogradTrainApplies(op, inShape);
  if (ruledOut) return { layer, algorithm: "gemm", why: `Winograd does not apply: ${ruledOut}` };
  if (setting !== "auto") return { layer, algorithm: setting, why: `asked for (${setting})` };
  const g = gemmCost(op, inShape, products);
  const w = winogradCost(op, inShape, products);
  const kops = (n: number) => `${Math.round(n / 1000)}K`;
  return { layer, algorithm: w < g ? "winograd" : "gemm", why: `estimated ${kops(w)} vector operations a sample against ${kops(g)} for im2col GEMM` };
}
