// What the fuzzer counts as a problem in cnnc's answer to one input: a throw from compile(),
// an exit code other than 0 or 1 from the CLI, a stack trace, or a message that says NaN,
// undefined or "internal error". Shared by every input class.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { compile, type CompileOptions } from "../compiler/index.js";
import { main } from "../compiler/cli.js";

/** What a case came to: a result ("ok"), a clean refusal ("diagnostic"), and the problems found. */
export interface Outcome {
  readonly outcome: "ok" | "diagnostic";
  readonly problems: string[];
}

/** What no message to a user may contain: signs of an unformatted value or a crash. */
export function messageProblems(raw: string, where: string, userWords = ""): string[] {
  const out: string[] = [];
  // The user's own words are not the message's: quoted names, the echoed source line under a
  // headline, and the phrase "undefined name" are left out of the NaN/undefined checks.
  const text = raw
    .split("\n")
    .filter((l) => !/^\s*\d+ \| /.test(l) && !/^\s*\| /.test(l))
    .join("\n")
    .replace(/'[^'\n]*'/g, "'…'")
    .replace(/undefined name/g, "unbound name");
  // A name the mutation made `NaN` or `undefined` (a label, a network) is the user's word.
  if (/\bNaN\b/.test(text) && !/\bNaN\b/.test(userWords)) out.push(`${where} says NaN: ${firstLineWith(text, "NaN")}`);
  if (/\bundefined\b/.test(text) && !/\bundefined\b/.test(userWords)) out.push(`${where} says undefined: ${firstLineWith(text, "undefined")}`);
  if (/internal error/.test(text)) out.push(`${where} reports an internal error: ${firstLineWith(text, "internal error")}`);
  if (/\n\s+at .+:\d+:\d+\)?/.test(text)) out.push(`${where} shows a stack trace`);
  return out;
}

export function firstLineWith(text: string, word: string): string {
  return (text.split("\n").find((l) => l.includes(word)) ?? "").slice(0, 200);
}

/** compile() on an input: it must return, and its diagnostics must be clean. */
export function compileProblems(source: string | Uint8Array, options: CompileOptions): Outcome {
  let r: ReturnType<typeof compile>;
  try {
    r = compile(source, options);
  } catch (e) {
    return { outcome: "diagnostic", problems: [`compile() threw ${(e as Error).stack ?? String(e)}`] };
  }
  const problems: string[] = [];
  for (const d of r.diagnostics) {
    problems.push(...messageProblems(d.message, "a diagnostic", typeof source === "string" ? source : ""));
    if (d.span && (d.span.start < 0 || d.span.end > source.length || d.span.start > d.span.end)) problems.push(`a diagnostic's span is outside the file: ${d.message}`);
  }
  if (!r.ok && !r.diagnostics.some((d) => d.severity === "error")) problems.push("compile() failed without an error");
  return { outcome: r.ok ? "ok" : "diagnostic", problems };
}

let scratch: string | undefined;
/** A folder of this process's own for files the CLI reads and writes. */
export function scratchDir(): string {
  scratch ??= mkdtempSync(path.join(tmpdir(), "cnnc-fuzz-"));
  return scratch;
}

/** The CLI in this process, its output captured: exit 0 or 1, and no trace of a crash. */
export async function cliProblems(argv: string[], userWords = ""): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const write = (into: string[]) => ((chunk: string | Uint8Array) => {
    into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  const saved = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = write(out);
  process.stderr.write = write(err);
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    code = -1;
    err.push(`main() threw ${(e as Error).stack ?? String(e)}`);
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
  const problems: string[] = [];
  // A --size the fuzzer made out of range is a usage error (exit 2), as it should be.
  const usage = code === 2 && /^cnnc: .*--size/m.test(err.join(""));
  if (code !== 0 && code !== 1 && !usage) problems.push(`exit code ${code}: ${err.join("").slice(0, 2000)}`);
  problems.push(...messageProblems(err.join(""), "stderr", userWords));
  // Results may be NaN for a network that computes NaN; only the words around them are checked.
  if (/\bundefined\b/.test(out.join("")) && !userWords.includes("undefined")) problems.push(`stdout says undefined: ${firstLineWith(out.join(""), "undefined")}`);
  return { outcome: code === 0 ? "ok" : "diagnostic", problems };
}
