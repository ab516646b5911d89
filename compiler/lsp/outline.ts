// The document's outline (LSP document symbols, shown in an editor's outline view and
// breadcrumbs): each network and block, and inside it its inputs or parameters, the values its
// statements bind, its layer labels and its repeat steps, in source order. It is the symbol
// index's definitions grouped by the network or block they belong to.

import { type DocumentSymbol, SymbolKind } from "vscode-languageserver";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { Span } from "../source.js";
import { spanRange } from "./diagnostics.js";
import type { Definition, SymbolIndex } from "./symbols.js";

const KIND: Record<Definition["kind"], SymbolKind> = {
  network: SymbolKind.Module,
  block: SymbolKind.Function,
  input: SymbolKind.Variable,
  parameter: SymbolKind.TypeParameter,
  value: SymbolKind.Variable,
  label: SymbolKind.Field,
  step: SymbolKind.Variable,
};

/** The extent of what a definition names: its declaration, statement, layer call or repeat. */
function extent(d: Definition): Span {
  return d.decl?.span ?? d.stmt?.span ?? d.call?.span ?? d.repeat?.span ?? d.span;
}

export function outline(doc: TextDocument, index: SymbolIndex): DocumentSymbol[] {
  const symbol = (d: Definition): DocumentSymbol => {
    const whole = extent(d);
    // The selection must lie inside the range (a label's call span starts at the label).
    const range = { start: Math.min(whole.start, d.span.start), end: Math.max(whole.end, d.span.end) };
    return { name: d.name, kind: KIND[d.kind], range: spanRange(doc, range), selectionRange: spanRange(doc, d.span), children: [] };
  };
  const top: DocumentSymbol[] = [];
  const byDecl = new Map<object, DocumentSymbol>();
  for (const o of index.occurrences) {
    const d = o.definition;
    // A definition's own occurrence: the identifier that binds it.
    if (!d || d.span !== o.span) continue;
    if (d.kind === "network" || d.kind === "block") {
      const s = symbol(d);
      top.push(s);
      if (d.decl) byDecl.set(d.decl, s);
    } else if (d.owner) byDecl.get(d.owner)?.children?.push(symbol(d));
  }
  for (const s of top) s.children?.sort((a, b) => a.selectionRange.start.line - b.selectionRange.start.line || a.selectionRange.start.character - b.selectionRange.start.character);
  return top;
}
