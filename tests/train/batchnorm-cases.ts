// The networks and batches that the batch norm (training mode) tests share:
// batchnorm-batch.test.ts holds the compiled steps to the reference on them,
// batchnorm-threads.test.ts holds the threaded WebAssembly step to the one-thread step.

import type { LossName } from "../../compiler/train/autodiff.js";
import type { TrainGraph } from "../../compiler/train/graph.js";
import type { Batch } from "../../compiler/train/trainer.js";
import { rng, trainGraphOf } from "./helpers.js";

/** [what it covers, source, loss, classes (0: real-valued targets)]. */
export const NETWORKS: [string, string, LossName, number][] = [
  [
    "after a conv and on a dense output",
    `network n(x: f32[3, 6, 6]) -> y {
  h = x |> c1: conv(4, 3x3, pad: same) |> bn1: batchnorm |> relu |> maxpool(2x2)
  y = h |> flatten |> fc: dense(5) |> bn2: batchnorm |> softmax
}`,
    "cross_entropy",
    5,
  ],
  [
    "at the input, twice in a row, and feeding an mse loss",
    `network n(x: f32[2, 5, 4]) -> y {
  h = x |> bn0: batchnorm |> c1: conv(3, 3x3, pad: 1, bias: none) |> bn1: batchnorm |> bn2: batchnorm |> tanh
  y = h |> c2: conv(2, 1x1) |> bn3: batchnorm
}`,
    "mse",
    0,
  ],
  [
    "inside a residual block",
    `network n(x: f32[4, 6, 6]) -> y {
  h = x |> c1: conv(4, 3x3, pad: same, bias: none) |> bn1: batchnorm |> relu |> c2: conv(4, 3x3, pad: same, bias: none) |> bn2: batchnorm
  y = h + x |> relu |> avgpool(6x6) |> flatten |> fc: dense(3) |> softmax
}`,
    "cross_entropy",
    3,
  ],
];

export const bnGraphOf = (source: string, loss: LossName): TrainGraph => trainGraphOf(source, loss, true);

export function makeBatch(tg: TrainGraph, seed: number, count: number, classes: number): Batch {
  const r = rng(seed);
  const shape = tg.values[tg.forward.inputs[0].value].shape as number[];
  const n = shape.reduce((p, d) => p * d, 1);
  const t = tg.targetShape.reduce((p, d) => p * d, 1);
  // Inputs off zero: the input batch norm then has a mean to remove.
  const images = Float32Array.from({ length: count * n }, () => r.next() * 2 - 0.5);
  const labels = classes ? Float64Array.from({ length: count * t }, () => r.int(0, classes - 1)) : Float64Array.from({ length: count * t }, () => Math.fround(r.next() * 2 - 1));
  return { count, images, labels };
}
