// The reference batch normalisation against onnxruntime's BatchNormalization (inference
// mode: the running mean and variance as inputs) on seeded random inputs of rank 0 to 3
// spatial axes, with variances from small (eps matters) to large and several eps.

import { describe, it } from "vitest";
import { batchnorm } from "../../compiler/reference/index.js";
import { attr, type GraphSpec } from "../onnx/model.js";
import { expectClose, randomTensor, rng, runOnnx } from "./helpers.js";

describe("BatchNormalization: reference equals onnxruntime", () => {
  for (let n = 0; n < 18; n++) {
    const seed = 45000 + n;
    const r = rng(seed);
    const C = r.int(1, 6);
    const shape = [C, ...Array.from({ length: r.int(0, 3) }, () => r.int(1, 7))];
    const x = randomTensor(r, shape, -4, 4);
    const gamma = randomTensor(r, [C], -2, 2);
    const beta = randomTensor(r, [C], -1, 1);
    const mean = randomTensor(r, [C], -1, 1);
    const variance = randomTensor(r, [C], r.pick([0.001, 0.1, 1]), 3);
    const eps = r.pick([1e-5, 1e-3, 0.1]);
    const name = `#${seed} x[${shape}] eps ${eps}`;
    it(name, async () => {
      const want = batchnorm(x, { kind: "batchnorm", eps }, { gamma, beta, mean, variance });
      // ONNX wants at least [N, C]; a flat [C] sample is [1, C].
      const onnxShape = [1, ...shape];
      const graph: GraphSpec = {
        nodes: [{ op: "BatchNormalization", inputs: ["x", "gamma", "beta", "mean", "var"], outputs: ["y"], attrs: [attr.float("epsilon", eps)] }],
        inputs: [{ name: "x", shape: onnxShape }],
        outputs: [{ name: "y" }],
        initializers: [
          { name: "gamma", shape: [C], data: gamma.data },
          { name: "beta", shape: [C], data: beta.data },
          { name: "mean", shape: [C], data: mean.data },
          { name: "var", shape: [C], data: variance.data },
        ],
      };
      expectClose(await runOnnx(graph, { x: { shape: onnxShape, data: x.data } }), want, name);
    });
  }
});
