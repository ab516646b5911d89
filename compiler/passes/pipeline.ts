// The optimisation pipeline, in order: the whole middle of the compiler in a few lines.

import type { Pass } from "./pass.js";
import { foldBatchnorm } from "./fold-batchnorm.js";
import { simplify } from "./simplify.js";
import { deadCode } from "./dead-code.js";
import { fuse } from "./fuse.js";
import { chooseAlgorithm } from "./choose-algorithm.js";

export const PIPELINE: readonly Pass[] = [
  foldBatchnorm, // batch norm after conv/dense/deconv becomes that layer's weights and bias
  simplify, // identity activations and chains of views disappear
  deadCode, // nodes nobody reads, and their weights, go
  fuse, // conv-like producers absorb activation, residual add and pool as an epilogue
  chooseAlgorithm, // per conv layer: direct, GEMM, Winograd, FFT or separable, with the reason
];
