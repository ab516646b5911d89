// The wording of syntax errors. Chevrotain's defaults name grammar rules and token types
// ("Expecting token of type --> RParen <--"); users wrote `)`, so messages quote what they
// wrote and say what was expected in their terms: short, lowercase, one line.
//
//   expected ')' but found 'foo'
//   expected an expression but found '|>'
//   unexpected end of file: expected '}'

import type { IParserErrorMessageProvider, IToken, TokenType } from "chevrotain";
import { EOF } from "./chevrotain.js";
import { RBrace, Return } from "./tokens.js";

/** What a rule stands for when none of its alternatives fits the next token. */
const RULE_WANTS: Record<string, string> = {
  expression: "an expression",
  sum: "an expression",
  product: "an expression",
  unary: "an expression",
  primary: "an expression",
  stage: "an op or a layer after '|>'",
  arg: "an argument",
  dim: "a size or a name",
  outputs: "an output name or '('",
  // `train` declarations are left out: a stray token at the top is most likely a network's.
  program: "'network' or 'block'",
};

/** How the user would write (or describe) a token type. */
export function describeTokenType(t: TokenType): string {
  if (t === EOF) return "end of file";
  return t.LABEL ?? `'${t.name}'`;
}

/** The offending token as written; long images (a string literal) are cut short. */
export function quoteToken(t: IToken): string {
  const image = t.image.length > 24 ? `${t.image.slice(0, 20)}...` : t.image;
  return `'${image}'`;
}

function found(wanted: string, actual: IToken): string {
  if (actual.tokenType === EOF) return `unexpected end of file: expected ${wanted}`;
  return `expected ${wanted} but found ${quoteToken(actual)}`;
}

function alternatives(types: readonly TokenType[]): string {
  const names = [...new Set(types.map(describeTokenType))];
  if (names.length <= 2) return names.join(" or ");
  return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

/** The token that ends a statement list, in the rules whose list is followed by a token (in
 * `repeat` the result expression follows the list). */
const END_OF_BODY: Record<string, TokenType> = { network: RBrace, block: Return };

export const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    // Only the outermost repetition expects end of file: a top-level stray token.
    if (expected === EOF) return found("'network' or 'block'", actual);
    // A statement list that stops early: what follows is neither a statement nor the end.
    // (A block closed without `return` is simply missing its `return`.)
    if (END_OF_BODY[ruleName] === expected && actual.tokenType !== EOF && actual.tokenType !== RBrace) {
      return found(`a statement or ${describeTokenType(expected)}`, actual);
    }
    return found(describeTokenType(expected), actual);
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return found("'network' or 'block'", firstRedundant);
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const wanted = RULE_WANTS[ruleName] ?? alternatives(expectedPathsPerAlt.flatMap((alt) => alt.map((path) => path[0])));
    return found(wanted, actual[0]);
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const wanted = RULE_WANTS[ruleName] ?? alternatives(expectedIterationPaths.map((path) => path[0]));
    return found(wanted, actual[0]);
  },
};
