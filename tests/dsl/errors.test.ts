// Syntax errors: the exact text of each message and where it points (file:line:col), one
// message per mistake, and every mistake in a file reported in one pass.
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../compiler/diagnostics.js";
import { parseSource } from "./helpers.js";

const HEADER = "network n(x: f32[1, 4, 4]) -> y {";

/** A network whose body is the given lines (line 1 is the header, the body starts on line 2). */
function net(...lines: string[]): string {
  return [HEADER, ...lines, "}", ""].join("\n");
}

describe("syntax errors (exact text and place)", () => {
  const cases: [string, string, string[]][] = [
    ["a missing ')'", net("  y = x |> conv(4, 3x3"), ["t.cnn:3:1: error: expected ')' but found '}'"]],
    ["a missing '}' at the end of the file", `${HEADER}\n  y = x |> relu\n\n`, ["t.cnn:2:16: error: unexpected end of file: expected '}'"]],
    ["a stray '@'", net("  y = x @ |> relu"), ["t.cnn:2:9: error: unexpected character '@'"]],
    ["several stray characters in a row", net("  y = x |> relu @#"), ["t.cnn:2:17: error: unexpected characters '@#'"]],
    ["an invisible character", net("  y = x\u0007"), ["t.cnn:2:8: error: unexpected character U+0007"]],
    ["'|>' with nothing after it", net("  y = x |>"), ["t.cnn:3:1: error: expected an op or a layer after '|>' but found '}'"]],
    ["'|>' followed by the next statement", net("  a = x |>", "  y = a"), ["t.cnn:3:3: error: expected an op or a layer after '|>' but found 'y'"]],
    ["a missing '->' in the network header", "network n(x: f32[1, 4, 4]) y {\n  y = x\n}\n", ["t.cnn:1:28: error: expected '->' but found 'y'"]],
    ["an unterminated string", net('  weights "w.safetensors', "  y = x"), ["t.cnn:2:11: error: unterminated string"]],
    ["an unknown escape in a string", net('  weights "w\\q.safetensors"', "  y = x"), ["t.cnn:2:13: error: unknown escape '\\q' in string"]],
    ["an unterminated block comment", net("  y = x |> relu /* no end"), ["t.cnn:2:17: error: unterminated block comment"]],
    ["an operand missing before an operator", net("  y = x + * 2"), ["t.cnn:2:11: error: expected an expression but found '*'"]],
    ["an operand missing at the end of a line", net("  a = x +", "  y = a"), ["t.cnn:3:3: error: expected an expression but found 'y'"]],
    ["a missing '='", net("  a x |> relu", "  y = a"), ["t.cnn:2:3: error: expected a statement or '}' but found 'a'"]],
    ["a missing '|>' between stages", net("  y = x |> relu softmax"), ["t.cnn:2:17: error: expected a statement or '}' but found 'softmax'"]],
    ["an empty argument", net("  y = x |> conv(4,, 3x3)"), ["t.cnn:2:19: error: expected an argument but found ','"]],
    ["a named argument without a value", net("  y = x |> conv(4, 3x3, pad:)"), ["t.cnn:2:29: error: expected an expression but found ')'"]],
    ["a bad dimension", "network n(x: f32[1, -4]) -> y { y = x }", ["t.cnn:1:21: error: expected a size or a name but found '-'"]],
    ["a missing output", "network n(x: f32[1, 4]) -> { y = x }", ["t.cnn:1:28: error: expected an output name or '(' but found '{'"]],
    ["a block without return", "block b(x) {\n  y = x |> relu\n}\n", ["t.cnn:3:1: error: expected 'return' but found '}'"]],
    ["a stray name in a block", "block b(x) {\n  y = x\n  z y\n  return y\n}\n", ["t.cnn:3:3: error: expected a statement or 'return' but found 'z'"]],
    ["a repeat without a count", net("  y = repeat from x as p { p }"), ["t.cnn:2:14: error: expected an expression but found 'from'"]],
    ["something other than a declaration at the top", `y = x\n${net("  y = x")}`, ["t.cnn:1:1: error: expected 'network' or 'block' but found 'y'"]],
    ["a stray token after the last declaration", `${net("  y = x")})`, ["t.cnn:4:1: error: expected 'network' or 'block' but found ')'"]],
    ["brackets nested beyond reason", net(`  y = ${"(".repeat(40)}x${")".repeat(40)}`), ["t.cnn:2:38: error: nested too deeply (more than 32 levels)"]],
  ];
  for (const [name, src, expected] of cases) {
    it(name, () => {
      expect(parseSource(src).headlines).toEqual(expected);
    });
  }

  it("prints the source line and a caret under the offending token", () => {
    const { log } = parseSource(net("  y = x |> conv(4, 3x3 pad: same)"));
    expect(log.items.map(formatDiagnostic)).toEqual([["t.cnn:2:24: error: expected ')' but found 'pad'", "2 |   y = x |> conv(4, 3x3 pad: same)", "  |                        ^~~"].join("\n")]);
  });

  it("at the end of the file, points just after the last character", () => {
    const { log } = parseSource(`${HEADER}\n  y = x |> relu\n`);
    expect(log.items.map(formatDiagnostic)).toEqual([["t.cnn:2:16: error: unexpected end of file: expected '}'", "2 |   y = x |> relu", "  |                ^"].join("\n")]);
  });

  it("reports three independent mistakes in three statements, and nothing else", () => {
    const src = net("  a = x |> conv(4, 3x3 pad: same)", "  b = a + * 2", "  c = b |> |> relu", "  y = c");
    expect(parseSource(src).headlines).toEqual([
      "t.cnn:2:24: error: expected ')' but found 'pad'",
      "t.cnn:3:11: error: expected an expression but found '*'",
      "t.cnn:4:12: error: expected an op or a layer after '|>' but found '|>'",
    ]);
  });

  it("reports mistakes in every declaration, lexical and syntactic together, in source order", () => {
    const src = [
      "network a(x: f32[1, 4, 4] -> y {",
      "  y = x |> relu",
      "}",
      "block b(x) {",
      "  return x @ 2",
      "}",
      "network c(x: f32[1]) -> y {",
      '  weights "w.safetensors',
      "  y = x |> relu(",
      "}",
    ].join("\n");
    expect(parseSource(src).headlines).toEqual([
      "t.cnn:1:27: error: expected ')' but found '->'",
      "t.cnn:5:12: error: unexpected character '@'",
      "t.cnn:8:11: error: unterminated string",
      "t.cnn:10:1: error: expected ')' but found '}'",
    ]);
  });

  it("still returns the parts it could build", () => {
    const { program, log } = parseSource(`${net("  a = x |> relu", "  b = a + * 2", "  y = b")}block r(x) { return x }\n`);
    expect(log.hasErrors).toBe(true);
    expect(program.items.map((i) => i.name.name)).toEqual(["n", "r"]);
    const n = program.items[0];
    expect(n.kind === "network" && n.body.map((s) => (s.kind === "assign" ? s.target.name : "weights"))).toEqual(["a", "b", "y"]);
  });
});
