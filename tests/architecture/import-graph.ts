// The import graph of the sources, read from their text: every `import ... from`, `export
// ... from`, side-effect `import "..."` and dynamic `import("...")`, `import type` included,
// resolved to a path from the repository root. imports.test.ts checks the layering rules on it.

import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

export interface Edge {
  /** Importing file, from the repository root ("compiler/passes/fuse.ts"). */
  readonly from: string;
  /** Imported module: a path from the repository root for relative specifiers, else the bare name. */
  readonly to: string;
  readonly line: number;
  /** Erased at run time: `import type`, `export type`, `typeof import("...")`. */
  readonly typeOnly: boolean;
}

const STATIC = /^[ \t]*(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

const TYPE_ONLY = /^[ \t]*(?:import|export)\s+type\b/;

/** The specifiers `text` imports, with the line each starts on and whether it is erased at run time. */
export function specifiers(text: string): { spec: string; line: number; typeOnly: boolean }[] {
  const out: { spec: string; line: number; typeOnly: boolean }[] = [];
  for (const re of [STATIC, SIDE_EFFECT, DYNAMIC]) {
    for (const m of text.matchAll(re)) {
      const typeOnly = re === DYNAMIC ? /\btypeof\s*$/.test(text.slice(Math.max(0, m.index - 20), m.index)) : TYPE_ONLY.test(m[0]);
      out.push({ spec: m[1], line: text.slice(0, m.index).split("\n").length, typeOnly });
    }
  }
  return out;
}

/** Every edge out of `file` (a path from `root`). Relative `.js` specifiers name their `.ts` sources. */
export function edgesOf(file: string, text: string): Edge[] {
  return specifiers(text).map(({ spec, line, typeOnly }) => {
    const to = spec.startsWith(".") ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, ".ts") : spec;
    return { from: file, to, line, typeOnly };
  });
}

/** The .ts files under `dirs` (relative to `root`), recursively. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) return walk(rel);
      return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
    });
  return dirs.flatMap(walk).sort();
}

export function importGraph(root: string, dirs: readonly string[]): Edge[] {
  return sourceFiles(root, dirs).flatMap((f) => edgesOf(f, readFileSync(path.join(root, f), "utf8")));
}

/** A layering rule: no file under `from` imports anything under `to`. */
export interface Rule {
  readonly from: string;
  readonly to: string;
  readonly why: string;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith("/") || dir.endsWith(".ts") ? dir : `${dir}/`);

/** "compiler/passes/fuse.ts:3 imports compiler/backends/wasm/cost.ts (passes ask the target ...)" for each broken rule. */
export function violations(edges: readonly Edge[], rules: readonly Rule[]): string[] {
  return edges.flatMap((e) =>
    rules.filter((r) => under(e.from, r.from) && under(e.to, r.to)).map((r) => `${e.from}:${e.line} imports ${e.to} (${r.why})`),
  );
}

/** Every module `entry` loads at run time (type-only edges skipped), with the chain that reaches each. */
export function reachable(edges: readonly Edge[], entry: string): Map<string, string[]> {
  const out = new Map<string, string[]>([[entry, [entry]]]);
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.shift()!;
    for (const e of edges) {
      if (e.from !== f || e.typeOnly || out.has(e.to)) continue;
      out.set(e.to, [...out.get(f)!, e.to]);
      todo.push(e.to);
    }
  }
  return out;
}
