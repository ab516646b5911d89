// Tiled convolution: t_i kernels per axis that the output positions cycle through (output j
// uses kernel j mod t). It is the locally connected layer's loop with the kernel index taken
// modulo the tiles, so the one kernel in local.ts computes both; this file names the family
// as the WASM backend does.

export { localKernels as tiledKernels } from "./local.js";
