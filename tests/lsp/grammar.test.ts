// The TextMate grammar (editors/vscode/syntaxes/cnn.tmLanguage.json), checked against the
// language's own definitions: every regex compiles as JavaScript and avoids Oniguruma-only
// syntax (so both VS Code's engine and JS-based highlighters read it alike); every token the
// lexer defines (dsl/tokens.ts), every op (compiler/lower/builtins.ts) and every named kernel
// is highlighted by a rule of the right kind, tokenized by a small TextMate engine
// (./textmate.ts) line by line as an editor does.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { TokenType } from "chevrotain";
import { describe, expect, it } from "vitest";
import { allTokens } from "../../dsl/tokens.js";
import { BUILTINS } from "../../compiler/lower/builtins.js";
import { NAMED_KERNELS } from "../../compiler/tensors/kernels.js";
import { allRules, type Grammar, type Token, tokenize } from "./textmate.js";

const root = path.resolve(__dirname, "../..");
const grammarFile = path.join(root, "editors/vscode/syntaxes/cnn.tmLanguage.json");
const grammar = JSON.parse(readFileSync(grammarFile, "utf8")) as Grammar;

/** The innermost scope on the first token whose text is `text` (on any line). */
function scopeOf(source: string, text: string): string {
  const t = tokenize(grammar, source)
    .flat()
    .find((x: Token) => x.text === text);
  if (!t) throw new Error(`no token '${text}' in ${JSON.stringify(source)}: ${JSON.stringify(tokenize(grammar, source))}`);
  return t.scopes[t.scopes.length - 1];
}

/** Text the lexer's regex tokens match, and the scope each must get. */
const SAMPLES: Record<string, { source: string; text: string; scope: RegExp }[]> = {
  WhiteSpace: [],
  Identifier: [{ source: "y = x_1 |> relu", text: "x_1", scope: /^variable\.other/ }],
  LineComment: [{ source: "y = x // a note |> relu", text: "// a note |> relu", scope: /^comment\.line/ }],
  BlockComment: [{ source: "y = /* a |> b */ x", text: " a |> b ", scope: /^comment\.block/ }],
  UnterminatedComment: [{ source: "y = x /* to the end\nof the file |> relu", text: "of the file |> relu", scope: /^comment\.block/ }],
  StringLiteral: [
    { source: 'weights "w.safetensors"', text: "w.safetensors", scope: /^string\.quoted/ },
    { source: 'weights "a\\"b"', text: '\\"', scope: /^constant\.character\.escape/ },
    { source: 'weights "a\\qb"', text: "\\q", scope: /^invalid\.illegal/ },
  ],
  UnterminatedString: [{ source: 'weights "w.safetensors\ny = x', text: "y", scope: /^variable\.other\.definition/ }],
  SizeLiteral: [
    { source: "conv(6, 5x5)", text: "5x5", scope: /^constant\.numeric\.size/ },
    { source: "conv(6, 3x3x3)", text: "3x3x3", scope: /^constant\.numeric\.size/ },
  ],
  NumberLiteral: ["6", "0.5", ".5", "1e-3", "2.5E+4", "3."].map((n) => ({ source: `leaky_relu(${n})`, text: n, scope: /^constant\.numeric\.cnn$/ })),
};

