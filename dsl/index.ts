// The syntax layer's public face: parse a SourceFile into the AST (reusable by editors and
// tools that need no compiler).
export { parse } from "./parse.js";
export type * from "./ast.js";
