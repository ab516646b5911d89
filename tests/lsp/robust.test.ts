// The language server sees every half-typed state of a file: on seeded mutations of every
// example (a range deleted, a token's worth of text inserted, lines swapped), the analysis,
// hover and go to definition never throw, and every diagnostic's span lies inside the text.
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { analyseText } from "../../compiler/lsp/analysis.js";
import { definitionAt } from "../../compiler/lsp/definition.js";
import { hoverText } from "../../compiler/lsp/hover.js";
import { rng } from "../rng.js";

const root = path.resolve(__dirname, "../..");
const examples = readdirSync(path.join(root, "examples")).filter((f) => f.endsWith(".cnn"));
const INSERTS = ["|>", "x", "conv1", ":", "(", ")", "{", "}", "[", "]", "5x5", "\n", "relu", "+ ", "\"", "/*", "= ", "prev", "repeat 2 from x as p { p }", "-"];

function mutate(text: string, seed: number): string {
  const r = rng(seed);
  let t = text;
  for (let k = r.int(1, 3); k > 0; k--) {
    const at = r.int(0, t.length);
    const kind = r.int(0, 2);
    if (kind === 0) t = t.slice(0, at) + t.slice(Math.min(t.length, at + r.int(1, 12)));
    else if (kind === 1) t = t.slice(0, at) + r.pick(INSERTS) + t.slice(at);
    else {
      const lines = t.split("\n");
      const i = r.int(0, lines.length - 1);
      const j = r.int(0, lines.length - 1);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      t = lines.join("\n");
    }
  }
  return t;
}

describe("the language server on broken files", () => {
  it("never throws, and points inside the text", () => {
    let seed = 1;
    let withGraph = 0;
    for (const f of examples) {
      const text = readFileSync(path.join(root, "examples", f), "utf8");
      for (let m = 0; m < 12; m++) {
        const t = mutate(text, seed++);
        const a = analyseText(t, path.join(root, "examples", f));
        for (const d of a.diagnostics) {
          if (!d.span) continue;
          expect(d.span.start, `${f} seed ${seed - 1}: ${d.message}`).toBeLessThanOrEqual(t.length);
          expect(d.span.end).toBeLessThanOrEqual(t.length);
        }
        if (a.graphs.length) withGraph++;
        // Every word start and a few punctuation places.
        for (const w of t.matchAll(/[A-Za-z_]\w*|"|\|>/g)) {
          hoverText(a, w.index);
          if (a.symbols) definitionAt(a.symbols, w.index, path.join(root, "examples", f));
        }
      }
    }
    // Some mutations leave a file that still checks: hover on real graphs was exercised too.
    expect(withGraph).toBeGreaterThan(0);
  });
});
