// Finds the peer libraries the benchmark compares against. They live in bench/node_modules
// (bench/package.json, installed with `npm install --prefix bench`), not in cnnc's own
// dependencies, and the compiled bench may sit in any output folder, so module resolution
// starts from bench/package.json itself rather than from this file. The libraries are loaded
// with require(): each ships a CommonJS entry for Node, and loading them by a computed name
// keeps the bench type-checking on a clone where they are not installed (the adapters next
// to this file give them small, exact types instead).

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

function isBenchDir(dir: string): boolean {
  const pkg = path.join(dir, "package.json");
  if (!existsSync(pkg)) return false;
  try {
    const json: unknown = JSON.parse(readFileSync(pkg, "utf8"));
    return typeof json === "object" && json !== null && (json as { name?: unknown }).name === "cnnc-bench";
  } catch {
    return false;
  }
}

let cached: string | undefined;

/** The bench/ folder of the cnnc checkout: found above this file, else under the working directory. */
export function benchDir(): string {
  if (cached) return cached;
  const starts = [path.dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      for (const candidate of [dir, path.join(dir, "bench")]) {
        if (isBenchDir(candidate)) return (cached = candidate);
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error("cannot find bench/package.json (run the bench from the cnnc folder)");
}

/** The cnnc checkout (bench/..). */
export function repoDir(): string {
  return path.dirname(benchDir());
}

/** The peer's exports, or an Error saying how to install it. */
export function requirePeer(name: string): unknown {
  const req = createRequire(path.join(benchDir(), "package.json"));
  try {
    return req(name);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "MODULE_NOT_FOUND" && err.message.includes(name)) {
      throw new Error(`${name} is not installed: run \`npm install --prefix bench\``);
    }
    throw e;
  }
}

/** The file a peer's entry point resolves to (for child processes that load it by path). */
export function resolvePeer(name: string): string {
  return createRequire(path.join(benchDir(), "package.json")).resolve(name);
}

/** The folder holding a peer package (its package.json). */
export function peerDir(name: string): string {
  let dir = path.dirname(resolvePeer(name));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === name) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the folder of ${name}`);
    dir = path.dirname(dir);
  }
}

/** The installed version of a peer package, or "not installed". */
export function peerVersion(name: string): string {
  try {
    const json = JSON.parse(readFileSync(path.join(peerDir(name), "package.json"), "utf8")) as { version?: unknown };
    return typeof json.version === "string" ? json.version : "?";
  } catch {
    return "not installed";
  }
}
