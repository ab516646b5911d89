// parse(file, log) -> Program: lex, parse with error recovery, build the AST. Every lexical
// and syntax error in the file goes to the log, in source order, each at the span of the
// token it is about (errors at the end of the file point just after its last character).
// The function never throws: on a broken file it returns whatever parts could be built,
// and the caller checks `log.hasErrors` before using them.
//
// One mistake should give one message. A bad character or an unterminated string is a
// token the parser cannot use, so the parser also trips on it: the lexical message is kept
// and the parser's dropped. Everything after an unterminated comment is comment, so no
// parser error past its start is reported; and two parser errors at one token are one.

import type { ILexingResult, IToken } from "chevrotain";
import { createTokenInstance, EOF } from "./chevrotain.js";
import type { DiagnosticLog } from "../compiler/diagnostics.js";
import type { SourceFile, Span } from "../compiler/source.js";
import type { Program } from "./ast.js";
import { astBuilder } from "./build-ast.js";
import { parser } from "./parser.js";
import { LBrace, LBracket, lexer, LParen, Minus, RBrace, RBracket, RParen, StringLiteral, Unknown, UnterminatedString } from "./tokens.js";

/** A lexical or syntax error before it goes to the log (they are sorted first). */
interface Problem {
  readonly message: string;
  readonly span: Span;
}

/** `'@'`, or `U+0007` for a character a terminal would not show. */
function showCharacters(text: string): string {
  return /[\p{Cc}\p{Cf}\p{Z}]/u.test(text)
    ? [...text].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`).join(" ")
    : `'${text}'`;
}

/** The lexer's findings, and the source ranges in which the parser's own errors are noise. */
function lexicalErrors(text: string, lexed: ILexingResult) {
  const errors: Problem[] = [];
  const quiet: Span[] = [];
  // The lexer reports each run of unmatchable characters once (`@@`, an emoji's two halves).
  for (const e of lexed.errors) {
    const span = { start: e.offset, end: e.offset + e.length };
    const chars = text.slice(span.start, span.end);
    errors.push({ message: `unexpected character${[...chars].length > 1 ? "s" : ""} ${showCharacters(chars)}`, span });
    quiet.push(span);
  }
  for (const t of lexed.tokens) {
    const span = tokenSpan(t);
    if (t.tokenType === UnterminatedString) {
      errors.push({ message: "unterminated string", span });
      quiet.push(span);
    } else if (t.tokenType === StringLiteral) {
      for (const m of t.image.matchAll(/\\(.)/gu)) {
        if (!`n"\\`.includes(m[1])) {
          const start = t.startOffset + m.index;
          errors.push({ message: `unknown escape '\\${m[1]}' in string`, span: { start, end: start + m[0].length } });
        }
      }
    }
  }
  for (const c of lexed.groups.unterminated ?? []) {
    errors.push({ message: "unterminated block comment", span: { start: c.startOffset, end: c.startOffset + 2 } });
    quiet.push({ start: c.startOffset, end: Infinity });
  }
  return { errors, quiet };
}

/** Deeper than any real network nests (a 4-D weight literal in a call is 6 levels), and far
 * from where the recursive-descent parser exhausts the stack: recovering from ~80 unclosed
 * `f(` does, because recovery walks the grammar along the whole rule stack. */
const MAX_NESTING = 32;

/** The first bracket (or `-`) that opens a level beyond MAX_NESTING, if any. */
function tooDeep(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  let minuses = 0;
  for (const t of tokens) {
    const type = t.tokenType;
    minuses = type === Minus ? minuses + 1 : 0;
    if (type === LParen || type === LBracket || type === LBrace) depth++;
    else if (type === RParen || type === RBracket || type === RBrace) depth = Math.max(0, depth - 1);
    if (depth + minuses > MAX_NESTING) return t;
  }
  return undefined;
}

/** The token stream with an Unknown token where each run of bad characters was. */
function withUnknowns(text: string, lexed: ILexingResult): IToken[] {
  if (lexed.errors.length === 0) return lexed.tokens;
  const unknowns = lexed.errors.map((e) =>
    createTokenInstance(Unknown, text.slice(e.offset, e.offset + e.length), e.offset, e.offset + e.length - 1, e.line ?? NaN, e.line ?? NaN, e.column ?? NaN, NaN),
  );
  return [...lexed.tokens, ...unknowns].sort((a, b) => a.startOffset - b.startOffset);
}

export function parse(file: SourceFile, log: DiagnosticLog): Program {
  const errors: Problem[] = [];
  let program: Program = { items: [], span: { start: 0, end: file.text.length } };
  try {
    program = parseText(file.text, errors) ?? program;
  } catch (e) {
    // A bug here must not become the user's crash: report it as what it is. (A stack
    // overflow should be impossible below MAX_NESTING, but a caller may already be deep.)
    const message = e instanceof RangeError ? "nested too deeply to parse" : `internal error in the parser: ${e instanceof Error ? e.message : String(e)}`;
    errors.push({ message, span: { start: 0, end: 0 } });
  }
  errors.sort((a, b) => a.span.start - b.span.start);
  for (const e of errors) log.error(e.message, file, e.span);
  return program;
}

function tokenSpan(t: IToken): Span {
  return { start: t.startOffset, end: t.startOffset + t.image.length };
}

/** Appends the file's syntax errors, in any order; returns the AST unless nesting forbade parsing. */
function parseText(text: string, errors: Problem[]): Program | undefined {
  const lexed = lexer.tokenize(text);
  const lexical = lexicalErrors(text, lexed);
  errors.push(...lexical.errors);
  const tokens = withUnknowns(text, lexed);
  const deep = tooDeep(tokens);
  if (deep) {
    errors.push({ message: `nested too deeply (more than ${MAX_NESTING} levels)`, span: tokenSpan(deep) });
    return undefined;
  }

  parser.input = tokens;
  const cst = parser.program();
  const endOfFile = text.trimEnd().length;
  const seen = new Set<number>();
  for (const e of parser.errors) {
    const t = e.token;
    const span = t.tokenType === EOF || !Number.isFinite(t.startOffset) ? { start: endOfFile, end: endOfFile } : tokenSpan(t);
    if (seen.has(span.start) || lexical.quiet.some((q) => q.start <= span.start && span.start < q.end)) continue;
    seen.add(span.start);
    errors.push({ message: e.message, span });
  }
  return astBuilder.build(cst, text.length);
}
