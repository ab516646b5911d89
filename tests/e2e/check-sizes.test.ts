// `cnnc check --size`: a network with symbolic sizes checked at given sizes (compiler/check-
// sizes.ts). The sizes where run() would refuse are errors at check time, with the same
// words; tensors past what a target holds are errors at their layer; tensors past WebGPU's
// default binding are warnings; the summary's memory is the plan's arena at those sizes.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { checkAtSizes } from "../../compiler/check-sizes.js";
import { DiagnosticLog } from "../../compiler/diagnostics.js";
import { optimise } from "../../compiler/optimise.js";
import { withFileSystem } from "../../compiler/node-files.js";
import { evalDim } from "../../compiler/ir/dim.js";

const root = path.resolve(__dirname, "../..");
const file = path.join(root, "examples/classifier_variable.cnn");

function checked(sizes: Record<string, number>) {
  const o = optimise(readFileSync(file, "utf8"), withFileSystem({ fileName: file }));
  if (!o.ok) throw new Error("the example does not compile");
  const log = new DiagnosticLog();
  const summary = checkAtSizes(o, sizes, log);
  return { o, log, summary, errors: log.items.filter((d) => d.severity === "error"), warnings: log.items.filter((d) => d.severity === "warning") };
}

describe("check at sizes", () => {
  it("reports the plan's memory at the sizes, and nothing else for sizes that run", () => {
    for (const [H, W] of [[32, 32], [224, 224], [37, 101]]) {
      const { o, log, summary } = checked({ H, W });
      expect(log.items).toEqual([]);
      expect(summary?.activationBytes).toBe(4 * evalDim(o.plan.arenaElements, { H, W }));
      expect(summary?.weightBytes).toBe(4 * o.plan.weightData.length);
      const largest = Math.max(...o.plan.steps.map((s) => 4 * s.output.shape.reduce<number>((p, d) => p * evalDim(d, { H, W }), 1)));
      expect(summary?.largest?.bytes).toBe(largest);
    }
  });

  it("refuses the sizes run() would refuse, with run()'s words, once each", () => {
    const { errors } = checked({ H: 2, W: 2 });
    expect(errors.map((e) => e.message)).toEqual([
      "layer f.5: window 2x2 is larger than the padded input floor(H / 2)xfloor(W / 2) (with H = 2, W = 2)",
      "layer probs.0: adaptive pooling to 3x3 needs an input of at least that size, got floor(H / 4)xfloor(W / 4) (with H = 2, W = 2)",
    ]);
  });

  it("names each layer whose output no target holds, at its place in the source", () => {
    const { errors } = checked({ H: 20000, W: 20000 });
    expect(errors.map((e) => e.message.split(":")[0])).toEqual(["layer conv1", "layer conv2", "layer f.5"]);
    expect(errors.every((e) => e.span !== undefined && /more than the 536870912 a target can hold/.test(e.message))).toBe(true);
  });

  it("warns where a tensor is over WebGPU's default binding, and errors past WebAssembly's memory", () => {
    const { errors, warnings } = checked({ H: 4000, W: 4000 });
    expect(errors).toEqual([]);
    expect(warnings.map((w) => w.message.split(":")[0])).toEqual(["layer conv1", "layer conv2"]);
    expect(warnings[0].message).toContain("maxStorageBufferBindingSize of 128 MiB");
    const big = checked({ H: 8000, W: 8000 });
    expect(big.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^with H = 8000, W = 8000, one sample needs .* more than the 2 GiB of WebAssembly memory$/)]);
  });

  it("wants every symbol, and only the network's, each a whole number in range", () => {
    expect(checked({ H: 28 }).errors.map((e) => e.message)).toEqual(["--size: give every size symbol of classifier_variable; missing W"]);
    expect(checked({ H: 28, W: 28, X: 3 }).errors[0].message).toMatch(/has no size symbol 'X'.*its sizes are H, W/);
    expect(checked({ H: 0, W: 28 }).errors[0].message).toBe("--size: H = 0 must be a whole number from 1 to 2147483647");
    expect(checked({ H: 2 ** 31, W: 28 }).errors).toHaveLength(1);
  });

  it("runs from the CLI: one ok line on stdout, or diagnostics and exit 1", () => {
    const cnnc = (...args: string[]) => spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), "check", ...args], { cwd: root, encoding: "utf8" });
    const ok = cnnc("examples/classifier_variable.cnn", "--size", "H=224,W=224");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^examples\/classifier_variable\.cnn: ok with H = 224, W = 224: [\d.]+ MiB of activations per sample, [\d.]+ KiB of weights; largest tensor conv2 \[32, 112, 112\] \([\d.]+ MiB\)\n$/);
    const bad = cnnc("examples/classifier_variable.cnn", "--size", "H=2", "--size", "W=2");
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain("(with H = 2, W = 2)");
    const fixed = cnnc("examples/lenet.cnn", "--size", "H=2");
    expect(fixed.status).toBe(1);
    expect(fixed.stderr).toContain("has no size symbols");
  });
});
