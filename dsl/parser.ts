// The grammar of .cnn files as a Chevrotain CstParser: one rule per property, no semantic
// actions (build-ast.ts turns the CST into the AST). Error recovery is on, so one pass
// reports every syntax error in a file and still yields a (partial) tree.
//
// Newlines are whitespace, so statements are found by two-token lookahead: `name =` or
// `weights` starts a statement. The same test keeps an expression from swallowing the next
// statement's target when its own operand is missing (`a = b +` then `c = ...`): the error
// is reported there and recovery resumes at `c = ...` instead of cascading.

import type { CstNode, ParserMethod, TokenType } from "chevrotain";
import { CstParser } from "./chevrotain.js";
import { errorMessages } from "./messages.js";
import * as T from "./tokens.js";

export class CnnParser extends CstParser {
  /**
   * `validate` runs chevrotain's checks of the grammar itself (ambiguities, left recursion):
   * for whoever edits it, so tests/dsl/grammar.test.ts turns them on; every other process
   * skips them, which saves about 20 ms of each start-up.
   */
  constructor(validate = false) {
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: "onlyOffset",
      errorMessageProvider: errorMessages,
      skipValidations: !validate,
    });
    this.performSelfAnalysis();
  }

  /** `name =`, `weights` or `const`: the start of a statement. */
  private atStatement(): boolean {
    const t = this.LA(1).tokenType;
    return t === T.Weights || t === T.Const || (t === T.Identifier && this.LA(2).tokenType === T.Equals);
  }

  // Recovery may insert a missing `)` or `->` but never a name or a number: those would
  // reach the AST as values the user did not write. Nor `return`: before a stray name in a
  // block it would turn that name into the block's result and the rest into more errors.
  protected override canTokenTypeBeInsertedInRecovery(tokType: TokenType): boolean {
    return tokType !== T.Return && !T.valueTokens.includes(tokType);
  }

  program: ParserMethod<[], CstNode> = this.RULE("program", () => {
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.network) },
        { ALT: () => this.SUBRULE(this.block) },
        { ALT: () => this.SUBRULE(this.train) },
      ]),
    );
  });

  // train network { setting = expr ... } (docs/training.md)
  train: ParserMethod<[], CstNode> = this.RULE("train", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LBrace);
    this.MANY({ GATE: () => this.atStatement(), DEF: () => this.SUBRULE(this.stmt) });
    this.CONSUME(T.RBrace);
  });

  // network name(params) -> outputs { stmts }
  network: ParserMethod<[], CstNode> = this.RULE("network", () => {
    this.CONSUME(T.Network);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.param);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.param);
      });
    });
    this.CONSUME(T.RParen);
    this.CONSUME(T.Arrow);
    this.SUBRULE(this.outputs);
    this.CONSUME(T.LBrace);
    this.MANY2({ GATE: () => this.atStatement(), DEF: () => this.SUBRULE(this.stmt) });
    this.CONSUME(T.RBrace);
  });

  // image: f32[1, 28, 28]
  param: ParserMethod<[], CstNode> = this.RULE("param", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
  });

  tensorType: ParserMethod<[], CstNode> = this.RULE("tensorType", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LBracket);
    this.SUBRULE(this.dim);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.dim);
    });
    this.CONSUME(T.RBracket);
  });

  dim: ParserMethod<[], CstNode> = this.RULE("dim", () => {
    this.OR([{ ALT: () => this.CONSUME(T.NumberLiteral) }, { ALT: () => this.CONSUME(T.Identifier) }]);
  });

  // -> y   or   -> (y, z)
  outputs: ParserMethod<[], CstNode> = this.RULE("outputs", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.CONSUME2(T.Identifier);
          this.MANY(() => {
            this.CONSUME(T.Comma);
            this.CONSUME3(T.Identifier);
          });
          this.CONSUME(T.RParen);
        },
      },
    ]);
  });

  // block name(x, c) { stmts return expr }
  block: ParserMethod<[], CstNode> = this.RULE("block", () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.CONSUME2(T.Identifier);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.CONSUME3(T.Identifier);
      });
    });
    this.CONSUME(T.RParen);
    this.CONSUME(T.LBrace);
    this.MANY2({ GATE: () => this.atStatement(), DEF: () => this.SUBRULE(this.stmt) });
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression);
    this.OPTION2(() => this.CONSUME(T.Semicolon));
    this.CONSUME(T.RBrace);
  });

  stmt: ParserMethod<[], CstNode> = this.RULE("stmt", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.assign) },
      { ALT: () => this.SUBRULE(this.weightsStmt) },
      { ALT: () => this.SUBRULE(this.constStmt) },
    ]);
    this.OPTION(() => this.CONSUME(T.Semicolon));
  });

  assign: ParserMethod<[], CstNode> = this.RULE("assign", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  weightsStmt: ParserMethod<[], CstNode> = this.RULE("weightsStmt", () => {
    this.CONSUME(T.Weights);
    this.CONSUME(T.StringLiteral);
  });

  // const k = f32[C, H, W] from "name"
  constStmt: ParserMethod<[], CstNode> = this.RULE("constStmt", () => {
    this.CONSUME(T.Const);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.tensorType);
    this.CONSUME(T.From);
    this.CONSUME(T.StringLiteral);
  });

  // Loosest: sum (|> stage)*
  expression: ParserMethod<[], CstNode> = this.RULE("expression", () => {
    this.SUBRULE(this.sum);
    this.MANY(() => {
      this.CONSUME(T.Pipe);
      this.SUBRULE(this.stage);
    });
  });

  // relu | maxpool(2x2) | conv1: conv(6, 5x5) | v   (the label is the first name when a `:` follows)
  // One gated alternative, so that `x |>` before the next statement is reported at that
  // statement as a missing stage, rather than taking its target as the stage.
  stage: ParserMethod<[], CstNode> = this.RULE("stage", () => {
    this.OR([
      {
        GATE: () => this.LA(2).tokenType !== T.Equals,
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => {
            this.CONSUME(T.Colon);
            this.CONSUME2(T.Identifier);
          });
          this.OPTION2(() => this.SUBRULE(this.callArgs));
        },
      },
    ]);
  });

  callArgs: ParserMethod<[], CstNode> = this.RULE("callArgs", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.arg);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.arg);
      });
    });
    this.CONSUME(T.RParen);
  });

  // pad: same | 6
  arg: ParserMethod<[], CstNode> = this.RULE("arg", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.CONSUME(T.Colon);
          this.SUBRULE(this.expression);
        },
      },
      { ALT: () => this.SUBRULE2(this.expression) },
    ]);
  });

  sum: ParserMethod<[], CstNode> = this.RULE("sum", () => {
    this.SUBRULE(this.product);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      this.SUBRULE2(this.product);
    });
  });

  product: ParserMethod<[], CstNode> = this.RULE("product", () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Star) }, { ALT: () => this.CONSUME(T.Slash) }]);
      this.SUBRULE2(this.unary);
    });
  });

  unary: ParserMethod<[], CstNode> = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  primary: ParserMethod<[], CstNode> = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.SizeLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
      { ALT: () => this.SUBRULE(this.repeat) },
      {
        // A name or a call, but not the target of the next statement.
        GATE: () => this.LA(2).tokenType !== T.Equals,
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => this.SUBRULE(this.callArgs));
        },
      },
    ]);
  });

  // [a, b, c,]   (a trailing comma is allowed: long literals are written one row per line)
  list: ParserMethod<[], CstNode> = this.RULE("list", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expression);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  parenthesized: ParserMethod<[], CstNode> = this.RULE("parenthesized", () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });

  // repeat N from y0 as prev { stmts result }
  repeat: ParserMethod<[], CstNode> = this.RULE("repeat", () => {
    this.CONSUME(T.Repeat);
    this.SUBRULE(this.expression);
    this.CONSUME(T.From);
    this.SUBRULE2(this.expression);
    this.CONSUME(T.As);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LBrace);
    this.MANY({ GATE: () => this.atStatement(), DEF: () => this.SUBRULE(this.stmt) });
    this.SUBRULE3(this.expression);
    this.OPTION(() => this.CONSUME(T.Semicolon));
    this.CONSUME(T.RBrace);
  });
}

/** One instance, reused: building a Chevrotain parser analyses the whole grammar. */
export const parser = new CnnParser();
