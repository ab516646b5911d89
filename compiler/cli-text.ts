// What the CLI writes on a terminal: control characters escaped (a file name or a weights
// path is user text; raw escape sequences would drive the terminal), colour only on a TTY
// without NO_COLOR (https://no-color.org), diagnostics capped at MAX_ERRORS, and a progress
// bar on stderr for work that takes more than about a second.

import { formatDiagnostic, type Diagnostic } from "./diagnostics.js";
import type { CompileProgress } from "./progress.js";

/** Errors printed before "and N more errors": enough to fix, never a flood. */
export const MAX_ERRORS = 20;

/** Escapes C0 and C1 control characters and DEL as \xNN; keeps newlines and tabs. */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** What colourOn and Progress need of a stream (process.stderr, or a test's stand-in). */
export interface TextStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

/** Colour on this stream: a TTY, NO_COLOR unset or empty, TERM not "dumb". */
export function colourOn(stream: TextStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";
}

const SGR = { red: "31", yellow: "33", cyan: "36", bold: "1", dim: "2" } as const;

export function paint(stream: NodeJS.WriteStream, colour: keyof typeof SGR, text: string): string {
  return colourOn(stream) ? `\x1b[${SGR[colour]}m${text}\x1b[0m` : text;
}

/** Writes user-facing text to stderr, control characters escaped. */
export function sayErr(text: string): void {
  process.stderr.write(`${escapeControls(text)}\n`);
}

/** Colours "error:", "warning:" and "note:" after the location, when colour is on. */
function colourHeadline(text: string): string {
  if (!colourOn(process.stderr)) return text;
  return text.replace(/^([^\n]*?: )(error|warning|note)(:)/, (_, at: string, sev: string, colon: string) => {
    const c = sev === "error" ? "red" : sev === "warning" ? "yellow" : "cyan";
    return `${paint(process.stderr, "bold", at)}${paint(process.stderr, c, sev + colon)}`;
  });
}

/** Prints diagnostics to stderr: at most MAX_ERRORS errors (warnings and notes with them), then a count. */
export function printDiagnostics(ds: readonly Diagnostic[]): void {
  const errors = ds.filter((d) => d.severity === "error").length;
  let shown = 0;
  for (const d of ds) {
    if (d.severity === "error" && shown === MAX_ERRORS) break;
    if (d.severity === "error") shown++;
    process.stderr.write(`${colourHeadline(escapeControls(formatDiagnostic(d)))}\n`);
  }
  if (errors > shown) process.stderr.write(`and ${errors - shown} more error${errors - shown === 1 ? "" : "s"} (${errors} in all)\n`);
  else if (errors > 0) process.stderr.write(`${errors} error${errors === 1 ? "" : "s"}\n`);
}

/**
 * A progress bar on stderr, drawn only on a TTY where colour is on (no NO_COLOR, TERM not
 * "dumb": the bar redraws its line with escape sequences) and only once the work has run for
 * `after` ms (quick work shows nothing); elsewhere nothing (the caller says what starts, in one
 * line). Writes to a TTY are synchronous in Node, so it updates even inside a synchronous compile.
 */
export class Progress {
  private readonly start = Date.now();
  private drawn = false;

  constructor(
    private readonly what: string,
    private readonly after = 1000,
    private readonly err: TextStream = process.stderr,
  ) {}

  update(done: number, total: number, item = ""): void {
    if (Date.now() - this.start < this.after) return;
    const err = this.err;
    if (!colourOn(err)) return;
    const width = 24;
    const filled = total > 0 ? Math.round((done / total) * width) : 0;
    const bar = `[${"#".repeat(filled)}${" ".repeat(width - filled)}]`;
    // columns is 0 where the terminal has no size (a pty without one): then 80.
    const line = escapeControls(`${this.what} ${bar} ${done}/${total} ${item}`).slice(0, Math.max(20, (err.columns || 80) - 1));
    err.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.err.write("\r\x1b[2K");
    this.drawn = false;
  }
}

/** "emit wasm: conv2", "binaryen wasm relaxed", "analyse": what the compile bar shows after its count. */
export function progressItem(p: CompileProgress): string {
  return `${p.stage}${p.part ? ` ${p.part}` : ""}${p.layer ? `: ${p.layer}` : ""}`;
}
