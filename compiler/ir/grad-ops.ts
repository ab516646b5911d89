// The backward graph's ops: one entry per gradient of a forward op, as a discriminated union
// kept apart from the forward `Op` union so that every forward pass and backend switch keeps
// compiling untouched; a backend that trains switches on `GradOp` in its own module and names
// what it cannot run yet. Shapes are static (training specialises every size symbol first),
// so every op carries the sizes it returns. The reference definitions are in
// compiler/reference/grad/. Naming: `<op>_grad_input` is dJ/d(input), `<op>_grad_kernel`
// dJ/d(weight), given the output gradient `dy` (dJ/dZ).

import type { ActivationFn, AdaptivePoolOp, ConvOp, DeconvOp, LocalOp, PadOp, PoolOp, ResizeOp, SliceOp, TiledOp } from "./ops.js";

/** Eq. 9.13: dJ/dV, the transposed convolution of dy with the forward kernel. Inputs [dy]; weight: the conv's. */
export interface ConvGradInput {
  readonly kind: "conv_grad_input";
  readonly conv: ConvOp;
  /** The forward input's shape [C, D1..Dd]: what the transposed convolution returns. */
  readonly inShape: readonly number[];
}

/** Eq. 9.11: dJ/dK, the correlation of the forward input with dy. Inputs [x, dy] -> [O, C/g, k..]. */
export interface ConvGradKernel {
  readonly kind: "conv_grad_kernel";
  readonly conv: ConvOp;
}

/** deconv's input gradient: the forward convolution it is the transpose of. Inputs [dy]; weight: the deconv's. */
export interface DeconvGradInput {
  readonly kind: "deconv_grad_input";
  readonly deconv: DeconvOp;
}

/** deconv's kernel gradient: eq. 9.11 with the roles of input and output swapped. Inputs [x, dy]. */
export interface DeconvGradKernel {
  readonly kind: "deconv_grad_kernel";
  readonly deconv: DeconvOp;
}

export interface LocalGradInput {
  readonly kind: "local_grad_input";
  readonly local: LocalOp;
  readonly inShape: readonly number[];
}
export interface LocalGradKernel {
  readonly kind: "local_grad_kernel";
  readonly local: LocalOp;
}
export interface TiledGradInput {
  readonly kind: "tiled_grad_input";
  readonly tiled: TiledOp;
  readonly inShape: readonly number[];
}
export interface TiledGradKernel {
  readonly kind: "tiled_grad_kernel";
  readonly tiled: TiledOp;
}

/** dJ/d(bias): dy summed over the positions that share a bias (all, none, or those of a tile). Inputs [dy]. */
export interface BiasGrad {
  readonly kind: "bias_grad";
  readonly bias: "channel" | "location" | "tiled";
  /** The tile sizes, for `tiled`. */
  readonly tiles: readonly number[];
}

/** Batch norm with its statistics held fixed (inference form): dy * gamma / sqrt(var + eps). Inputs [dy]. */
export interface BatchNormGradInput {
  readonly kind: "batchnorm_grad_input";
  readonly eps: number;
}
/** dJ/dgamma = sum over positions of dy * (x - mean) / sqrt(var + eps). Inputs [x, dy]. */
export interface BatchNormGradGamma {
  readonly kind: "batchnorm_grad_gamma";
  readonly eps: number;
}

/**
 * Batch norm in training mode, whose statistics are the batch's own (over samples and
 * positions): dx = (g - mean(g) - xhat * mean(g * xhat)) / sd with g = dy * gamma, means over
 * the batch. A batch-level op: it reads every sample's x and dy. Inputs [x, dy]; weights:
 * gamma, and the batch's mean and variance in the running statistics' places.
 */
export interface BatchNormBatchGradInput {
  readonly kind: "batchnorm_batch_grad_input";
  readonly eps: number;
}

/** Max routes dy to the window's arg-max; avg, lp and gauss spread it. Inputs [x, dy]. */
export interface PoolGrad {
  readonly kind: "pool_grad";
  readonly pool: PoolOp;
}
export interface AdaptivePoolGrad {
  readonly kind: "adaptive_pool_grad";
  readonly pool: AdaptivePoolOp;
}
/** dy to the arg-max channel of each group. Inputs [x, dy]. */
export interface MaxoutGrad {
  readonly kind: "maxout_grad";
  readonly k: number;
}

