// Pooling on the WebAssembly backend equals the reference: max, avg, lp and gauss with
// stride, every padding form, dilation, ceil mode and countPad, in 1-D to 3-D; adaptive
// max and avg pooling, including global pooling and regions that overlap.
import { describe, expect, it } from "vitest";
import type { AdaptivePoolOp, PadSpec, PoolMode, PoolOp } from "../../../compiler/ir/ops.js";
import { effectiveKernel } from "../../../compiler/ir/ops.js";
import { inferShape } from "../../../compiler/ir/shapes.js";
import { checkLayer, Rng, TOLERANCE } from "./plan-helper.js";

function pool(mode: PoolMode, rank: number, o: Partial<PoolOp> = {}): PoolOp {
  const ones = Array.from({ length: rank }, () => 1);
  return {
    kind: "pool",
    mode,
    window: ones.map(() => 2),
    stride: ones.map(() => 2),
    dilation: ones,
    pad: { kind: "valid" },
    ceil: false,
    countPad: false,
    p: 2,
    sigma: 1,
    ...o,
  };
}

const adaptive = (mode: "max" | "avg", out: number[]): AdaptivePoolOp => ({ kind: "adaptive_pool", mode, out });

describe("wasm pool: named cases", () => {
  const modes: PoolMode[] = ["max", "avg", "lp", "gauss"];
  const cases: [string, number[], Partial<PoolOp>, number][] = [
    ["2x2 stride 2", [3, 8, 8], {}, 2],
    ["3x3 stride 1", [2, 7, 6], { window: [3, 3], stride: [1, 1] }, 2],
    ["3x3 stride 2 same", [2, 7, 8], { window: [3, 3], pad: { kind: "same" } }, 2],
    ["explicit asymmetric padding", [2, 7, 7], { window: [3, 3], pad: { kind: "explicit", before: [1, 0], after: [0, 1] } }, 2],
    ["ceil mode keeps the partial window", [2, 7, 9], { window: [3, 2], ceil: true }, 2],
    ["ceil mode with padding", [1, 8, 6], { window: [3, 3], ceil: true, pad: { kind: "explicit", before: [1, 1], after: [1, 0] } }, 2],
    ["dilation 2", [2, 9, 9], { window: [3, 2], stride: [1, 2], dilation: [2, 2] }, 2],
    ["dilated, padded, ceil", [1, 10, 9], { window: [2, 3], stride: [3, 2], dilation: [3, 2], pad: { kind: "same" }, ceil: true }, 2],
    ["1-D", [3, 17], { window: [3], stride: [2] }, 1],
    ["1-D ceil", [2, 10], { window: [4], stride: [3], ceil: true }, 1],
    ["3-D", [2, 5, 6, 4], { window: [2, 3, 2], stride: [1, 2, 2] }, 3],
    ["3-D padded", [1, 4, 5, 6], { window: [3, 3, 3], stride: [2, 2, 2], pad: { kind: "explicit", before: [1, 0, 1], after: [1, 1, 0] } }, 3],
  ];
  for (const mode of modes) {
    cases.forEach(([name, shape, attrs, rank], i) => {
      it(`${mode}: ${name}`, async () => {
        expect(await checkLayer([shape], pool(mode, rank, attrs), 2000 + i)).toBeLessThanOrEqual(TOLERANCE);
      });
    });
  }
  const padded = { window: [3, 3], stride: [2, 2], pad: { kind: "explicit", before: [1, 1], after: [1, 1] } as PadSpec };
  it("avg countPad", async () => {
    expect(await checkLayer([[2, 7, 8]], pool("avg", 2, { ...padded, countPad: true }), 31)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("avg countPad with ceil (the overhang is not counted)", async () => {
    const op = pool("avg", 2, { ...padded, countPad: true, ceil: true });
    expect(await checkLayer([[2, 8, 6]], op, 32)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("lp with p = 1 and p = 3", async () => {
    expect(await checkLayer([[2, 6, 6]], pool("lp", 2, { p: 1, ...padded }), 33)).toBeLessThanOrEqual(TOLERANCE);
    expect(await checkLayer([[2, 6, 6]], pool("lp", 2, { p: 3, ...padded, ceil: true }), 34)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("gauss with a narrow and a wide sigma", async () => {
    expect(await checkLayer([[2, 9, 9]], pool("gauss", 2, { window: [5, 5], sigma: 0.7, pad: { kind: "same" } }), 35)).toBeLessThanOrEqual(TOLERANCE);
    expect(await checkLayer([[2, 9, 9]], pool("gauss", 2, { window: [3, 5], sigma: 3, dilation: [2, 1] }), 36)).toBeLessThanOrEqual(TOLERANCE);
  });
  it("windows with no real element give 0", async () => {
    // Dilation 3 on a 3-wide window over a 2-wide input padded by 3 on each side: some
    // windows fall entirely in the padding.
    const op = pool("max", 1, { window: [3], stride: [1], dilation: [3], pad: { kind: "explicit", before: [3], after: [3] } });
    for (const mode of modes) {
      expect(await checkLayer([[2, 2]], { ...op, mode }, 37)).toBeLessThanOrEqual(TOLERANCE);
    }
  });
  it("epilogue on a pool", async () => {
    const epi = [{ kind: "activation", fn: "tanh", alpha: 0 }] as const;
    expect(await checkLayer([[2, 6, 6]], pool("avg", 2), 38, epi)).toBeLessThanOrEqual(TOLERANCE);
  });
});

function randomPool(rng: Rng): { shape: number[]; op: PoolOp } {
  for (;;) {
    const rank = rng.int(1, 3);
    const axis = () => Array.from({ length: rank });
    const window = axis().map(() => rng.int(1, 3));
    const dilation = axis().map(() => rng.int(1, 2));
    const half = window.map((k, i) => Math.floor(effectiveKernel(k, dilation[i]) / 2));
    const pad = rng.pick<PadSpec>([
      { kind: "valid" },
      { kind: "same" },
      { kind: "explicit", before: half.map((h) => rng.int(0, h)), after: half.map((h) => rng.int(0, h)) },
    ]);
    const op = pool(rng.pick(["max", "avg", "lp", "gauss"] as const), rank, {
      window,
      dilation,
      pad,
      stride: axis().map(() => rng.int(1, 3)),
      ceil: rng.bool(),
      countPad: rng.bool(),
      p: rng.pick([1, 2, 3]),
      sigma: rng.pick([0.5, 1, 2]),
    });
    const shape = [rng.int(1, 3), ...axis().map(() => rng.int(1, rank === 3 ? 6 : rank === 2 ? 10 : 17))];
    if (inferShape(op, [shape]).ok) return { shape, op };
  }
}

describe("wasm pool: random configurations", () => {
  for (let seed = 1; seed <= 48; seed++) {
    const { shape, op } = randomPool(new Rng(500 + seed));
    const name = `seed ${seed}: ${op.mode} x[${shape}] w${op.window.join("x")} s${op.stride.join("x")} r${op.dilation.join("x")} ${op.pad.kind}${op.ceil ? " ceil" : ""}${op.countPad ? " countPad" : ""}`;
    it(name, async () => {
      expect(await checkLayer([shape], op, seed)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("wasm adaptive pool", () => {
  const cases: [number[], number[]][] = [
    [[3, 8, 8], [1, 1]],
    [[2, 7, 9], [3, 3]],
    [[2, 7, 5], [2, 4]],
    [[2, 5, 5], [5, 5]],
    [[3, 13], [4]],
    [[2, 5, 6, 7], [2, 3, 2]],
    [[1, 10, 3], [7, 3]],
  ];
  for (const mode of ["max", "avg"] as const) {
    cases.forEach(([shape, out], i) => {
      it(`${mode} [${shape}] -> ${out.join("x")}`, async () => {
        expect(await checkLayer([shape], adaptive(mode, out), 3000 + i)).toBeLessThanOrEqual(TOLERANCE);
      });
    });
  }
  for (let seed = 1; seed <= 24; seed++) {
    const rng = new Rng(700 + seed);
    const rank = rng.int(1, 3);
    const spatial = Array.from({ length: rank }, () => rng.int(1, rank === 3 ? 7 : 12));
    const out = spatial.map((m) => rng.int(1, m));
    const mode = rng.pick(["max", "avg"] as const);
    const shape = [rng.int(1, 3), ...spatial];
    it(`random ${seed}: ${mode} [${shape}] -> ${out.join("x")}`, async () => {
      expect(await checkLayer([shape], adaptive(mode, out), seed)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("wasm global pool (out: 1 on every axis): four values at a time", () => {
  // Planes that are and are not multiples of four, 1-D to 3-D, one long one (3136 terms).
  const shapes = [[4, 56, 56], [3, 7, 7], [2, 13], [2, 3, 5, 7], [5, 1, 3], [1, 4, 4], [2, 1]];
  for (const mode of ["max", "avg"] as const) {
    shapes.forEach((shape, i) => {
      it(`${mode} [${shape}] -> 1`, async () => {
        const out = shape.slice(1).map(() => 1);
        expect(await checkLayer([shape], adaptive(mode, out), 5000 + i)).toBeLessThanOrEqual(TOLERANCE);
      });
    });
  }
});

describe("wasm pool: tiling max and avg pools on SIMD lanes (pool-simd.ts)", () => {
  // Windows that tile the input (stride = window, 1, 2 or 4 on the last axis, up to 3 on the
  // others; no padding), 1-D to 3-D, sizes that leave partial groups of four and unpooled
  // edges, with and without a ReLU-like epilogue: 100 configurations, each checked to take
  // the SIMD kernel. Max is exact; avg sums in f32 (measured worst 1.1e-7 relative).
  it("100 random configurations equal the reference", async () => {
    const { tilingPool } = await import("../../../compiler/backends/wasm/pool-simd.js");
    let worst = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const rng = new Rng(9000 + seed);
      const rank = rng.pick([1, 2, 2, 3]);
      const window = Array.from({ length: rank }, (_, i) => (i === rank - 1 ? rng.pick([1, 2, 4]) : rng.int(1, 3)));
      const op = pool(rng.pick(["max", "avg"] as const), rank, { window, stride: window });
      const shape = [rng.int(1, 4), ...window.map((w, i) => w * rng.int(1, i === rank - 1 ? 12 : 4) + rng.int(0, w - 1))];
      const epilogue = rng.pick([[], [{ kind: "activation" as const, fn: "relu" as const, alpha: 0 }], [{ kind: "activation" as const, fn: "leaky_relu" as const, alpha: 0.1 }]]);
      expect(tilingPool(op, epilogue)).toBe(true);
      const err = await checkLayer([shape], op, seed, epilogue);
      expect(err, `seed ${seed}: ${op.mode} x[${shape}] w${window.join("x")}`).toBeLessThanOrEqual(5e-7);
      worst = Math.max(worst, err);
    }
    console.log(`tiling pool: max relative error ${worst.toExponential(2)} over 100 configurations`);
  });
});

describe("wasm pool: any max, avg and Lp pool on SIMD lanes (pool-lanes.ts)", () => {
  // Rows wide enough for interior quads and their peeled edges: every window 1-4 (up to 7 on
  // the last axis), stride 1-3, dilation 1-2, every padding form, ceil mode, countPad, 1-D to
  // 3-D, with and without a ReLU-like epilogue; each checked to take this kernel (and not the
  // tiling one). Max is exact; avg and Lp sum in f32.
  it("160 random configurations equal the reference", async () => {
    const { lanePool } = await import("../../../compiler/backends/wasm/pool-lanes.js");
    const { tilingPool } = await import("../../../compiler/backends/wasm/pool-simd.js");
    let worst = 0;
    let checked = 0;
    for (let seed = 1; checked < 160; seed++) {
      const rng = new Rng(12000 + seed);
      const rank = rng.pick([1, 2, 2, 2, 3]);
      const axis = () => Array.from({ length: rank }, (_, i) => i);
      const window = axis().map((i) => rng.int(1, i === rank - 1 ? 7 : 4));
      const dilation = axis().map(() => rng.pick([1, 1, 2]));
      const half = window.map((k, i) => Math.floor(effectiveKernel(k, dilation[i]) / 2));
      const pad = rng.pick<PadSpec>([
        { kind: "valid" },
        { kind: "same" },
        { kind: "explicit", before: half.map((h) => rng.int(0, h)), after: half.map((h) => rng.int(0, h)) },
      ]);
      const op = pool(rng.pick(["max", "avg", "lp"] as const), rank, {
        window,
        dilation,
        pad,
        stride: axis().map(() => rng.int(1, 3)),
        ceil: rng.bool(),
        countPad: rng.bool(),
        p: rng.pick([1, 2]),
      });
      const shape = [rng.int(1, 3), ...axis().map((i) => (i === rank - 1 ? rng.int(1, 45) : rng.int(1, rank === 3 ? 6 : 9)))];
      const epilogue = rng.pick([[], [{ kind: "activation" as const, fn: "relu" as const, alpha: 0 }], [{ kind: "activation" as const, fn: "leaky_relu" as const, alpha: 0.1 }]]);
      if (!inferShape(op, [shape]).ok || tilingPool(op, epilogue) || !lanePool(op, epilogue)) continue;
      checked++;
      const err = await checkLayer([shape], op, seed, epilogue);
      const name = `seed ${seed}: ${op.mode}${op.mode === "lp" ? op.p : ""} x[${shape}] w${window.join("x")} s${op.stride.join("x")} r${dilation.join("x")} ${pad.kind}${op.ceil ? " ceil" : ""}${op.countPad ? " countPad" : ""}`;
      expect(err, name).toBeLessThanOrEqual(TOLERANCE);
      worst = Math.max(worst, err);
    }
    console.log(`lane pool: max relative error ${worst.toExponential(2)} over ${checked} configurations`);
  });
  it("3x3 stride 2 on 64x56x56 (the benchmark's pools), padded and not, every mode", async () => {
    const { lanePool } = await import("../../../compiler/backends/wasm/pool-lanes.js");
    const explicit: PadSpec = { kind: "explicit", before: [1, 1], after: [1, 1] };
    for (const [i, pad] of ([{ kind: "valid" }, explicit] as PadSpec[]).entries()) {
      for (const mode of ["max", "avg", "lp"] as const) {
        const op = pool(mode, 2, { window: [3, 3], stride: [2, 2], pad });
        expect(lanePool(op, [])).toBe(true);
        expect(await checkLayer([[64, 56, 56]], op, 40 + i)).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });
});
