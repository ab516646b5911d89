// `cnnc explain`'s table: every example fits 100 columns, names every kernel with its fused
// layers and receptive field, and wraps long symbolic sizes at their natural breaks.

import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { compactField, explain, wrapCell } from "../../compiler/explain.js";
import { optimise } from "../../compiler/optimise.js";
import { receptiveFields } from "../../compiler/receptive-field.js";

const EXAMPLES = path.join(import.meta.dirname, "../../examples");

describe("explain", () => {
  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith(".cnn"))) {
    it(`${file}: fits 100 columns, every kernel and field shown`, () => {
      const o = optimise(readFileSync(path.join(EXAMPLES, file), "utf8"), { fileName: file });
      if (!o.ok) throw new Error(`${file} does not compile`);
      const text = explain(o.graph, o.source, o.plan);
      const lines = text.split("\n");
      for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(100);
      const fields = receptiveFields(o.graph);
      for (const n of o.graph.nodes) {
        // The kernel's row starts with its layer; its field is on that row.
        const row = lines.find((l) => l.startsWith(`${n.layer} `) && l.includes(compactField(fields[n.output])));
        expect(row, `${n.layer} ${compactField(fields[n.output])}`).toBeDefined();
        for (const f of n.fused ?? []) expect(lines.some((l) => l === `+ ${f}` || l.startsWith(`+ ${f} `)), f).toBe(true);
      }
    });
  }

  it("wraps outside brackets first, continuations indented", () => {
    expect(wrapCell("[16, floor(H / 2), floor(W / 2)]", 20)).toEqual(["[16, floor(H / 2),", " floor(W / 2)]"]);
    expect(wrapCell("64*floor(H / 2)*floor(W / 2)", 16)).toEqual(["64*floor(H / 2)", " *floor(W / 2)"]);
    expect(wrapCell("  |> maxpool2d(2x2, stride 2x2)", 24)).toEqual(["  |> maxpool2d(2x2,", "      stride 2x2)"]);
    expect(wrapCell("short", 10)).toEqual(["short"]);
  });
});
