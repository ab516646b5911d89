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
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";

type Factory = (dynamicImport: (specifier: string) => Promise<unknown>, metaUrl: string) => Promise<typeof B>;

/** Loads binaryen.js, through the code cache where it can. */
export async function loadBinaryenForNode(): Promise<typeof B> {
  if (process.env.CNNC_NO_CACHE === "1") return plainImport();
  let file: string;
  let bytes: Buffer;
  try {
    // Resolved as the plain import would be (module hooks included), not by require's rules.
    file = fileURLToPath(import.meta.resolve("binaryen"));
    bytes = readFileSync(file);
  } catch {
    return plainImport();
  }
  // The package is ASCII; reading it as latin1 skips UTF-8 decoding of 15 MB.
  const source = wrap(bytes.toString(isAscii(bytes) ? "latin1" : "utf8"));
  if (source === undefined) return plainImport();

  const cacheFile = cachePath(bytes);
  let cachedData: Buffer | undefined;
  try {
    cachedData = cacheFile ? readFileSync(cacheFile) : undefined;
  } catch {
    cachedData = undefined;
  }
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
  if (cacheFile && (cachedData === undefined || script.cachedDataRejected === true)) store(cacheFile, script.createCachedData());
  return binaryen;
}

async function plainImport(): Promise<typeof B> {
  return (await import("binaryen")).default;
}

/** The module's text as an async function's body, or undefined if its shape is not the one known. */
function wrap(text: string): string | undefined {
  const dynamicImport = 'await import("node:module")';
  const exportAt = text.lastIndexOf("export");
  const exportLine = /^export\s*\{\s*([\w$]+)\s+as\s+default\s*\}\s*;?\s*$/.exec(text.slice(exportAt));
  if (count(text, dynamicImport) !== 1 || exportLine === null) return undefined;
  // Another import or export statement would be a syntax error in a script: new vm.Script
  // throws, and the caller falls back to the plain import.
  const body = text.slice(0, exportAt).replace(dynamicImport, 'await __cnnc_import__("node:module")').replaceAll("import.meta.url", "__cnnc_meta_url__");
  return `(async function (__cnnc_import__, __cnnc_meta_url__) {"use strict";\n${body}\nreturn ${exportLine[1]};\n})`;
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

/** The cache file for this binaryen build, this V8 and these flags (V8 checks the last two too). */
function cachePath(bytes: Buffer): string | undefined {
  const base = process.env.CNNC_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "cnnc");
  const key = createHash("sha1").update(bytes).update(process.versions.v8).update(process.arch).update(process.execArgv.join(" ")).digest("hex").slice(0, 24);
  return path.isAbsolute(base) ? path.join(base, `binaryen-${key}.v8cache`) : undefined;
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
