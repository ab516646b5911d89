// The layering of issue 9, checked on the import graph: passes ask a Target
// (compiler/target.ts) and never read a backend's files or the runtime; backends never read a
// pass; the runtime never reads the compiler; the two backends never read each other. Only
// the edges (compiler/index.ts, compiler/targets.ts, compiler/autotune-webgpu.ts, the CLI)
// see both sides.

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { edgesOf, importGraph, reachable, type Rule, violations } from "./import-graph.js";

const ROOT = path.join(import.meta.dirname, "../..");

const RULES: readonly Rule[] = [
  { from: "compiler/passes", to: "compiler/backends", why: "passes ask the target (compiler/target.ts), never a backend's files" },
  { from: "compiler/passes", to: "runtime", why: "passes do not run code; a target's autotune does" },
  { from: "compiler/backends", to: "compiler/passes", why: "backends answer the passes through their target.ts, never import them" },
  { from: "compiler/target.ts", to: "compiler/backends", why: "the Target interface is neutral ground" },
  { from: "compiler/target.ts", to: "compiler/passes", why: "the Target interface is neutral ground" },
  { from: "runtime", to: "compiler", why: "the runtime ships without the compiler" },
  { from: "compiler/backends/wasm", to: "compiler/backends/wgsl", why: "backends are independent" },
  { from: "compiler/backends/wgsl", to: "compiler/backends/wasm", why: "backends are independent" },
];

describe("import graph", () => {
  const edges = importGraph(ROOT, ["compiler", "runtime", "dsl"]);

  it("keeps the layers apart", () => {
    expect(violations(edges, RULES)).toEqual([]);
  });

  it("keeps node: modules out of the browser entry (compiler/browser.ts) and all it loads", () => {
    const found = [...reachable(edges, "compiler/browser.ts")].filter(([m]) => m.startsWith("node:")).map(([, chain]) => chain.join(" -> "));
    expect(found).toEqual([]);
    // It does reach the whole pipeline: parser, passes, both emitters, bundle assembly.
    const reached = reachable(edges, "compiler/browser.ts");
    for (const m of ["dsl/parse.ts", "compiler/optimise.ts", "compiler/backends/wasm/module.ts", "compiler/backends/wgsl/target.ts", "compiler/bundle-files.ts", "compiler/pictures/svg.ts", "binaryen", "chevrotain"]) {
      expect(reached.has(m), m).toBe(true);
    }
  });

  it("gives the file system to every Node-side call of the pure front (analyse, optimise, compileTraining)", () => {
    // analyse.ts reads weights files only through options.readFile; a module that runs in Node
    // (it imports a node: module) and calls the front directly must pass withFileSystem(...)
    // (node-files.ts) or its own `readFile:` (the language server reads through a cache), or a
    // model's weights file becomes "this compiler has no file access".
    const FRONT = new Set(["compiler/analyse.ts", "compiler/optimise.ts", "compiler/train/compile-training.ts"]);
    const nodeSide = new Set(edges.filter((e) => e.to.startsWith("node:") && !e.typeOnly).map((e) => e.from));
    const callers = [...new Set(edges.filter((e) => FRONT.has(e.to) && nodeSide.has(e.from)).map((e) => e.from))];
    expect(callers).toContain("compiler/cli.ts");
    const unwrapped = callers.flatMap((f) =>
      readFileSync(path.join(ROOT, f), "utf8")
        .split("\n")
        .flatMap((line, i) => (/\b(?:analyse|optimise|compileTraining)\(/.test(line) && !/^\s*(?:\/\/|\/\*|\*|export function|function)/.test(line) && !/withFileSystem\(|readFile:/.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(unwrapped).toEqual([]);
  });

  it("sees every kind of import (so an empty list above means something)", () => {
    const has = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to);
    expect(has("compiler/optimise.ts", "compiler/targets.ts")).toBe(true); // import { ... } from
    expect(has("compiler/passes/pass.ts", "compiler/target.ts")).toBe(true); // import type
    expect(has("compiler/cli.ts", "runtime/webgpu-node.ts")).toBe(true); // await import(...)
    expect(has("compiler/backends/wasm/target.ts", "compiler/backends/wasm/module.ts")).toBe(true);
  });

  it("catches a violation of each kind", () => {
    const text = [
      'import { a } from "../backends/wasm/cost.js";',
      'import type {\n  B,\n} from "../../runtime/manifest.js";',
      'export { c } from "../backends/wgsl/cost.js";',
      'const m = await import("../backends/wgsl/target.js");',
      'import "../../runtime/threads.js";',
      '// import { nothing } from "../backends/commented.js": a comment, not an edge',
    ].join("\n");
    const found = violations(edgesOf("compiler/passes/x.ts", text), RULES);
    const typeOnly = edgesOf("compiler/x.ts", 'import type { A } from "node:a";\nimport { b } from "node:b";\nlet c: typeof import("node:c");\nawait import("node:d");');
    expect(typeOnly.map((e) => [e.to, e.typeOnly])).toEqual([["node:a", true], ["node:b", false], ["node:c", true], ["node:d", false]]);
    expect(found).toEqual([
      "compiler/passes/x.ts:1 imports compiler/backends/wasm/cost.ts (passes ask the target (compiler/target.ts), never a backend's files)",
      "compiler/passes/x.ts:2 imports runtime/manifest.ts (passes do not run code; a target's autotune does)",
      "compiler/passes/x.ts:5 imports compiler/backends/wgsl/cost.ts (passes ask the target (compiler/target.ts), never a backend's files)",
      "compiler/passes/x.ts:7 imports runtime/threads.ts (passes do not run code; a target's autotune does)",
      "compiler/passes/x.ts:6 imports compiler/backends/wgsl/target.ts (passes ask the target (compiler/target.ts), never a backend's files)",
    ]);
  });
});