describe("the TextMate grammar", () => {
  it("is JSON with the language's scope, and every include resolves", () => {
    expect(grammar.scopeName).toBe("source.cnn");
    for (const r of allRules(grammar)) {
      if (r.include) expect(Object.keys(grammar.repository)).toContain(r.include.replace(/^#/, ""));
    }
  });

  it("has only regexes JavaScript compiles, without Oniguruma-only syntax", () => {
    const sources = allRules(grammar).flatMap((r) => [r.match, r.begin, r.end].filter((s): s is string => s !== undefined));
    expect(sources.length).toBeGreaterThan(20);
    for (const s of sources) {
      expect(() => new RegExp(s, "d"), s).not.toThrow();
      // \h \A \Z \G, inline flags, possessive quantifiers and atomic groups are Oniguruma's alone.
      expect(s, s).not.toMatch(/\\[hAZGzK]|\(\?[imx]+[):]|[*+?}]\+|\(\?>/);
    }
  });

  it("highlights every token the lexer defines", () => {
    for (const t of allTokens as TokenType[]) {
      const pattern = t.PATTERN;
      if (t.name === "Unknown") continue; // never made by the lexer: no pattern
      if (typeof pattern === "string") {
        const scope = scopeOf(/^[a-z]+$/.test(pattern) ? `${pattern}` : `a ${pattern} b`, pattern);
        expect(scope, `${t.name} '${pattern}'`).not.toBe("source.cnn");
        expect(scope, `${t.name} '${pattern}'`).not.toMatch(/^variable|invalid/);
        continue;
      }
      const samples = SAMPLES[t.name];
      expect(samples, `no sample for the lexer's token ${t.name}: add one to SAMPLES`).toBeDefined();
      for (const s of samples) expect(scopeOf(s.source, s.text), `${t.name}: ${s.source}`).toMatch(s.scope);
    }
  });

  it("highlights every op and named kernel, as whole words only", () => {
    const ops = Object.keys(BUILTINS);
    expect(ops.length).toBeGreaterThan(30);
    for (const op of ops) {
      expect(scopeOf(`y = x |> ${op}`, op), op).toMatch(/^support\.function\.(layer|activation)\.cnn$/);
      expect(scopeOf(`y = x |> ${op}_x1`, `${op}_x1`), op).toMatch(/^variable\.other/);
    }
    for (const k of NAMED_KERNELS) expect(scopeOf(`y = x |> conv(1, 3x3, weight: ${k})`, k), k).toBe("support.function.kernel.cnn");
  });

  it("tells labels from named arguments and inputs, across lines too", () => {
    const lenet = readFileSync(path.join(root, "examples/lenet.cnn"), "utf8");
    expect(scopeOf(lenet, "conv1")).toBe("entity.name.label.cnn");
    expect(scopeOf(lenet, "fc3")).toBe("entity.name.label.cnn"); // on a continued line after `|>`
    expect(scopeOf(lenet, "pad")).toBe("variable.parameter.cnn");
    expect(scopeOf(lenet, "image")).toBe("variable.parameter.cnn");
    expect(scopeOf(lenet, "lenet")).toBe("entity.name.function.cnn");
    expect(scopeOf(lenet, "c1")).toBe("variable.other.definition.cnn");
    expect(scopeOf(lenet, "same")).toBe("support.constant.cnn");
    expect(scopeOf(lenet, "f32")).toBe("storage.type.tensor.cnn");
    const multiline = "y = x |> conv(6, 5x5,\n    pad: same,\n    init: he(seed: 1))";
    expect(scopeOf(multiline, "pad")).toBe("variable.parameter.cnn");
    expect(scopeOf(multiline, "he")).toBe("support.function.initialiser.cnn");
  });

  it("finds nothing invalid in the examples", () => {
    for (const f of readdirSync(path.join(root, "examples")).filter((n) => n.endsWith(".cnn"))) {
      const text = readFileSync(path.join(root, "examples", f), "utf8");
      const bad = tokenize(grammar, text)
        .flat()
        .filter((t) => t.scopes.some((s) => s.startsWith("invalid")));
      expect(bad, f).toEqual([]);
    }
  });
});

describe("the VS Code extension folder", () => {
  const dir = path.join(root, "editors/vscode");
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
    main: string;
    engines: { vscode: string };
    dependencies: Record<string, string>;
    contributes: { languages: { id: string; extensions: string[]; configuration: string }[]; grammars: { language: string; scopeName: string; path: string }[] };
  };

  it("names files that exist, the grammar's scope, and an exact client version in its own lock", () => {
    expect(existsSync(path.join(dir, manifest.main))).toBe(true);
    const [language] = manifest.contributes.languages;
    expect(language.extensions).toEqual([".cnn"]);
    const config = JSON.parse(readFileSync(path.join(dir, language.configuration), "utf8")) as { comments: { lineComment: string; blockComment: string[] } };
    expect(config.comments).toEqual({ lineComment: "//", blockComment: ["/*", "*/"] });
    const [g] = manifest.contributes.grammars;
    expect(g.language).toBe(language.id);
    expect(g.scopeName).toBe(grammar.scopeName);
    expect(path.resolve(dir, g.path)).toBe(grammarFile);
    expect(manifest.dependencies["vscode-languageclient"]).toMatch(/^\d+\.\d+\.\d+$/);
    const lock = JSON.parse(readFileSync(path.join(dir, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; hasInstallScript?: boolean }> };
    expect(lock.packages["node_modules/vscode-languageclient"].version).toBe(manifest.dependencies["vscode-languageclient"]);
    expect(Object.values(lock.packages).some((p) => p.hasInstallScript)).toBe(false);
    // The client is the extension's, not cnnc's.
    const rootPkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(rootPkg.dependencies["vscode-languageclient"]).toBeUndefined();
  });
});

describe("the grammar on a train declaration", () => {
  it("marks settings, losses and optimisers (docs/training.md's example)", () => {
    const doc = readFileSync(path.join(root, "docs/training.md"), "utf8");
    const example = /```cnn\n([\s\S]*?)```/.exec(doc)![1];
    expect(scopeOf(example, "loss")).toBe("variable.other.property.cnn");
    expect(scopeOf(example, "cross_entropy")).toBe("support.function.training.cnn");
    expect(scopeOf(example, "sgd")).toBe("support.function.training.cnn");
    expect(scopeOf(example, "momentum")).toBe("variable.parameter.cnn");
    expect(scopeOf(example, "cosine")).toBe("support.function.training.cnn");
    // Outside a train declaration these are names like any other.
    expect(scopeOf("step = x |> relu", "step")).toBe("variable.other.definition.cnn");
  });
});
