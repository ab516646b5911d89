// The receptive field and the picture modules run in a browser (the playground) and in the
// language server: nothing they import, directly or not, may import a Node module.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { edgesOf } from "../architecture/import-graph.js";

const ROOT = path.join(import.meta.dirname, "../..");

/** Every Node module reached from `start` through relative imports, with the importing file. */
function nodeImports(start: string): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const e of edgesOf(file, readFileSync(path.join(ROOT, file), "utf8"))) {
      if (e.to.startsWith("node:") || ["fs", "path", "url", "os", "worker_threads"].includes(e.to)) found.push(`${file}:${e.line} imports ${e.to}`);
      else if (e.to.endsWith(".ts") && existsSync(path.join(ROOT, e.to))) visit(e.to);
    }
  };
  visit(start);
  return found;
}

describe("picture modules are pure", () => {
  const dir = path.join(ROOT, "compiler/pictures");
  const pictures = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => `compiler/pictures/${f}`) : [];
  for (const file of ["compiler/receptive-field.ts", ...pictures]) {
    it(file, () => {
      expect(nodeImports(file)).toEqual([]);
    });
  }
});
