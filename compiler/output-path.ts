// Where cnnc writes (`-o`), and how, so that it never destroys what it did not write.
//
// The rules (docs/cli.md states them for users):
//   - an output never is, nor holds, one of the command's inputs (the model, its weights, the
//     bundle being run), nor the current folder or one above it: refused, even with --force;
//   - an existing path is replaced only when cnnc wrote it: a bundle folder (manifest.json
//     with a format and index.js), a folder of .npy files (run's outputs), a .npy file, or an
//     empty folder; anything else is refused unless --force;
//   - the new output is written whole under a hidden temporary name beside the target,
//     `.NAME.tmp-PID-TIME`, then put in place by renames (the "rename dance"): a file is
//     renamed over the old one (atomic); a folder cannot be, so the old folder is first
//     renamed to `.NAME.tmp-PID-TIME.old`, the new one to NAME, and the old one deleted. At any
//     instant NAME is the old output, the new one, or (between two renames) absent with the
//     old one kept under `.old`;
//   - temporaries left by a killed process (its PID no longer runs) are cleaned before the
//     next write to the same NAME: a `.old` folder whose NAME is missing is renamed back, any
//     other is deleted; the CLI also deletes its own on SIGINT, SIGTERM and SIGHUP
//     (guardSignalsDuringWrites).
// Every failure is an OutputError (code "CNNC_OUTPUT") whose message names the path and why.

import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";

export class OutputError extends Error {
  override readonly name = "OutputError";
  readonly code = "CNNC_OUTPUT";
}

/** What the output will be: a bundle folder, one .npy file, or a folder of .npy files. */
/** What is written: a bundle folder, one .npy, a folder of .npy outputs, or another file (imported source, weights, an .onnx). */
export type OutputKind = "bundle" | "npy" | "npy-folder" | "file";

export interface OutputRules {
  /** Paths the command reads (model, weights, a bundle to run): never written over. */
  readonly inputs?: readonly string[];
  /** Replace an existing path even when cnnc did not write it (`--force`). */
  readonly force?: boolean;
}

const WHY: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder",
  ENOENT: "a folder on the way does not exist",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EEXIST: "it exists",
  ENAMETOOLONG: "the name is too long",
  ELOOP: "too many symbolic links",
  EBUSY: "it is in use",
};

/** "permission denied (EACCES)" for a file-system error; the message otherwise. */
export function whyFailed(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code) return WHY[code] ? `${WHY[code]} (${code})` : code;
  return (e as Error).message;
}

