// The compiler's diagnostics as LSP diagnostics. The message is the CLI's (the text after
// `file:line:col: error: `, then its notes as `note: ...` lines), so the editor and the terminal
// say the same thing. Spans are offsets in UTF-16 code units, which is what LSP positions count
// in, so TextDocument.positionAt maps them exactly (0-based line and character). A problem
// with no place in this file (a weights file that cannot be read) sits at its start.

import { DiagnosticSeverity, type Diagnostic as LspDiagnostic, type Range } from "vscode-languageserver";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { Diagnostic } from "../diagnostics.js";

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, note: DiagnosticSeverity.Information } as const;

export function spanRange(doc: TextDocument, span: { start: number; end: number }): Range {
  return { start: doc.positionAt(span.start), end: doc.positionAt(Math.max(span.start, span.end)) };
}

export function toLsp(doc: TextDocument, d: Diagnostic): LspDiagnostic {
  const span = d.span && d.file ? d.span : { start: 0, end: 0 };
  const lines = [d.message, ...(d.notes ?? []).map((n) => `note: ${n}`)];
  return {
    range: spanRange(doc, span),
    severity: SEVERITY[d.severity],
    source: "cnnc",
    message: lines.join("\n"),
  };
}
