// chevrotain's checks of the grammar and the token patterns, which the parser and lexer that
// cnnc runs skip to start faster (dsl/parser.ts, dsl/tokens.ts): whoever edits the grammar
// learns of an ambiguity or a bad pattern here.
import { Lexer } from "../../dsl/chevrotain.js";
import { describe, expect, it } from "vitest";
import { CnnParser } from "../../dsl/parser.js";
import { LEXER_CONFIG, lexerTokens } from "../../dsl/tokens.js";

describe("the grammar, validated", () => {
  it("builds with chevrotain's validations on", () => {
    expect(() => new CnnParser(true)).not.toThrow();
    const lexer = new Lexer(lexerTokens, { ...LEXER_CONFIG, skipValidations: false });
    expect(lexer.lexerDefinitionErrors).toEqual([]);
  });
});