/** f'(x) * dy. Inputs [x, dy]. */
export interface ActivationGrad {
  readonly kind: "activation_grad";
  readonly fn: ActivationFn;
  readonly alpha: number;
  /** The second parameter of clip, hardsigmoid and selu (ActivationOp.beta). */
  readonly beta?: number;
}

/** y * (dy - sum over channels of y * dy), per position. Inputs [y (the softmax's output), dy]. */
export interface SoftmaxGrad {
  readonly kind: "softmax_grad";
}

/** W^T dy, shaped as the forward input. Inputs [dy]; weight: the dense layer's. */
export interface DenseGradInput {
  readonly kind: "dense_grad_input";
  readonly inShape: readonly number[];
}
/** dy x^T: [units, inputs]. Inputs [x, dy]. */
export interface DenseGradKernel {
  readonly kind: "dense_grad_kernel";
}

/** The same elements under the forward input's shape (flatten's and reshape's gradient). Inputs [dy]. */
export interface ReshapeGrad {
  readonly kind: "reshape_grad";
  readonly shape: readonly number[];
}

/** dy summed over the axes a broadcast operand was repeated along, down to `shape`. Inputs [dy]. */
export interface Unbroadcast {
  readonly kind: "unbroadcast";
  readonly shape: readonly number[];
}

/** mul's gradient for one operand: dy * (the other operand), summed down to `shape`. Inputs [dy, other]. */
export interface MulGrad {
  readonly kind: "mul_grad";
  readonly shape: readonly number[];
}

/** Channels [start, start + count) of dy (concat's gradient for one operand). Inputs [dy]. */
export interface SliceChannels {
  readonly kind: "slice_channels";
  readonly start: number;
  readonly count: number;
}

/**
 * The gradients of the ops that move elements (ir/ops.ts): each output element reads input
 * elements (a slice one, a pad one or none, a resize up to 2^d with weights), so dx gathers
 * dy back along the same reads: slice scatters dy into zeros, pad sums what each input element
 * gave (an edge element is read by every clamped position), resize spreads each output's
 * gradient over its corners by their weights. Inputs [dy]; `inShape` is the forward input's.
 */
export interface MoveGrad {
  readonly kind: "move_grad";
  readonly op: SliceOp | PadOp | ResizeOp;
  readonly inShape: readonly number[];
}

/** log_softmax's: dx = dy - softmax(x) * (sum over channels of dy), softmax(x) = exp(y). Inputs [y (its output), dy]. */
export interface LogSoftmaxGrad {
  readonly kind: "log_softmax_grad";
}

/** The sum of same-shaped gradients: a value read twice, or a weight shared by several nodes. */
export interface Accumulate {
  readonly kind: "accumulate";
}

/**
 * The losses. `softmax_cross_entropy` takes logits (the input of a final softmax, fused for a
 * stable log-sum-exp); `cross_entropy` takes probabilities. Class targets hold one class index
 * per position ([1] for a classifier, [D1..Dd] for a labeller); mse and l1 targets have the
 * prediction's shape. Every loss is the mean over positions (and elements), so the batch's loss
 * is the mean of the samples'.
 */
export type LossKind = "softmax_cross_entropy" | "cross_entropy" | "mse" | "l1";

/** The loss's value, shape [1]. Inputs [prediction, target]. */
export interface Loss {
  readonly kind: "loss";
  readonly loss: LossKind;
}
/** dJ/d(prediction). Inputs [prediction, target]. */
export interface LossGrad {
  readonly kind: "loss_grad";
  readonly loss: LossKind;
}

export type GradOp =
  | ConvGradInput
  | ConvGradKernel
  | DeconvGradInput
  | DeconvGradKernel
  | LocalGradInput
  | LocalGradKernel
  | TiledGradInput
  | TiledGradKernel
  | BiasGrad
  | BatchNormGradInput
  | BatchNormGradGamma
  | BatchNormBatchGradInput
  | PoolGrad
  | AdaptivePoolGrad
  | MaxoutGrad
  | ActivationGrad
  | SoftmaxGrad
  | DenseGradInput
  | DenseGradKernel
  | ReshapeGrad
  | Unbroadcast
  | MulGrad
  | SliceChannels
  | MoveGrad
  | LogSoftmaxGrad
  | Accumulate
  | Loss
  | LossGrad;

export type GradOpKind = GradOp["kind"];
