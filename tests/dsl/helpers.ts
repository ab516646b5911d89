// Shared helpers for the parser tests: parse a source string, print the AST compactly (so
// expected shapes read like the source with explicit grouping), and check spans.
import { headline } from "../../compiler/diagnostics.js";
import { DiagnosticLog } from "../../compiler/diagnostics.js";
import { SourceFile, type Span } from "../../compiler/source.js";
import type { Arg, BlockDecl, Expr, NetworkDecl, Program, Stmt } from "../../dsl/index.js";
import { parse } from "../../dsl/index.js";

export function parseSource(text: string, name = "t.cnn"): { program: Program; log: DiagnosticLog; file: SourceFile; headlines: string[] } {
  const file = new SourceFile(name, text);
  const log = new DiagnosticLog();
  const program = parse(file, log);
  return { program, log, file, headlines: log.items.map(headline) };
}

/** Parses a file that must be free of errors. */
export function parseOk(text: string): Program {
  const r = parseSource(text);
  if (r.headlines.length > 0) throw new Error(`unexpected diagnostics:\n${r.headlines.join("\n")}`);
  return r.program;
}

/** `(x |> conv1:conv(6, 5x5, pad=same))`: pipes and operators parenthesised, named args with `=`. */
export function show(e: Expr): string {
  switch (e.kind) {
    case "number":
      return String(e.value);
    case "size":
      return e.dims.join("x");
    case "string":
      return JSON.stringify(e.value);
    case "bool":
      return String(e.value);
    case "name":
      return e.name.name;
    case "neg":
      return `-${show(e.operand)}`;
    case "list":
      return `[${e.items.map(show).join(", ")}]`;
    case "call":
      return `${e.label ? `${e.label.name}:` : ""}${e.callee.name}${e.hasParens ? `(${e.args.map(showArg).join(", ")})` : ""}`;
    case "pipe":
      return `(${show(e.input)} |> ${show(e.stage)})`;
    case "binary":
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case "repeat":
      return `repeat(${show(e.count)}, ${show(e.from)}, ${e.as.name}, { ${[...e.body.map(showStmt), show(e.result)].join("; ")} })`;
  }
}

function showArg(a: Arg): string {
  return a.name ? `${a.name.name}=${show(a.value)}` : show(a.value);
}

export function showStmt(s: Stmt): string {
  if (s.kind === "const") return `const ${s.target.name} = ${s.type.dtype.name}[${s.type.dims.map((d) => (d.kind === "number" ? d.value : d.name)).join(", ")}] from ${JSON.stringify(s.source.value)}`;
  return s.kind === "assign" ? `${s.target.name} = ${show(s.value)}` : `weights ${JSON.stringify(s.path.value)}`;
}

export function network(p: Program, i = 0): NetworkDecl {
  const item = p.items[i];
  if (item?.kind !== "network") throw new Error(`item ${i} is not a network`);
  return item;
}

export function block(p: Program, i = 0): BlockDecl {
  const item = p.items[i];
  if (item?.kind !== "block") throw new Error(`item ${i} is not a block`);
  return item;
}

/** Every `span` and `opSpan` in a tree: finite, ordered, inside the text. Returns the bad ones. */
export function badSpans(node: unknown, length: number, path = "program"): string[] {
  const bad: string[] = [];
  const check = (s: Span, where: string) => {
    if (!Number.isFinite(s.start) || !Number.isFinite(s.end) || s.start < 0 || s.start > s.end || s.end > length) bad.push(`${where}: ${JSON.stringify(s)}`);
  };
  if (Array.isArray(node)) node.forEach((n, i) => bad.push(...badSpans(n, length, `${path}[${i}]`)));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if ((k === "span" || k === "opSpan") && v && typeof v === "object") check(v as Span, `${path}.${k}`);
      else bad.push(...badSpans(v, length, `${path}.${k}`));
    }
  }
  return bad;
}
