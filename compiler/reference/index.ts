// The executable definition of every op (SPEC.md), one sample at a time, in float64: plain
// loops that follow the formulas, slow on purpose. Every backend and algorithm is tested
// against these; these are tested against hand cases and onnxruntime.

export { type Tensor, tensor, size, strides } from "./tensor.js";
export { conv } from "./conv.js";
export { local } from "./local.js";
export { tiled } from "./tiled.js";
export { deconv } from "./deconv.js";
export { batchnorm, type BatchNormParams } from "./batchnorm.js";
export { maxout } from "./maxout.js";
export { pool, adaptivePool } from "./pool.js";
export { dense } from "./dense.js";
export { activation, softmax, logSoftmax } from "./activation.js";
export { flatten, reshape, binary, concat } from "./shape.js";
export { slice } from "./slice.js";
export { pad } from "./pad.js";
export { resize } from "./resize.js";
export { transpose } from "./transpose.js";
export { matmul } from "./matmul.js";
