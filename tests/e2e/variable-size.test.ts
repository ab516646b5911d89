// Symbolic sizes: one compiled bundle runs on inputs of different sizes, each result equal
// to the reference, and an input the layers cannot take is refused with what was expected.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { writeBundle } from "../../compiler/bundle.js";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";
import type { Network } from "../../runtime/session.js";

function build(example: string): CompileSuccess {
  const r = compile(readFileSync(`examples/${example}`, "utf8"), { fileName: example });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r;
}

async function sameAsReference(r: CompileSuccess, net: Network, shape: number[], seed: number): Promise<void> {
  const data = initialise({ kind: "uniform", low: -1, high: 1, seed }, shape, 1, 1);
  const name = r.graph.inputs[0].name;
  const got = await net.run({ [name]: { data, shape } });
  const ref = interpret(r.source, new Map([[name, { shape, data: Float64Array.from(data) }]]));
  for (const [out, want] of ref) {
    expect(got[out].shape).toEqual([1, ...want.shape]);
    let diff = 0;
    let scale = 0;
    want.data.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - got[out].data[i]));
      scale = Math.max(scale, Math.abs(v));
    });
    expect(diff / Math.max(scale, 1e-30)).toBeLessThan(1e-5);
  }
}

describe("one bundle, several input sizes", () => {
  const cases: [string, number[][]][] = [
    ["classifier_variable.cnn", [[3, 12, 12], [3, 17, 23], [3, 32, 20]]],
    ["classifier_fcn.cnn", [[3, 8, 8], [3, 15, 9], [3, 24, 31]]],
    ["labeler.cnn", [[3, 5, 7], [3, 12, 12], [3, 9, 16]]],
    ["autoencoder.cnn", [[1, 8, 8], [1, 13, 10], [1, 21, 17]]],
    ["residual.cnn", [[3, 6, 6], [3, 11, 8], [3, 16, 20]]],
  ];
  for (const [example, shapes] of cases) {
    it(`${example} through a written bundle`, async () => {
      const r = build(example);
      const dir = path.join(mkdtempSync(path.join(tmpdir(), "cnnc-var-")), "bundle");
      writeBundle(dir, r.artifacts);
      const mod = (await import(pathToFileURL(path.join(dir, "index.js")).href)) as { load: (o?: object) => Promise<Network> };
      const net = await mod.load({ backend: "wasm" });
      for (const [i, s] of shapes.entries()) await sameAsReference(r, net, s, 10 + i);
    });
  }

  it("says what it expected when an input is too small for the layers", async () => {
    const r = build("classifier_variable.cnn");
    const net = await r.load({ backend: "wasm" });
    const data = new Float32Array(3 * 9 * 9);
    await expect(net.run({ image: { data, shape: [3, 9, 9] } })).rejects.toThrow(
      "layer probs.0: adaptive pooling to 3x3 needs an input of at least that size, got floor(H / 4)xfloor(W / 4) (with H = 9, W = 9)",
    );
    await expect(net.run({ image: { data, shape: [1, 9, 9] } })).rejects.toThrow(
      "input 'image' has shape [1, 9, 9], expected image: f32[3, H, W] (with an optional leading batch axis): it must have 3 channels",
    );
  });
});
