// The CLI a person expects, end to end on the built CLI: help on stdout with exit 0 (cnnc
// --help, cnnc help CMD, CMD --help), --version, "did you mean" for commands and options,
// usage errors on stderr with exit 2, no colour when not on a terminal.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cnnc help and version", () => {
  it("prints help on stdout and exits 0, for every way of asking", () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const r = cnnc(...args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.err).toBe("");
      expect(r.out).toContain("usage: cnnc COMMAND");
      for (const c of ["check", "compile", "run", "explain"]) expect(r.out).toContain(`  ${c} `);
    }
    for (const args of [["help", "run"], ["run", "--help"], ["run", "examples/lenet.cnn", "-h"]]) {
      const r = cnnc(...args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.out).toContain("usage: cnnc run MODEL.cnn|DIR");
      expect(r.out).toContain("--normalize MODE");
      expect(r.out).toContain("imagenet: (v/255 - mean)/std");
    }
  });

  it("prints the version", () => {
    const version = (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
    for (const flag of ["--version", "-V"]) {
      const r = cnnc(flag);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`cnnc ${version}\n`);
    }
  });
});

describe("cnnc usage errors", () => {
  it("suggests the command meant", () => {
    const r = cnnc("chekc", "examples/lenet.cnn");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("cnnc: unknown command 'chekc' (did you mean 'check'?)");
    expect(cnnc("help", "compil").err).toContain("(did you mean 'compile'?)");
  });

  it("suggests the option meant, or says which command takes it", () => {
    let r = cnnc("compile", "examples/lenet.cnn", "--outptu", "x");
    expect(r.code).toBe(2);
    expect(r.err).toContain("cnnc: compile does not take --outptu (did you mean '--output'?)");
    expect(r.err).toContain("usage: cnnc compile MODEL.cnn -o DIR");
    expect(r.err).toContain("run 'cnnc help compile' for more");
    r = cnnc("check", "examples/lenet.cnn", "--autotune");
    expect(r.code).toBe(2);
    expect(r.err).toContain("check does not take --autotune (it is an option of 'compile')");
  });

  it("says what is missing or doubled", () => {
    expect(cnnc("compile", "examples/lenet.cnn", "-o").err).toContain("-o, --output needs a value");
    expect(cnnc("compile", "examples/lenet.cnn").err).toContain("compile needs -o DIR");
    expect(cnnc("check", "a.cnn", "b.cnn").err).toContain("check takes one model file, got 2");
    const r = cnnc("run", "examples/lenet.cnn", "--backend", "wasm", "--backend", "reference", "--random");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--backend is given more than once");
    expect(r.err).not.toContain("    at ");
  });

  it("with no arguments, prints the help on stderr and exits 2", () => {
    const r = cnnc();
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("usage: cnnc COMMAND");
    expect(r.err).not.toContain("\x1b[");
  });
});

describe("cnnc --autotune", () => {
  it("says what it is doing instead of being silent for seconds", () => {
    const r = cnnc("explain", "examples/edges.cnn", "--autotune");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^cnnc: autotuning \d+ convolution layers?: timing each one's algorithms on this machine\n/);
    // Not a terminal: no progress bar drawn.
    expect(r.err).not.toContain("\r");
  }, 180_000);
});

describe("cnnc compile's progress bar", () => {
  it("is drawn on a terminal only: on a pipe stderr stays empty and stdout says what was written", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cnnc-progress-"));
    try {
      // LeNet with its weights (no note), every build: seconds as a process, past the bar's delay.
      const r = cnnc("compile", "examples/lenet.cnn", "--weights", "examples/lenet.safetensors", "--target", "all", "-o", path.join(dir, "lenet"));
      expect(r.code, r.err).toBe(0);
      expect(r.err).toBe("");
      expect(r.out).toMatch(/^wrote [^\r\x1b]*\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("cnnc start-up", () => {
  // A module hook that fails any import of binaryen: check and explain must not need it.
  const noBinaryen = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(
    'data:text/javascript,export async function resolve(s,c,n){if(s==="binaryen")throw new Error("binaryen was loaded");return n(s,c)}',
  )})`;
  const run = (...args: string[]) => spawnSync(process.execPath, ["--import", noBinaryen, path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8" });

  it("check and explain never load binaryen; compile does", () => {
    const check = run("check", "examples/lenet.cnn");
    expect(check.status, check.stderr).toBe(0);
    const explain = run("explain", "examples/lenet.cnn");
    expect(explain.status, explain.stderr).toBe(0);
    expect(explain.stdout).toContain("network lenet");
    expect(run("compile", "examples/lenet.cnn", "-o", "/nonexistent-never-written").stderr).toContain("binaryen was loaded");
  }, 120_000);
});

