// Whole models people ship, exported from PyTorch by tests/onnx/fixtures/generate.py
// (torchvision's ResNet, MobileNet v2 and v3, SqueezeNet with ceil-mode pools, at reduced
// widths with random weights, a dense head, and an image-to-image net), imported by cnnc and compared with
// onnxruntime-node on the same file: 1e-4 relative on the reference and WebAssembly (and
// WebGPU where there is an adapter; in CI a missing adapter fails).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromOnnx } from "../../compiler/import/onnx/index.js";
import { testAdapter } from "../backends/wgsl/plan-helper.js";
import { type Backend, compareWithOrt, seeded } from "./compare.js";

const adapter = await testAdapter();
const backends: Backend[] = adapter || process.env.CI ? ["reference", "wasm", "webgpu"] : ["reference", "wasm"];

const MODELS: Record<string, readonly number[]> = {
  "resnet_small.onnx": [1, 3, 32, 32],
  "mobilenet_v2.onnx": [1, 3, 32, 32],
  "mobilenet_v3_small.onnx": [1, 3, 32, 32],
  // Exported with a dynamic batch: run two samples.
  "squeezenet_small.onnx": [2, 3, 47, 47],
  "dense_head.onnx": [1, 3, 10, 10],
  // Audio: a strided 1-D convolution computes its own spectrogram (channel slices, squares).
  "spectrogram.onnx": [1, 1, 2048],
  // Image to image: reflect and edge Pad, InstanceNormalization, PRelu, linear and fractional
  // nearest Resize, Max, ReduceMean/ReduceSum, Sub/Div, per-pixel LogSoftmax; at opset 11
  // PyTorch writes the log-softmax between two Transposes.
  "image_to_image.onnx": [1, 3, 24, 24],
  "image_to_image_opset11.onnx": [1, 3, 24, 24],
};

describe("whole ONNX models: cnnc equals onnxruntime", () => {
  for (const [file, shape] of Object.entries(MODELS)) {
    it(file, async () => {
      const bytes = new Uint8Array(readFileSync(`tests/onnx/fixtures/${file}`));
      const n = shape.reduce((a, b) => a * b, 1);
      const e = await compareWithOrt(bytes, { input: { shape, data: seeded(7, n) } }, backends);
      for (const b of backends) expect(e[b], `${file} on ${b}`).toBeLessThan(1e-4);
    }, 120_000);
  }

  it("the imported source is readable: one statement per layer, labels from the PyTorch module names", () => {
    const r = fromOnnx(new Uint8Array(readFileSync("tests/onnx/fixtures/resnet_small.onnx")));
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(r.source).toMatch(/network \w+\(input: f32\[3, 32, 32\]\) -> output \{/);
    // No shape subgraph left (Shape/Gather/Concat folded), no raw ONNX names outside comments.
    for (const line of r.source.split("\n")) {
      const code = line.replace(/\/\/.*$/, "");
      expect(code).not.toMatch(/[/:]{2}|onnx::/);
    }
  });
});
