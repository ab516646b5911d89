// The symbol index behind hover and go to definition (compiler/lsp/symbols.ts), in process:
// every name of a program resolves to the definition the language's scoping gives it.
import { describe, expect, it } from "vitest";
import { parse } from "../../dsl/parse.js";
import { DiagnosticLog } from "../../compiler/diagnostics.js";
import { SourceFile } from "../../compiler/source.js";
import { printShape } from "../../compiler/ir/dim.js";
import { analyseText } from "../../compiler/lsp/analysis.js";
import { hoverText } from "../../compiler/lsp/hover.js";
import { indexSymbols, occurrenceAt } from "../../compiler/lsp/symbols.js";

const TEXT = `block twice(x, c) {
  h = x |> conv(c, 3x3, pad: same) |> relu
  return h |> conv(c, 3x3, pad: same)
}
network n(image: f32[1, 28, 28]) -> probs {
  e = image |> sobel: conv(2, 3x3) |> relu
  r = repeat 2 from e as prev { prev |> twice(2) }
  probs = r + e |> flatten |> fc: dense(10) |> softmax
}
train n {
  frozen = sobel
  loss = cross_entropy(probs)
}
`;

/** The definition (text@offset) of the name `name` ending `what` (its `nth` occurrence). */
function definitionOf(what: string, name = what, nth = 0): string | undefined {
  const log = new DiagnosticLog();
  const program = parse(new SourceFile("t.cnn", TEXT), log);
  expect(log.items).toEqual([]);
  const index = indexSymbols(program);
  let at = -1;
  for (let i = 0; i <= nth; i++) at = TEXT.indexOf(what, at + 1);
  const d = occurrenceAt(index, at + what.lastIndexOf(name))?.definition;
  return d ? `${TEXT.slice(d.span.start, d.span.end)}@${d.span.start}` : undefined;
}

const defAt = (needle: string, name: string) => `${name}@${TEXT.indexOf(needle) + needle.indexOf(name)}`;

describe("the symbol index", () => {
  it("resolves values, labels, blocks, parameters, repeat steps, outputs and train settings", () => {
    expect(definitionOf("h |> conv", "h")).toBe(defAt("h = x", "h"));
    expect(definitionOf("x |> conv", "x")).toBe(defAt("twice(x, c)", "x"));
    expect(definitionOf("(c,", "c")).toBe(defAt(", c)", "c"));
    expect(definitionOf("prev |> twice", "prev")).toBe(defAt("as prev", "prev"));
    expect(definitionOf("twice(2)", "twice")).toBe(defAt("block twice", "twice"));
    expect(definitionOf("r + e", "e")).toBe(defAt("e = image", "e"));
    expect(definitionOf("-> probs", "probs")).toBe(defAt("probs = r", "probs"));
    expect(definitionOf("train n", "n")).toBe(defAt("n(image", "n"));
    expect(definitionOf("frozen = sobel", "sobel")).toBe(defAt("sobel: conv", "sobel"));
    expect(definitionOf("cross_entropy(probs)", "probs")).toBe(defAt("probs = r", "probs"));
    // Built-in ops, bare words and settings' names have no definition in the file.
    expect(definitionOf("relu")).toBeUndefined();
    expect(definitionOf("same")).toBeUndefined();
    expect(definitionOf("frozen")).toBeUndefined();
  });

  it("hovers a repeat's value as its last step's, and a block's use as the statement's value", () => {
    const a = analyseText(TEXT, "t.cnn");
    expect(a.diagnostics).toEqual([]);
    const g = a.graphs[0];
    // `r`: the repeat's last step ends in the block's last conv; `e` is the sobel stage's relu.
    const last = g.nodes.filter((n) => n.layer.startsWith("r.")).at(-1)!;
    expect(hoverText(a, TEXT.indexOf("r + e"))!.markdown).toContain(`layer \`${last.layer}\``);
    expect(hoverText(a, TEXT.indexOf("r + e"))!.markdown).toContain(`f32${printShape(g.values[last.output].shape)}`);
    expect(hoverText(a, TEXT.indexOf("prev |>"))!.markdown).toContain("layer `e.1`");
  });
});
