// The WebAssembly training step is compiled where it runs, so it is built with relaxed SIMD's
// fused multiply-add when the engine has it (browsers today; Node 20 behind a flag, which
// this file sets for its worker). Built that way, its gradients still equal the reference's:
// LeNet (im2col GEMMs) and a residual network whose 3x3 layers run by Winograd.

import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { analyse } from "../../compiler/index.js";
import { autodiff } from "../../compiler/train/autodiff.js";
import { specialise } from "../../compiler/train/specialise.js";
import { DEFAULT_OPTIMISER } from "../../compiler/train/optim.js";
import { referenceBatch } from "../../compiler/train/reference-batch.js";
import { WasmTrainer } from "../../compiler/train/wasm-trainer.js";
import { hasRelaxedSimd } from "../../runtime/wasm.js";
import { relativeError } from "../relative-error.js";
import { LENET, rng, seedWeights } from "./helpers.js";

describe("the WebAssembly training step with relaxed SIMD", () => {
  const cases: [string, string, Record<string, number>, "auto" | "winograd"][] = [
    ["lenet", LENET, {}, "auto"],
    ["residual", readFileSync("examples/residual.cnn", "utf8"), { H: 8, W: 8 }, "winograd"],
  ];
  for (const [name, source, sizes, conv] of cases) {
    it(`${name}: built with relaxed_madd where the engine runs it, gradients equal the reference's`, async () => {
      v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
      expect(hasRelaxedSimd()).toBe(true);
      const a = analyse(source, { fileName: `${name}.cnn` });
      if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
      const tg = autodiff(specialise(a.graph, sizes), { loss: "cross_entropy" });
      seedWeights(tg, 2);
      const trainer = await WasmTrainer.create(tg, DEFAULT_OPTIMISER, 1, conv);
      expect(trainer.relaxedSimd).toBe(true);
      const r = rng(3);
      const input = tg.forward.inputs[0];
      const shape = tg.values[input.value].shape as number[];
      const n = shape.reduce((p, d) => p * d, 1);
      const images = Float32Array.from({ length: 3 * n }, () => r.next());
      const labels = Float64Array.from({ length: 3 }, () => r.int(0, 9));
      const samples = [0, 1, 2].map((b) => new Map([[input.name, { shape, data: Float64Array.from(images.subarray(b * n, (b + 1) * n)) }]]));
      const targets = [0, 1, 2].map((b) => ({ shape: [...tg.targetShape], data: labels.slice(b, b + 1) }));
      const weights = new Map(tg.forward.weights.map((w) => [w, { shape: w.shape, data: Float64Array.from(w.data) }]));
      const want = referenceBatch(tg, samples, targets, weights);
      const got = trainer.probe({ count: 3, images, labels });
      for (const [w, g] of want.gradients) {
        const err = relativeError((got.gradients.get(w) as Float32Array).map((v) => v / 3), g.data);
        if (err > 1e-4) expect.fail(`${w.name}: relative error ${err}`);
      }
    });
  }
});
