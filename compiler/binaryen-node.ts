// binaryen.js for Node with V8's code cache. binaryen.js is one 14.8 MB ES module with its
// wasm inlined as base64; Node 20 spends about 0.6 s of every `cnnc compile` parsing it and
// has no module compile cache (that arrived in Node 22). So the Node API evaluates the same
// file as a classic script through node:vm with `cachedData`: the first run stores V8's
// code cache in the user's cache folder, later runs skip the parse and the lazy compiles of
// the start-up code. The file is the installed package, byte for byte, wrapped in an async
// function: its two module-only constructs (`import.meta.url`, a dynamic `import()` of
// node:module) become the function's parameters and its `export` a return. If the package
// ever stops matching that shape, or anything about the cache fails, the plain import runs:
// the cache only changes how fast binaryen loads, never what it is.
//
// CNNC_CACHE_DIR names the cache folder (default $XDG_CACHE_HOME/cnnc or ~/.cache/cnnc);
// CNNC_NO_CACHE=1 turns the cache off.

import type B from "binaryen";
import { createHash } from "node:crypto";
import { isAscii } from "node:buffer";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

type Factory = (dynamicImport: (specifier: string) => Promise<unknown>, metaUrl: string) => Promise<typeof B>;

let baselineOnly = false;

/**
 * For a process that only compiles (`cnnc compile`): every WebAssembly module stays on V8's
 * baseline compiler, Liftoff. binaryen's 10 MB of wasm is compiled by every process; by
 * default V8 then recompiles its hot functions with TurboFan in the background, which a
 * compile of LeNet ends before it pays, and on a small machine the recompiles take the cores
 * the compile needs: Liftoff alone makes `cnnc compile` 0.4-0.5 s faster on every example
 * here, and a 6 s compile 8% faster. The flag is V8's and global, and setting it back does
 * not restore tiering for later modules, so it is only for processes that run no network
 * (a network on Liftoff runs 2-3x slower): called before binaryen loads, never by the API.
 */
export function preferBaselineWasm(): void {
  if (baselineOnly) return;
  baselineOnly = true;
  v8.setFlagsFromString("--liftoff-only");
}

/** Loads binaryen.js, through the code cache where it can. */
export async function loadBinaryenForNode(): Promise<typeof B> {
  if (process.env.CNNC_NO_CACHE === "1") return plainImport();
  let file: string;
  let key: string | undefined;
  try {
    // Resolved as the plain import would be (module hooks included), not by require's rules.
    file = fileURLToPath(import.meta.resolve("binaryen"));
    key = cacheKey(file);
  } catch {
    return plainImport();
  }
  const base = key === undefined ? undefined : path.join(cacheFolder(), `binaryen-${key}`);
  const stored = base ? readCached(`${base}.js`) : undefined;
  const source = stored !== undefined && isWrapped(stored) ? stored : wrapPackage(file, base);
  if (source === undefined) return plainImport();

  const cachedData = base ? readBytes(`${base}.v8cache`) : undefined;
  let script: vm.Script;
  let binaryen: typeof B;
  try {
    script = new vm.Script(source, { filename: file, cachedData });
    const factory = script.runInThisContext() as Factory;
    binaryen = await factory((specifier) => import(specifier), pathToFileURL(file).href);
  } catch {
    return plainImport();
  }
  // Stored after the start-up code has run, so its lazily compiled functions are in the cache.
  if (base && (cachedData === undefined || script.cachedDataRejected === true)) {
    store(`${base}.v8cache`, script.createCachedData());
    prune(path.dirname(base));
  }
  return binaryen;
}

/**
 * The package's text wrapped, stored beside the code cache so that later runs skip the
 * 15 MB check and rewrite (about 0.1 s). Only an ASCII package is stored: the stored copy
 * is read back as latin1, which for ASCII is the same text without UTF-8 decoding.
 */
function wrapPackage(file: string, base: string | undefined): string | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  const ascii = isAscii(bytes);
  const source = wrap(bytes.toString(ascii ? "latin1" : "utf8"));
  if (source !== undefined && ascii && base) store(`${base}.js`, Buffer.from(source, "latin1"));
  return source;
}

function readCached(file: string): string | undefined {
  const bytes = readBytes(file);
  return bytes?.toString("latin1");
}

function readBytes(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Whether a stored copy has the wrapper's two ends (writes are atomic; this catches the rest). */
function isWrapped(text: string): boolean {
  return text.startsWith(WRAP_HEAD) && text.endsWith(";\n})");
}

async function plainImport(): Promise<typeof B> {
  return (await import("binaryen")).default;
}

const WRAP_HEAD = '(async function (__cnnc_import__, __cnnc_meta_url__) {"use strict";';

/** The module's text as an async function's body, or undefined if its shape is not the one known. */
function wrap(text: string): string | undefined {
  const dynamicImport = 'await import("node:module")';
  const exportAt = text.lastIndexOf("export");
  const exportLine = /^export\s*\{\s*([\w$]+)\s+as\s+default\s*\}\s*;?\s*$/.exec(text.slice(exportAt));
  if (count(text, dynamicImport) !== 1 || exportLine === null) return undefined;
  // Another import or export statement would be a syntax error in a script: new vm.Script
  // throws, and the caller falls back to the plain import.
  const body = text.slice(0, exportAt).replace(dynamicImport, 'await __cnnc_import__("node:module")').replaceAll("import.meta.url", "__cnnc_meta_url__");
  return `${WRAP_HEAD}\n${body}\nreturn ${exportLine[1]};\n})`;
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

function cacheFolder(): string {
  return process.env.CNNC_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "cnnc");
}

/**
 * The cache's name for this binaryen file, this V8 and these flags (V8 checks the last two
 * too). The file is named by its path, size and modification time rather than a hash of its
 * 15 MB; undefined where the cache folder is not an absolute path.
 */
function cacheKey(file: string): string | undefined {
  if (!path.isAbsolute(cacheFolder())) return undefined;
  const { size, mtimeMs, ino } = statSync(file);
  // V8 rejects a cache made under other flags: the baseline-only flag is part of the name.
  const id = [file, size, mtimeMs, ino, process.versions.v8, process.arch, process.execArgv.join(" "), baselineOnly].join("\0");
  return createHash("sha1").update(id).digest("hex").slice(0, 24);
}

/**
 * Keeps the cache folder bounded: each binaryen version, Node and set of flags has its own
 * 25 MB entry, so after writing one, all but the newest few are removed, with any temporary
 * file a killed process left.
 */
function prune(folder: string): void {
  const KEEP = 3;
  try {
    const entries = readdirSync(folder)
      .filter((name) => name.startsWith("binaryen-"))
      .map((name) => ({ name, time: statSync(path.join(folder, name)).mtimeMs }));
    const live = entries
      .filter((e) => e.name.endsWith(".v8cache"))
      .sort((a, b) => b.time - a.time)
      .slice(0, KEEP)
      .map((e) => e.name.slice(0, -".v8cache".length));
    const hourAgo = Date.now() - 3_600_000;
    for (const e of entries) {
      const stem = e.name.replace(/\.(v8cache|js)$/, "");
      const stale = e.name.endsWith(".tmp") ? e.time < hourAgo : !live.includes(stem);
      if (stale) rmSync(path.join(folder, e.name), { force: true });
    }
  } catch {
    // Pruning is housekeeping: a folder that cannot be listed or cleaned is left as it is.
  }
}

/** Writes the cache atomically; a folder that cannot be written just means no cache. */
function store(file: string, data: Buffer): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch {
    // No cache this time; the next run tries again.
  }
}
