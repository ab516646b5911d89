// Compiler diagnostics as LSP diagnostics (compiler/lsp/diagnostics.ts), in process: the range
// is the span in 0-based lines and UTF-16 characters whatever the line endings, and the message
// is the CLI's with its notes.
import { TextDocument } from "vscode-languageserver-textdocument";
import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/analyse.js";
import { headline } from "../../compiler/diagnostics.js";
import { analyseText } from "../../compiler/lsp/analysis.js";
import { toLsp } from "../../compiler/lsp/diagnostics.js";

describe("LSP diagnostics", () => {
  it("point where the CLI points, with CRLF line ends, tabs and astral characters", () => {
    const text = "network n(x: f32[1, 8, 8]) -> y {\r\n\t/* 𝔁 */ y = x |> conv(4, 3x3)\r\n\ty = x |> relu\r\n}\r\n";
    const a = analyseText(text, "crlf.cnn");
    const doc = TextDocument.create("file:///crlf.cnn", "cnn", 1, text);
    const cli = analyse(text, { fileName: "crlf.cnn" }).log.items;
    expect(a.diagnostics).toEqual(cli);
    expect(cli.length).toBe(1);
    const d = toLsp(doc, cli[0]);
    // `crlf.cnn:3:2: error: 'y' is already bound; ...` and its note.
    const m = /^crlf\.cnn:(\d+):(\d+): error: /.exec(headline(cli[0]))!;
    expect(d.range.start).toEqual({ line: Number(m[1]) - 1, character: Number(m[2]) - 1 });
    expect(doc.getText(d.range)).toBe("y");
    expect(d.message).toBe([cli[0].message, ...(cli[0].notes ?? []).map((n) => `note: ${n}`)].join("\n"));
    expect(d.message).toContain("\nnote: first bound at 2:");
  });

  it("put a problem with no place at the start of the file", () => {
    const text = "network n(x: f32[1, 8, 8]) -> y {\n  weights \"../outside.safetensors\"\n  y = x\n}\n";
    const doc = TextDocument.create("file:///w.cnn", "cnn", 1, text);
    const a = analyseText(text, "/tmp/models/w.cnn");
    expect(a.diagnostics.length).toBe(1);
    expect(doc.getText(toLsp(doc, a.diagnostics[0]).range)).toBe('"../outside.safetensors"');
    const placeless = toLsp(doc, { severity: "error", message: "cannot read weights file w: ENOENT" });
    expect(placeless.range).toEqual({ start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
  });
});
