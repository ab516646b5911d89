// Transposed convolution on the WebAssembly backend (a gather over the stride phases)
// equals the reference (a scatter, the literal transpose): 1-D to 3-D, stride, dilation
// (with strides that share a factor with it, where some output phases get no tap at all),
// every padding form, groups, bias or none, a fused relu, and symbolic sizes: a decoder
// that inverts a stride-2 `same` conv, run at three sizes by one compiled module.
import { describe, expect, it } from "vitest";
import * as D from "../../../compiler/ir/dim.js";
import type { ConvOp, DeconvOp, PadSpec } from "../../../compiler/ir/ops.js";
import { windowGeometry } from "../../../compiler/ir/ops.js";
import { inferShape } from "../../../compiler/ir/shapes.js";
import { emitWasm } from "../../../compiler/backends/wasm/module.js";
import { WasmExecutor } from "../../../runtime/wasm.js";
import { checkLayer, PlanBuilder, relativeError, Rng, TOLERANCE } from "./plan-helper.js";

const relu = [{ kind: "activation", fn: "relu", alpha: 0 }] as const;

/** A deconv that returns `out` and the input size its forward conv gives, or undefined. */
function deconvCase(cin: number, out: number[], o: Omit<DeconvOp, "kind" | "out">): { shape: number[]; op: DeconvOp } | undefined {
  const geo = windowGeometry(out, o.kernel, o.stride, o.dilation, o.pad);
  const spatial = geo.out as number[];
  if (spatial.some((n) => n < 1)) return undefined;
  const op: DeconvOp = { kind: "deconv", ...o, out };
  const shape = [cin, ...spatial];
  return inferShape(op, [shape]).ok ? { shape, op } : undefined;
}

function randomDeconv(rng: Rng): { shape: number[]; op: DeconvOp } {
  for (;;) {
    const rank = rng.int(1, 3);
    const axis = () => Array.from({ length: rank }, () => 0);
    const groups = rng.pick([1, 1, 2, 3]);
    const pad = rng.pick<PadSpec>([
      { kind: "valid" },
      { kind: "same" },
      { kind: "full" },
      { kind: "explicit", before: axis().map(() => rng.int(0, 3)), after: axis().map(() => rng.int(0, 3)) },
    ]);
    const c = deconvCase(groups * rng.int(1, 2), axis().map(() => rng.int(1, rank === 3 ? 7 : rank === 2 ? 11 : 20)), {
      filters: groups * rng.int(1, 3),
      kernel: axis().map(() => rng.int(1, rank === 3 ? 3 : 4)),
      stride: axis().map(() => rng.int(1, 4)),
      dilation: axis().map(() => rng.int(1, 3)),
      pad,
      groups,
      bias: rng.pick(["channel", "none"] as const),
    });
    if (c) return c;
  }
}

