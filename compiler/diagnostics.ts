// One diagnostics log threaded through every phase (as esbuild does): a message carries its
// file and span, so any phase can print `file:line:col: error: message`, the source line and
// a caret. User mistakes are always diagnostics, never exceptions; errors cannot be
// downgraded, warnings can be ignored.

import type { SourceFile, Span } from "./source.js";

export type Severity = "error" | "warning" | "note";

export interface Diagnostic {
  readonly severity: Severity;
  readonly message: string;
  /** The file the span points into; absent for problems with no place (a missing file). */
  readonly file?: SourceFile;
  readonly span?: Span;
  /** Extra lines printed after the caret ("note: first bound here"). */
  readonly notes?: readonly string[];
}

export class DiagnosticLog {
  readonly items: Diagnostic[] = [];

  error(message: string, file?: SourceFile, span?: Span, notes?: string[]): void {
    this.items.push({ severity: "error", message, file, span, notes });
  }

  warning(message: string, file?: SourceFile, span?: Span): void {
    this.items.push({ severity: "warning", message, file, span });
  }

  note(message: string, file?: SourceFile, span?: Span): void {
    this.items.push({ severity: "note", message, file, span });
  }

  add(d: Diagnostic): void {
    this.items.push(d);
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }

  get errorCount(): number {
    return this.items.filter((d) => d.severity === "error").length;
  }
}

/** Where a diagnostic points, as `file:line:col`, or just the file name. */
export function location(d: Diagnostic): string {
  if (!d.file) return "cnnc";
  if (!d.span) return d.file.name;
  const { line, col } = d.file.position(d.span.start);
  return `${d.file.name}:${line}:${col}`;
}

/** The one-line header: `file:line:col: error: message`. */
export function headline(d: Diagnostic): string {
  return `${location(d)}: ${d.severity}: ${d.message}`;
}

/** Headline, the source line and a caret under the span (tildes for its length). */
export function formatDiagnostic(d: Diagnostic): string {
  const lines = [headline(d)];
  if (d.file && d.span) {
    const { line, col } = d.file.position(d.span.start);
    const text = d.file.lineText(line);
    const gutter = `${line} | `;
    lines.push(`${gutter}${text}`);
    const end = d.file.position(d.span.end);
    const width = end.line === line ? Math.max(1, end.col - col) : Math.max(1, text.length - col + 1);
    // Tabs in the source are kept under the caret so that it lines up in a terminal.
    const pad = text.slice(0, col - 1).replace(/[^\t]/g, " ");
    lines.push(`${" ".repeat(gutter.length - 2)}| ${pad}^${"~".repeat(Math.max(0, width - 1))}`);
  }
  for (const n of d.notes ?? []) lines.push(`  note: ${n}`);
  return lines.join("\n");
}

export function formatDiagnostics(ds: readonly Diagnostic[]): string {
  return ds.map(formatDiagnostic).join("\n");
}
