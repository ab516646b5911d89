// Locally connected and tiled convolution on the WebAssembly backend equal the reference:
// 1-D to 3-D, every padding form, stride, dilation, each bias kind, tiles that divide the
// output or not (and outnumber it), a fused relu, and a tiled layer on symbolic sizes.
import { describe, expect, it } from "vitest";
import * as D from "../../../compiler/ir/dim.js";
import type { LocalOp, PadSpec, TiledOp } from "../../../compiler/ir/ops.js";
import { inferShape } from "../../../compiler/ir/shapes.js";
import { checkLayer, PlanBuilder, relativeError, Rng, runWasm, TOLERANCE } from "./plan-helper.js";

const relu = [{ kind: "activation", fn: "relu", alpha: 0 }] as const;

function randomPad(rng: Rng, rank: number): PadSpec {
  return rng.pick<PadSpec>([
    { kind: "valid" },
    { kind: "same" },
    { kind: "full" },
    { kind: "explicit", before: Array.from({ length: rank }, () => rng.int(0, 2)), after: Array.from({ length: rank }, () => rng.int(0, 2)) },
  ]);
}

/** A random window configuration that the shape rule accepts on the drawn input. */
function randomWindow(rng: Rng) {
  const rank = rng.int(1, 3);
  const axis = () => Array.from({ length: rank }, () => 0);
  return {
    rank,
    cin: rng.int(1, 3),
    filters: rng.int(1, 3),
    kernel: axis().map(() => rng.int(1, rank === 3 ? 2 : 3)),
    stride: axis().map(() => rng.int(1, 3)),
    dilation: axis().map(() => rng.int(1, 2)),
    spatial: axis().map(() => rng.int(1, rank === 3 ? 5 : rank === 2 ? 8 : 14)),
    pad: randomPad(rng, rank),
  };
}

function randomLocal(rng: Rng): { shape: number[]; op: LocalOp } {
  for (;;) {
    const w = randomWindow(rng);
    const op: LocalOp = { kind: "local", filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, bias: rng.pick(["location", "none"] as const) };
    const shape = [w.cin, ...w.spatial];
    if (inferShape(op, [shape]).ok) return { shape, op };
  }
}

function randomTiled(rng: Rng): { shape: number[]; op: TiledOp } {
  for (;;) {
    const w = randomWindow(rng);
    const tiles = w.kernel.map(() => rng.int(1, 4));
    const op: TiledOp = { kind: "tiled", filters: w.filters, kernel: w.kernel, stride: w.stride, dilation: w.dilation, pad: w.pad, tiles, bias: rng.pick(["tiled", "none"] as const) };
    const shape = [w.cin, ...w.spatial];
    if (inferShape(op, [shape]).ok) return { shape, op };
  }
}

const describeWindow = (op: LocalOp | TiledOp) =>
  `k${op.kernel.join("x")} s${op.stride.join("x")} r${op.dilation.join("x")} ${op.pad.kind}${op.kind === "tiled" ? ` t${op.tiles.join("x")}` : ""} bias ${op.bias}`;

describe("wasm local: random configurations", () => {
  for (let seed = 1; seed <= 36; seed++) {
    const { shape, op } = randomLocal(new Rng(3100 + seed));
    it(`seed ${seed}: x[${shape}] ${describeWindow(op)}`, async () => {
      expect(await checkLayer([shape], op, seed, seed % 4 === 0 ? relu : [])).toBeLessThanOrEqual(TOLERANCE);
    });
  }
  it("a long reduction (32 channels x 3x3) with a relu", async () => {
    const op: LocalOp = { kind: "local", filters: 3, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: { kind: "same" }, bias: "location" };
    expect(await checkLayer([[32, 6, 5]], op, 7, relu)).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe("wasm tiled: random configurations", () => {
  for (let seed = 1; seed <= 36; seed++) {
    const { shape, op } = randomTiled(new Rng(3200 + seed));
    it(`seed ${seed}: x[${shape}] ${describeWindow(op)}`, async () => {
      expect(await checkLayer([shape], op, seed, seed % 4 === 0 ? relu : [])).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it("on symbolic sizes [2, H, W], tiles 2x3, stride 2 same, at three sizes", async () => {
    const H = D.sym("H");
    const W = D.sym("W");
    const rng = new Rng(11);
    const b = new PlanBuilder(["H", "W"]);
    const x = b.input("x", [2, H, W]);
    const op: TiledOp = { kind: "tiled", filters: 3, kernel: [3, 3], stride: [2, 1], dilation: [1, 2], pad: { kind: "same" }, tiles: [2, 3], bias: "tiled" };
    b.output("y", b.layer(op, [x], rng, relu));
    const plan = b.build("tiled");
    for (const [h, w] of [[7, 9], [12, 5], [4, 16]]) {
      const env = { H: h, W: w };
      const input = rng.f32(2 * h * w, 2);
      const [got] = await runWasm(plan, [input], env);
      const [want] = b.reference([input], env);
      expect(relativeError(got, want), `${h}x${w}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});
