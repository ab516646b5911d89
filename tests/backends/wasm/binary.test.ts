// Elementwise add and multiply with broadcasting (the lower-rank operand padded with
// trailing 1s, then each axis equal or 1) and concatenation along channels on the
// WebAssembly backend equal the reference.
import { describe, expect, it } from "vitest";
import { checkLayer, Rng, TOLERANCE } from "./plan-helper.js";

describe("wasm add / mul", () => {
  const cases: [number[], number[]][] = [
    [[3, 4, 5], [3, 4, 5]],
    [[3, 4, 5], [3]],
    [[3], [3, 4, 5]],
    [[3, 4, 5], [1]],
    [[3, 4, 5], [3, 1, 1]],
    [[3, 4, 5], [1, 4, 5]],
    [[3, 1, 5], [1, 4, 1]],
    [[2, 3, 4, 5], [2, 3, 1, 5]],
    [[6], [6]],
    [[6], [1]],
    [[4, 7], [4]],
  ];
  for (const kind of ["add", "mul"] as const) {
    cases.forEach(([a, b], i) => {
      it(`${kind} [${a}] and [${b}]`, async () => {
        expect(await checkLayer([a, b], { kind }, 100 + i)).toBeLessThanOrEqual(TOLERANCE);
      });
    });
  }
  it("add with a relu epilogue (a residual block's end)", async () => {
    const epi = [{ kind: "activation", fn: "relu", alpha: 0 }] as const;
    expect(await checkLayer([[3, 4, 5], [3, 4, 5]], { kind: "add" }, 7, epi)).toBeLessThanOrEqual(TOLERANCE);
  });
  for (let seed = 1; seed <= 24; seed++) {
    const rng = new Rng(1300 + seed);
    const shape = Array.from({ length: rng.int(1, 4) }, () => rng.int(1, 5));
    // Each operand: a prefix of the shape (trailing axes dropped), with some axes set to 1.
    const operand = () => shape.slice(0, rng.int(1, shape.length)).map((d) => (rng.next() < 0.3 ? 1 : d));
    let a = operand();
    const b = operand();
    if (rng.bool()) a = shape;
    const kind = rng.pick(["add", "mul"] as const);
    it(`random ${seed}: ${kind} [${a}] and [${b}]`, async () => {
      expect(await checkLayer([a, b], { kind }, seed)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("wasm concat", () => {
  const cases: number[][][] = [
    [[2, 3, 4], [3, 3, 4]],
    [[1, 5], [2, 5], [3, 5]],
    [[7], [2]],
    [[1, 2, 3, 4], [2, 2, 3, 4]],
    [[4, 4, 4]],
  ];
  cases.forEach((shapes, i) => {
    it(shapes.map((s) => `[${s}]`).join(" ++ "), async () => {
      expect(await checkLayer(shapes, { kind: "concat" }, 200 + i)).toBeLessThanOrEqual(TOLERANCE);
    });
  });
  it("with an epilogue", async () => {
    const epi = [{ kind: "activation", fn: "sigmoid", alpha: 0 }] as const;
    expect(await checkLayer([[2, 3, 3], [1, 3, 3]], { kind: "concat" }, 9, epi)).toBeLessThanOrEqual(TOLERANCE);
  });
  for (let seed = 1; seed <= 12; seed++) {
    const rng = new Rng(1400 + seed);
    const spatial = Array.from({ length: rng.int(0, 3) }, () => rng.int(1, 5));
    const shapes = Array.from({ length: rng.int(1, 4) }, () => [rng.int(1, 4), ...spatial]);
    it(`random ${seed}: ${shapes.map((s) => `[${s}]`).join(" ++ ")}`, async () => {
      expect(await checkLayer(shapes, { kind: "concat" }, seed)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
