// `cnnc explain --svg/--dot` end to end on the built CLI: the files written, the output-path
// rules (no clobbering without --force, never over an input), and bad flags.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-pictures-"));

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cnnc explain --svg / --dot", () => {
  it("writes both pictures beside the table", () => {
    const svg = path.join(tmp, "lenet.svg");
    const dot = path.join(tmp, "lenet.dot");
    const r = cnnc("explain", "examples/lenet.cnn", "--svg", svg, "--dot", dot);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("network lenet");
    expect(r.err).toContain(`cnnc: wrote ${svg} (7 kernels)`);
    const text = readFileSync(svg, "utf8");
    expect(text.startsWith("<?xml")).toBe(true);
    expect([...text.matchAll(/<g class="box" data-id="step:/g)].length).toBe(7);
    expect(readFileSync(dot, "utf8")).toMatch(/^digraph "lenet" \{/);
  });

  it("refuses to overwrite without --force, and never writes over an input", () => {
    const svg = path.join(tmp, "exists.svg");
    writeFileSync(svg, "mine");
    const r = cnnc("explain", "examples/lenet.cnn", "--svg", svg);
    expect(r.code).toBe(1);
    expect(r.err).toContain("exists; pass --force to replace it");
    expect(readFileSync(svg, "utf8")).toBe("mine");
    expect(cnnc("explain", "examples/lenet.cnn", "--svg", svg, "--force").code).toBe(0);
    expect(readFileSync(svg, "utf8")).toContain("<svg");
    const over = cnnc("explain", "examples/lenet.cnn", "--dot", "examples/lenet.cnn", "--force");
    expect(over.code).toBe(1);
    expect(over.err).toContain("is an input of this command");
  });

  it("says what is wrong with bad flags, and writes nothing for a bad model", () => {
    const same = cnnc("explain", "examples/lenet.cnn", "--svg", path.join(tmp, "g"), "--dot", path.join(tmp, "g"));
    expect(same.code).toBe(2);
    expect(same.err).toContain("--svg and --dot name the same file");
    const missing = cnnc("explain", "examples/lenet.cnn", "--svg");
    expect(missing.code).toBe(2);
    expect(missing.err).not.toMatch(/\n\s+at /);
    const bad = path.join(tmp, "bad.cnn");
    writeFileSync(bad, "network n(x: f32[1, 8, 8]) -> y {\n  y = x |> conv(2, 9x9)\n}\n");
    const out = path.join(tmp, "bad.svg");
    const r = cnnc("explain", bad, "--svg", out);
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  });
});
