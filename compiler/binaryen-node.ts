// binaryen.js for Node, split and cached. binaryen.js is one 14.8 MB ES module: 180 KB of
// JavaScript with its 9.9 MB of wasm inlined as a 14.7 MB template literal. Node 20 spends
// about 0.6 s of every `cnnc compile` parsing that, has no module compile cache (it arrived in
// Node 22), and then decodes the literal to bytes character by character. So on the first run
// the Node API splits the installed package in two and stores both halves in the user's cache
// folder: the wasm as a .wasm file, read back as bytes, and the JavaScript, wrapped as a
// classic script that node:vm runs with V8's code cache (`cachedData`). The wrapped text is the
// package byte for byte except for four rewrites: its two module-only constructs
// (`import.meta.url`, a dynamic `import()` of node:module) and the literal's decoding call become
// the wrapping function's parameters, and its `export` a return. If the package ever stops
// matching that shape, or anything about the cache fails, the plain import runs: the cache only
// changes how fast binaryen loads, never what it is.
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

type Factory = (dynamicImport: (specifier: string) => Promise<unknown>, metaUrl: string, wasm: Uint8Array) => Promise<typeof B>;

/** The package split in two: the wrapped JavaScript and the wasm it inlined. */
interface Split {
  readonly script: string;
  readonly wasm: Uint8Array;
}

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

/** Loads binaryen.js, through the split package and the code cache where it can. */
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
  const split = (base ? readSplit(base) : undefined) ?? splitPackage(file, base);
  if (split === undefined) return plainImport();

  const cachedData = base ? readBytes(`${base}.v8cache`) : undefined;
  let script: vm.Script;
  let binaryen: typeof B;
  try {
    script = new vm.Script(split.script, { filename: file, cachedData });
    const factory = script.runInThisContext() as Factory;
    binaryen = await factory((specifier) => import(specifier), pathToFileURL(file).href, split.wasm);
  } catch {
    // A stored pair that does not load is dropped, so that the next run splits the package anew.
    if (base) forget(base);
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
 * The stored halves, if both are whole: the script has the wrapper's two ends and names the
 * wasm's length, which the .wasm file must have (writes are atomic; this catches the rest).
 */
function readSplit(base: string): Split | undefined {
  const text = readBytes(`${base}.js`)?.toString("latin1");
  const wasm = readBytes(`${base}.wasm`);
  if (text === undefined || wasm === undefined || !text.endsWith(WRAP_TAIL)) return undefined;
  return text.startsWith(wrapHead(wasm.byteLength)) ? { script: text, wasm } : undefined;
}

/**
 * Splits the installed package and stores the halves for later runs, the wasm first so that a
 * stored script always has its wasm. Only an ASCII package is stored: the script is read back
 * as latin1, which for ASCII is the same text without UTF-8 decoding.
 */
function splitPackage(file: string, base: string | undefined): Split | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  const ascii = isAscii(bytes);
  const split = wrap(bytes.toString(ascii ? "latin1" : "utf8"));
  if (split !== undefined && ascii && base) {
    store(`${base}.wasm`, split.wasm);
    store(`${base}.js`, Buffer.from(split.script, "latin1"));
  }
  return split;
}

/** Removes an entry's files; one that cannot be removed is left to the next run's checks. */
function forget(base: string): void {
  for (const end of [".js", ".wasm", ".v8cache"]) {
    try {
      rmSync(`${base}${end}`, { force: true });
    } catch {
      // Housekeeping only.
    }
  }
}

function readBytes(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

async function plainImport(): Promise<typeof B> {
  return (await import("binaryen")).default;
}

const wrapHead = (wasmBytes: number) => `(async function (__cnnc_import__, __cnnc_meta_url__, __cnnc_wasm__) {"use strict"; /* wasm ${wasmBytes} bytes */`;
const WRAP_TAIL = ";\n})";

/** The module's text as an async function's body and its inlined wasm, or undefined if its shape is not the one known. */
function wrap(text: string): Split | undefined {
  const dynamicImport = 'await import("node:module")';
  const exportAt = text.lastIndexOf("export");
  const exportLine = /^export\s*\{\s*([\w$]+)\s+as\s+default\s*\}\s*;?\s*$/.exec(text.slice(exportAt));
  const inlined = inlinedWasm(text);
  if (count(text, dynamicImport) !== 1 || exportLine === null || inlined === undefined || inlined.end > exportAt) return undefined;
  // Another import or export statement would be a syntax error in a script: new vm.Script
  // throws, and the caller falls back to the plain import.
  const glue = text.slice(0, inlined.start) + "__cnnc_wasm__" + text.slice(inlined.end, exportAt);
  const body = glue.replace(dynamicImport, 'await __cnnc_import__("node:module")').replaceAll("import.meta.url", "__cnnc_meta_url__");
  return { script: `${wrapHead(inlined.wasm.byteLength)}\n${body}\nreturn ${exportLine[1]};${WRAP_TAIL}`, wasm: inlined.wasm };
}

/**
 * The one call `decode(`\0asm...`)` by which the package turns its inlined wasm into bytes:
 * where it starts and ends in the text, and the bytes. The literal is evaluated by V8 itself
 * (it is the package's own text, which runs anyway), so escapes mean exactly what they mean
 * to the package; the decoding function keeps character codes below 256 and zeroes the rest,
 * so a literal with any other character is not split.
 */
function inlinedWasm(text: string): { start: number; end: number; wasm: Uint8Array } | undefined {
  const open = "(`\\0asm";
  const at = text.indexOf(open);
  if (at < 0 || text.indexOf(open, at + 1) >= 0) return undefined;
  let start = at;
  while (start > 0 && /[\w$]/.test(text[start - 1])) start--;
  let i = at + 2;
  for (; i < text.length && text[i] !== "`"; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === "$" && text[i + 1] === "{") return undefined;
  }
  if (start === at || text[i + 1] !== ")") return undefined;
  const value: unknown = new Function(`return ${text.slice(at + 1, i + 1)};`)();
  if (typeof value !== "string") return undefined;
  const wasm = new Uint8Array(value.length);
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c > 255) return undefined;
    wasm[k] = c;
  }
  return { start, end: i + 2, wasm };
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
 * 10 MB entry, so after writing one, all but the newest few are removed, with any temporary
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
      const stem = e.name.replace(/\.(v8cache|js|wasm)$/, "");
      const stale = e.name.endsWith(".tmp") ? e.time < hourAgo : !live.includes(stem);
      if (stale) rmSync(path.join(folder, e.name), { force: true });
    }
  } catch {
    // Pruning is housekeeping: a folder that cannot be listed or cleaned is left as it is.
  }
}

/** Writes the cache atomically; a folder that cannot be written just means no cache. */
function store(file: string, data: Uint8Array): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch {
    // No cache this time; the next run tries again.
  }
}