/** The real path where it exists (symbolic links followed), else the resolved one. */
function real(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    // The parent may exist even when the path does not.
    try {
      return path.join(realpathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

const within = (inner: string, outer: string): boolean => inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);

/** A folder cnnc wrote as a bundle: manifest.json with a numeric format, and index.js. */
export function isBundle(dir: string): boolean {
  try {
    if (!existsSync(path.join(dir, "index.js"))) return false;
    const m = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as { format?: unknown; weights?: unknown };
    return typeof m.format === "number" && typeof m.weights === "object" && m.weights !== null;
  } catch {
    return false;
  }
}

function isNpyFile(file: string): boolean {
  try {
    const head = readFileSync(file).subarray(0, 6);
    return head.length === 6 && head[0] === 0x93 && head.subarray(1).toString("latin1") === "NUMPY";
  } catch {
    return false;
  }
}

/** Why cnnc must not write `out`, or undefined when it may. */
export function outputRefusal(out: string, kind: OutputKind, rules: OutputRules = {}): string | undefined {
  const target = real(out);
  for (const input of rules.inputs ?? []) {
    const r = real(input);
    if (within(r, target)) {
      return r === target ? `${out} is an input of this command; cnnc never writes over its inputs` : `${out} holds ${input}, an input of this command; cnnc never writes over its inputs`;
    }
  }
  if (within(real(process.cwd()), target)) return `${out} is the current folder or holds it; give -o a new folder's name`;
  let st;
  try {
    st = lstatSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return `cannot look at ${out}: ${whyFailed(e)}`;
  }
  const force = rules.force ? undefined : "; pass --force to replace it";
  if (kind === "file") {
    // cnnc cannot tell a file it wrote from one it did not: an existing one is replaced only with --force.
    const what = st.isDirectory() ? "is a folder" : st.isFile() ? "is a file" : "is not a regular file";
    return st.isFile() ? force && `${out} exists${force}` : `${out} exists and ${what}`;
  }
  if (kind === "npy") {
    if (st.isFile() && isNpyFile(target)) return undefined;
    const what = st.isDirectory() ? "is a folder" : st.isFile() ? "is a file that is not a .npy array" : "is not a regular file";
    return force && `${out} exists and ${what}${force}`;
  }
  if (!st.isDirectory()) return force && `${out} exists and is ${st.isFile() ? "a file" : "not a folder"}, not a folder cnnc wrote${force}`;
  const entries = readdirSync(target);
  if (entries.length === 0) return undefined;
  if (kind === "bundle" && isBundle(target)) return undefined;
  if (kind === "npy-folder" && entries.every((e) => e.endsWith(".npy") && statSync(path.join(target, e)).isFile())) return undefined;
  const what = kind === "bundle" ? "a cnnc bundle (no manifest.json and index.js)" : "a folder of .npy outputs";
  return force && `${out} exists and is not ${what}${force}`;
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync loops forever where creating a
 * folder fails with ENOENT although its parent exists (/proc/nope).
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

/** Temporaries being written by this process: deleted on a signal (see the CLI). */
const live = new Set<string>();

function pidRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Cleans what a killed cnnc left beside `target` (see the rules at the top). */
export function cleanStaleTemporaries(target: string): void {
  const parent = path.dirname(target);
  const re = new RegExp(`^\\.${escapeRe(path.basename(target))}\\.tmp-(\\d+)-\\d+(\\.old)?$`);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const m = re.exec(name);
    if (!m || pidRuns(Number(m[1]))) continue;
    const p = path.join(parent, name);
    try {
      if (m[2] && !existsSync(target)) renameSync(p, target);
      else rmSync(p, { recursive: true, force: true });
    } catch {
      // Best effort: a temporary we cannot remove hides nothing of the user's.
    }
  }
}

/** Deletes this process's temporaries. */
export function removeLiveTemporaries(): void {
  for (const t of live) rmSync(t, { recursive: true, force: true });
  live.clear();
}

let guard: "off" | "asked" | "installed" = "off";

/**
 * For the CLI: from the first write on, SIGINT, SIGTERM and SIGHUP delete this process's
 * temporaries and exit 128 + the signal's number. Installed at the first write, not before:
 * compiling is synchronous, and a handler would hold a Ctrl-C until the compile ends. Writes
 * are synchronous too, so a signal during one is handled when it is done (nothing half
 * written remains); a kill -9 leaves a temporary that the next write cleans.
 */
export function guardSignalsDuringWrites(): void {
  if (guard === "off") guard = "asked";
}

function installGuard(): void {
  if (guard !== "asked") return;
  guard = "installed";
  const numbers: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };
  for (const sig of Object.keys(numbers)) {
    process.on(sig, () => {
      removeLiveTemporaries();
      process.exit(128 + numbers[sig]);
    });
  }
}

/**
 * Writes `out` whole under a temporary name (`fill` writes the file, or fills the folder it
 * is given, already made) and renames it into place. Checks `outputRefusal` first.
 */
export function replaceAtomically(out: string, kind: OutputKind, fill: (tmp: string) => void, rules: OutputRules = {}): void {
  const refusal = outputRefusal(out, kind, rules);
  if (refusal) throw new OutputError(refusal);
  const target = path.resolve(out);
  const parent = path.dirname(target);
  try {
    makeFolders(parent);
  } catch (e) {
    throw new OutputError(`cannot create the folder ${path.dirname(out)} for ${out}: ${whyFailed(e)}`);
  }
  cleanStaleTemporaries(target);
  installGuard();
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
  const old = `${tmp}.old`;
  live.add(tmp);
  try {
    try {
      const isFile = kind === "npy" || kind === "file";
      if (!isFile) mkdirSync(tmp);
      fill(tmp);
    } catch (e) {
      if (e instanceof OutputError) throw e;
      throw new OutputError(`cannot write ${out}: ${whyFailed(e)}`);
    }
    try {
      if (existsSync(target) && (!(kind === "npy" || kind === "file") || lstatSync(target).isDirectory())) {
        live.add(old);
        renameSync(target, old);
        renameSync(tmp, target);
        rmSync(old, { recursive: true, force: true });
      } else renameSync(tmp, target);
    } catch (e) {
      // Put the old output back if it was moved aside.
      if (existsSync(old) && !existsSync(target)) renameSync(old, target);
      throw new OutputError(`cannot put ${out} in place: ${whyFailed(e)}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    live.delete(tmp);
    live.delete(old);
  }
}
