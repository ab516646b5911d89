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
// The model counts wasm vector operations per sample; its constants are the operations each
// loop body issues per element (counted from the emitted code: rowGemm's 4x8 block issues 22
// for 32 lane multiply-adds) and were checked against timed steps (bench/train.ts
// `--algorithms`: each layer forced both ways).

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

/** Vector operations per lane multiply-add in grad-gemm.ts's blocks. */
const GEMM_OP = 22 / 32;
/** Per tile of four outputs and channel: the input transform, and its adjoint for the input gradient. */
const INPUT_TRANSFORMS = 22 + 32;
/** Per tile and filter: the output transform and the output gradient's. */
const OUTPUT_TRANSFORMS = 12 + 12;
/** Per element copied (im2col, col2im, the padded blocks). */
const COPY_OP = 0.5;

const volume = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** The estimated vector operations of one sample's three products, im2col GEMM. */
export function gemmCost(op: ConvOp, inShape: readonly number[]): number {
  const geo = windowGeometry(inShape.slice(1), op.kernel, op.stride, op.dilation, op.pad, false);
  const J = volume(geo.out as number[]);
  const C = inShape[0] / op.groups;
  const K = volume(op.kernel);
  return 3 * op.filters * C * K * J * GEMM_OP + 2.5 * op.groups * C * K * J * COPY_OP;
}

/** The same for Winograd F(2x2, 3x3). */
export function winogradCost(op: ConvOp, inShape: readonly number[]): number {
  const s = winogradShape(op, inShape);
  const blocks = s.C * s.PH * s.PW + s.O * s.QH * s.QW;
  return 3 * 16 * s.O * s.C * s.T * GEMM_OP + s.T * (s.C * INPUT_TRANSFORMS + s.O * OUTPUT_TRANSFORMS) + 3 * blocks * COPY_OP;
}

export function chooseTrainConv(op: ConvOp, inShape: readonly number[], setting: TrainAlgorithmSetting, layer: string): TrainConvChoice {
  const ruledOut = winogradTrainApplies(op, inShape);
  if (ruledOut) return { layer, algorithm: "gemm", why: `Winograd does not apply: ${ruledOut}` };
  if (setting !== "auto") return { layer, algorithm: setting, why: `asked for (${setting})` };
  const g = gemmCost(op, inShape);
  const w = winogradCost(op, inShape);
  const kops = (n: number) => `${Math.round(n / 1000)}K`;
  return { layer, algorithm: w < g ? "winograd" : "gemm", why: `estimated ${kops(w)} vector operations a sample against ${kops(g)} for im2col GEMM` };
}