describe("wasm deconv: named cases", () => {
  const base = (rank: number, o: Partial<DeconvOp>) => {
    const ones = Array.from({ length: rank }, () => 1);
    return { filters: 2, kernel: ones.map(() => 3), stride: ones, dilation: ones, pad: { kind: "valid" } as PadSpec, groups: 1, bias: "channel" as const, ...o };
  };
  const cases: [string, number, number[], Omit<DeconvOp, "kind" | "out">][] = [
    ["1-D stride 1 valid", 2, [12], base(1, {})],
    ["2-D stride 2 same (the decoder's usual)", 3, [8, 9], base(2, { stride: [2, 2], pad: { kind: "same" }, filters: 4 })],
    ["2-D stride 2, kernel 4, explicit 1", 2, [10, 10], base(2, { kernel: [4, 4], stride: [2, 2], pad: { kind: "explicit", before: [1, 1], after: [1, 1] } })],
    ["2-D stride 3 dilation 2", 2, [13, 11], base(2, { stride: [3, 3], dilation: [2, 2] })],
    ["2-D stride 2 dilation 2: odd outputs get no tap from even rows", 1, [11, 9], base(2, { stride: [2, 2], dilation: [2, 2], pad: { kind: "same" } })],
    ["2-D stride 4 dilation 2 kernel 3", 2, [15, 12], base(2, { stride: [4, 2], dilation: [2, 2], pad: { kind: "full" } })],
    ["2-D stride larger than the kernel", 2, [12, 10], base(2, { kernel: [2, 2], stride: [3, 4] })],
    ["2-D groups 2", 4, [7, 7], base(2, { groups: 2, filters: 6, stride: [2, 1], pad: { kind: "same" } })],
    ["2-D depthwise (groups = channels)", 3, [8, 6], base(2, { groups: 3, filters: 3, stride: [2, 2], pad: { kind: "same" } })],
    ["3-D stride 2", 2, [6, 5, 7], base(3, { kernel: [2, 3, 2], stride: [2, 2, 1], pad: { kind: "same" } })],
    ["padding larger than the kernel", 1, [4, 5], base(2, { pad: { kind: "explicit", before: [3, 1], after: [0, 3] } })],
    ["bias none", 2, [9], base(1, { bias: "none", stride: [3] })],
  ];
  cases.forEach(([name, cin, out, o], i) => {
    const c = deconvCase(cin, out, o);
    it(name, async () => {
      if (!c) throw new Error(`invalid case ${name}`);
      expect(await checkLayer([c.shape], c.op, 500 + i)).toBeLessThanOrEqual(TOLERANCE);
    });
  });
  it("a deep reduction (48 channels, 4x4 kernel, stride 2) with relu", async () => {
    const c = deconvCase(48, [12, 12], base(2, { kernel: [4, 4], stride: [2, 2], pad: { kind: "same" }, filters: 3 }));
    expect(await checkLayer([c!.shape], c!.op, 599, relu)).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe("wasm deconv: random configurations", () => {
  for (let seed = 1; seed <= 48; seed++) {
    const { shape, op } = randomDeconv(new Rng(3300 + seed));
    const name = `seed ${seed}: x[${shape}] -> ${op.filters}x${op.out.join("x")} k${op.kernel.join("x")} s${op.stride.join("x")} r${op.dilation.join("x")} ${op.pad.kind} g${op.groups} bias ${op.bias}`;
    it(name, async () => {
      expect(await checkLayer([shape], op, seed, seed % 4 === 0 ? relu : [])).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("wasm deconv: symbolic sizes", () => {
  const H = D.sym("H");
  const W = D.sym("W");

  async function runAtSizes(b: PlanBuilder, sizes: [number, number][], seed: number): Promise<void> {
    const plan = b.build("symbolic");
    const emitted = emitWasm(plan);
  const { manifest } = emitted;
    expect(typeof manifest.memoryBytes).not.toBe("number");
    const exec = await WasmExecutor.create(emitted, manifest, plan.weightData);
    const rng = new Rng(seed);
    for (const [h, w] of sizes) {
      const env = { H: h, W: w };
      const inputs = b.inputNames.map((_, i) => rng.f32(D.evalDims(b.shapes[i], env).reduce((p, d) => p * d, 1), 2));
      const got = exec.runSample(env, plan.symbols, inputs);
      const want = b.reference(inputs, env);
      want.forEach((y, i) => {
        expect(got[i].length, `output ${i} at ${h}x${w}`).toBe(y.length);
        expect(relativeError(got[i], y), `output ${i} at ${h}x${w}`).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  }

  const deconv = (o: Partial<DeconvOp>): DeconvOp => ({
    kind: "deconv",
    filters: 2,
    kernel: [3, 3],
    stride: [2, 2],
    dilation: [1, 1],
    pad: { kind: "same" },
    groups: 1,
    out: [H, W],
    bias: "channel",
    ...o,
  });

  it("input [3, ceil(H/2), ceil(W/2)] back to [2, H, W] (stride 2 same) at three sizes", async () => {
    const rng = new Rng(21);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [3, D.ceildiv(H, 2), D.ceildiv(W, 2)]);
    b.output("y", b.layer(deconv({}), [x], rng, relu));
    await runAtSizes(b, [[8, 8], [13, 6], [5, 11]], 22);
  });

  it("an encoder-decoder: stride-2 same conv, then its transpose shape back to [H, W]", async () => {
    const rng = new Rng(23);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [2, H, W]);
    const conv: ConvOp = { kind: "conv", filters: 4, kernel: [4, 3], stride: [2, 2], dilation: [1, 1], pad: { kind: "same" }, groups: 2, flip: false, bias: "channel" };
    const e = b.layer(conv, [x], rng, relu);
    b.output("y", b.layer(deconv({ kernel: [4, 3], groups: 2, filters: 2 }), [e], rng));
    b.output("code", e);
    await runAtSizes(b, [[9, 12], [16, 7], [6, 6]], 24);
  });

  it("stride 3, dilation 2, valid: input floor((H - 5) / 3) + 1 back to H", async () => {
    const rng = new Rng(25);
    const b = new PlanBuilder(["H", "W"]);
    const op = deconv({ stride: [3, 2], dilation: [2, 2], pad: { kind: "valid" }, groups: 1 });
    const geo = windowGeometry([H, W], op.kernel, op.stride, op.dilation, op.pad);
    const x = b.input("x", [2, ...geo.out]);
    b.output("y", b.layer(op, [x], rng));
    await runAtSizes(b, [[11, 9], [20, 14], [5, 5]], 26);
  });
});
