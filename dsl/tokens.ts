// The tokens of the .cnn language, as one ordered list (Chevrotain tries them in order, first
// match wins). Order matters in three places: keywords come before Identifier and point back
// to it with `longer_alt` (so `networks` is a name); SizeLiteral (`5x5`) comes before Number
// (else `5` would match and leave `x5` as a name); `->` comes before `-`.
//
// Lexical mistakes become tokens too: an unterminated string or comment is matched by a
// pattern of its own, and parse.ts turns each run of characters the lexer could not match
// into an Unknown token. Keeping them in the stream lets the parser recover around them like
// any other unexpected token, instead of tripping over whatever follows.

import type { TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });
export const BlockComment = createToken({
  name: "BlockComment",
  pattern: /\/\*[\s\S]*?\*\//,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
/** `/*` with no `*\/` after it: it runs to the end of the file. Kept out of the token stream. */
export const UnterminatedComment = createToken({
  name: "UnterminatedComment",
  pattern: /\/\*[\s\S]*/,
  group: "unterminated",
  line_breaks: true,
});

// Escapes are checked (and decoded) after lexing, so that `"a\q"` is one string with one
// precise error rather than a broken token.
export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/, label: "a string" });
/** A string that reaches the end of its line: reported, and seen by the parser as a bad token. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/,
  label: "a string",
});

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: "a name" });

function keyword(word: string): TokenType {
  return createToken({ name: word[0].toUpperCase() + word.slice(1), pattern: word, longer_alt: Identifier, label: `'${word}'` });
}

export const Network = keyword("network");
export const Block = keyword("block");
export const Return = keyword("return");
export const Repeat = keyword("repeat");
export const From = keyword("from");
export const As = keyword("as");
export const Weights = keyword("weights");
export const True = keyword("true");
export const False = keyword("false");
/** Starts a training declaration (docs/training.md): reserved like `network`. */
export const Train = keyword("train");
/** Starts a named constant tensor, `const k = f32[C, H, W] from "name"` (docs/language.md). */
export const Const = keyword("const");

export const SizeLiteral = createToken({ name: "SizeLiteral", pattern: /\d+(?:x\d+)+/, label: "a size" });
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/,
  label: "a number",
});

function punct(name: string, text: string): TokenType {
  return createToken({ name, pattern: text, label: `'${text}'` });
}

export const Pipe = punct("Pipe", "|>");
export const Arrow = punct("Arrow", "->");
export const Minus = punct("Minus", "-");
export const Plus = punct("Plus", "+");
export const Star = punct("Star", "*");
/** Division; after the comment tokens in the lexer's order, so `//` stays a comment. */
export const Slash = punct("Slash", "/");
export const Equals = punct("Equals", "=");
export const Colon = punct("Colon", ":");
export const Comma = punct("Comma", ",");
export const Semicolon = punct("Semicolon", ";");
export const LParen = punct("LParen", "(");
export const RParen = punct("RParen", ")");
export const LBracket = punct("LBracket", "[");
export const RBracket = punct("RBracket", "]");
export const LBrace = punct("LBrace", "{");
export const RBrace = punct("RBrace", "}");

/** Characters no token matches; made by parse.ts from the lexer's errors, never by the lexer
 * (a catch-all pattern would cost the lexer its first-character optimisation). */
export const Unknown = createToken({ name: "Unknown", pattern: Lexer.NA, label: "a character" });

export const lexerTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  StringLiteral,
  UnterminatedString,
  Network,
  Block,
  Return,
  Repeat,
  From,
  As,
  Weights,
  True,
  False,
  Train,
  Const,
  Identifier,
  SizeLiteral,
  NumberLiteral,
  Pipe,
  Arrow,
  Minus,
  Plus,
  Star,
  Slash,
  Equals,
  Colon,
  Comma,
  Semicolon,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
];

/** The parser's vocabulary: everything the lexer makes, and Unknown. */
export const allTokens: TokenType[] = [...lexerTokens, Unknown];

/** Tokens that carry a value: recovery must never invent one (the AST would get a fake name or number). */
export const valueTokens: readonly TokenType[] = [Identifier, NumberLiteral, SizeLiteral, StringLiteral];

// Full position tracking: the parser derives each CST node's extent from its tokens' end offsets.
// The token patterns' own validation (chevrotain's, for whoever edits this file) is skipped:
// it costs every process about 15 ms at start-up, and tests/dsl/grammar.test.ts builds the
// lexer with it on.
export const LEXER_CONFIG = { positionTracking: "full", ensureOptimizations: true } as const;
export const lexer = new Lexer(lexerTokens, { ...LEXER_CONFIG, skipValidations: true });
