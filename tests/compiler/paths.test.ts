// The compiler's own POSIX path arithmetic (compiler/paths.ts, used where node:path is not:
// the browser entry) against node:path.posix, the oracle; and the browser-side analyse, which
// reads a model's weights file only through the caller's readFile, from the model's folder.

import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/analyse.js";
import { dirname, isAbsolute, join, normalize } from "../../compiler/paths.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";

const CASES = ["a/b.cnn", "b.cnn", "/b.cnn", "/", ".", "..", "a/./b/../c", "a/../../x", "../a", "a//b/", "./a", "/a/../..", "a/b/c/../../..", "x/..", "a/../b/./c/.."];

describe("paths.ts equals node:path.posix", () => {
  for (const p of CASES) {
    it(JSON.stringify(p), () => {
      expect(normalize(p)).toBe(path.posix.normalize(p).replace(/(.)\/$/, "$1"));
      expect(normalize(dirname(p))).toBe(path.posix.normalize(path.posix.dirname(p)).replace(/(.)\/$/, "$1"));
      expect(isAbsolute(p)).toBe(path.posix.isAbsolute(p));
      expect(join("models", p)).toBe(path.posix.join("models", p).replace(/(.)\/$/, "$1"));
    });
  }
});

describe("analyse without a file system", () => {
  const model = (p: string) => `network n(x: f32[1, 4, 4]) -> y {\n  weights "${p}"\n  y = x |> c: conv(1, 3x3)\n}\n`;
  const weights = writeSafetensors(new Map([["c.weight", { shape: [1, 1, 3, 3], data: new Float32Array(9).fill(0.5) }], ["c.bias", { shape: [1], data: new Float32Array([1]) }]]));
  const messages = (a: ReturnType<typeof analyse>) => a.log.items.map((d) => d.message);

  it("reads a model's weights file through readFile, beside the model", () => {
    const asked: string[] = [];
    const a = analyse(model("w/./c.safetensors"), { fileName: "models/net.cnn", readFile: (p) => (asked.push(p), weights) });
    expect(messages(a)).toEqual([]);
    expect(asked).toEqual(["models/w/c.safetensors"]);
    expect(Array.from(a.graph!.nodes[0].weights.weight!.data)).toEqual(new Array(9).fill(0.5));
  });

  it("refuses a path out of the model's folder without asking readFile", () => {
    const asked: string[] = [];
    for (const p of ["../x.safetensors", "a/../../x.safetensors", "/etc/passwd"]) {
      const a = analyse(model(p), { fileName: "models/net.cnn", readFile: (q) => (asked.push(q), weights) });
      expect(messages(a)).toEqual([`weights file ${p} is outside the model's folder; a model reads weights only from its own folder (give others with --weights)`]);
    }
    expect(asked).toEqual([]);
  });

  it("says it has no file access when no readFile is given", () => {
    expect(messages(analyse(model("c.safetensors"), { fileName: "net.cnn" }))).toEqual([
      "cannot read weights file c.safetensors: this compiler has no file access (pass the weights' bytes, or a readFile option)",
    ]);
  });
});
