// docs/language.md stays true: every ```cnn block in it is a whole program that compiles,
// runs on WebAssembly and equals the reference interpreter; a `// [C, H, W]` comment ending a
// line of a network-level statement is the shape the compiler infers for that name; and every
// ```cnn error block fails with exactly the diagnostics of the ```text block after it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { analyse, compile } from "../../compiler/index.js";
import { formatDiagnostics, headline } from "../../compiler/diagnostics.js";
import { evalDims, printShape } from "../../compiler/ir/dim.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";

interface Block {
  readonly info: string;
  readonly text: string;
  readonly line: number;
}

/** The fenced code blocks of a Markdown file, with their info strings and first lines. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    blocks.push({ info: open[1].trim(), text: `${body.join("\n")}\n`, line: start + 1 });
  }
  return blocks;
}

/** `name = ... // [a, b, c]` on one line: the names whose shapes the doc states. */
function statedShapes(source: string): Map<string, string> {
  const stated = new Map<string, string>();
  let pending: string | undefined;
  let depth = 0;
  for (const line of source.split("\n")) {
    // Only statements of the network's own body (depth 1), where an output may name them.
    const m = /^\s*([A-Za-z_]\w*)\s*=/.exec(line);
    if (m && depth === 1) pending = m[1];
    const shape = /\/\/\s*(\[[^\]]*\])\s*$/.exec(line);
    if (shape && pending) stated.set(pending, shape[1]);
    const code = line.replace(/\/\/.*$/, "");
    for (const ch of code) {
      if (ch === "{") depth++;
      else if (ch === "}") depth--;
    }
    if (depth === 0) pending = undefined;
  }
  return stated;
}

/** The source with the network's outputs replaced by `names`. */
function withOutputs(source: string, names: readonly string[]): string {
  return source.replace(/->\s*(\([^)]*\)|[A-Za-z_]\w*)\s*\{/, `-> (${names.join(", ")}) {`);
}

const doc = readFileSync("docs/language.md", "utf8");
const blocks = fencedBlocks(doc);
const programs = blocks.filter((b) => b.info === "cnn");
const failing = blocks.map((b, i) => ({ b, next: blocks[i + 1] })).filter(({ b }) => b.info === "cnn error");

describe("docs/language.md", () => {
  it("has programs to check", () => {
    expect(programs.length).toBeGreaterThan(20);
    expect(failing.length).toBeGreaterThan(2);
  });

  for (const p of programs) {
    it(`the program at line ${p.line} compiles, runs and has the stated shapes`, async () => {
      const r = compile(p.text, { fileName: "model.cnn" });
      if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics));
      expect(r.diagnostics.filter((d) => d.severity !== "note").map(headline)).toEqual([]);

      const stated = statedShapes(p.text);
      if (stated.size > 0) {
        const a = analyse(withOutputs(p.text, [...stated.keys()]), { fileName: "model.cnn" });
        if (!a.graph) throw new Error(formatDiagnostics(a.log.items));
        const g = a.graph;
        const got = Object.fromEntries(g.outputs.map((o) => [o.name, printShape(g.values[o.value].shape)]));
        expect(got).toEqual(Object.fromEntries(stated));
      }

      const env: Record<string, number> = Object.fromEntries(r.graph.symbols.map((s) => [s, 24]));
      const inputs = r.graph.inputs.map((io, i) => {
        const shape = evalDims(r.graph.values[io.value].shape, env);
        return { name: io.name, shape, data: initialise({ kind: "uniform", low: -1, high: 1, seed: 10 + i }, shape, 1, 1) };
      });
      const net = await r.load({ backend: "wasm" });
      const got = await net.run(Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, shape: t.shape }])));
      const ref = interpret(r.source, new Map(inputs.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data) }])));
      for (const [name, want] of ref) {
        expect(got[name].shape).toEqual([1, ...want.shape]);
        let diff = 0;
        let scale = 0;
        want.data.forEach((v, i) => {
          diff = Math.max(diff, Math.abs(v - got[name].data[i]));
          scale = Math.max(scale, Math.abs(v));
        });
        expect(diff / Math.max(scale, 1e-30)).toBeLessThan(1e-5);
      }
    });
  }

  for (const { b, next } of failing) {
    it(`the program at line ${b.line} fails with the diagnostics shown`, () => {
      const r = compile(b.text, { fileName: "model.cnn" });
      expect(r.ok).toBe(false);
      expect(next?.info).toBe("text");
      const want = (next?.text ?? "").trimEnd();
      const errors = r.diagnostics.filter((d) => d.severity === "error");
      // A text block with source lines shows the full diagnostics; otherwise the headlines.
      const shown = want.includes("\n  |") || /^\d+ \|/m.test(want) ? formatDiagnostics(errors) : errors.map(headline).join("\n");
      expect(shown).toBe(want);
    });
  }
});
