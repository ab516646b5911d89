// Symbolic sizes: the normal form must mean the same as the expression it came from.
import { describe, expect, it } from "vitest";
import * as D from "../../compiler/ir/dim.js";
import type { Dim } from "../../compiler/ir/dim.js";
import { Random } from "../../compiler/tensors/random.js";

function randomPair(r: Random, depth: number): { raw: Dim; built: Dim } {
  if (depth === 0 || r.uniform() < 0.25) {
    if (r.uniform() < 0.5) {
      const v = 1 + Math.floor(r.uniform() * 5);
      return { raw: v, built: v };
    }
    const s = r.uniform() < 0.5 ? "H" : "W";
    return { raw: { op: "sym", name: s }, built: D.sym(s) };
  }
  const a = randomPair(r, depth - 1);
  const ops = ["add", "sub", "mul", "floordiv", "ceildiv"] as const;
  const op = ops[Math.floor(r.uniform() * ops.length)];
  if (op === "floordiv" || op === "ceildiv") {
    const b = 1 + Math.floor(r.uniform() * 4);
    return { raw: { op, a: a.raw, b }, built: D[op](a.built, b) };
  }
  const b = randomPair(r, depth - 1);
  return { raw: { op, a: a.raw, b: b.raw }, built: D[op](a.built, b.built) };
}

describe("symbolic sizes", () => {
  it("normalises without changing the value (500 random expressions)", () => {
    const r = new Random(7);
    for (let i = 0; i < 500; i++) {
      const { raw, built } = randomPair(r, 4);
      for (const env of [{ H: 1, W: 1 }, { H: 7, W: 13 }, { H: 64, W: 33 }]) {
        expect(D.evalDim(built, env) === D.evalDim(raw, env)).toBe(true);
      }
    }
  });

  it("prints canonical forms", () => {
    const H = D.sym("H");
    const W = D.sym("W");
    expect(D.printDim(D.sub(D.add(H, 2), 2))).toBe("H");
    expect(D.printDim(D.mul(D.mul(16, H), W))).toBe("16*H*W");
    expect(D.printDim(D.floordiv(D.floordiv(H, 2), 2))).toBe("floor(H / 4)");
    expect(D.printDim(D.floordiv(D.mul(4, H), 4))).toBe("H");
    expect(D.dimEquals(D.add(H, W), D.add(W, H))).toBe(true);
    expect(D.dimEquals(H, W)).toBe(false);
  });
});
