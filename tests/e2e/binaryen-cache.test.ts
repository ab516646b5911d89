// binaryen split and through V8's code cache (compiler/binaryen-node.ts): the CLI writes the
// cache on the first run (the package's JavaScript, its wasm, V8's code) and reads it after,
// the bundles are byte for byte those of the plain import, and a cache that is corrupt or
// cannot be written changes nothing but the speed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const work = mkdtempSync(path.join(tmpdir(), "cnnc-cache-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function compileLenet(out: string, env: Record<string, string>): Buffer {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), "compile", "examples/lenet.cnn", "-o", path.join(work, out)], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, CNNC_NO_CACHE: "", ...env },
  });
  expect(r.stderr).not.toMatch(/error|at .*\.js:\d+/i);
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(path.join(work, out, "model.wasm"));
}

const cacheFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".v8cache"));

describe("binaryen's code cache", () => {
  it("is written on the first run, used after, and gives the same bundle as the plain import", () => {
    const dir = path.join(work, "cache");
    const first = compileLenet("a", { CNNC_CACHE_DIR: dir });
    expect(cacheFiles(dir)).toHaveLength(1);
    const file = path.join(dir, cacheFiles(dir)[0]);
    const written = statSync(file).mtimeMs;
    const second = compileLenet("b", { CNNC_CACHE_DIR: dir });
    expect(statSync(file).mtimeMs).toBe(written); // accepted, so not rewritten
    const plain = compileLenet("c", { CNNC_NO_CACHE: "1", CNNC_CACHE_DIR: path.join(work, "unused") });
    expect(second.equals(first)).toBe(true);
    expect(plain.equals(first)).toBe(true);
    expect(() => readdirSync(path.join(work, "unused"))).toThrow();
  });

  it("keeps the wrapped package beside the cache, replaces a damaged copy, and prunes old entries", () => {
    const dir = path.join(work, "pruned");
    const reference = compileLenet("g", { CNNC_CACHE_DIR: dir });
    const copies = readdirSync(dir).filter((f) => f.endsWith(".js"));
    expect(copies).toHaveLength(1);
    const wasm = copies[0].replace(/\.js$/, ".wasm");
    const wasmBytes = readFileSync(path.join(dir, wasm));
    expect([...wasmBytes.subarray(0, 4)]).toEqual([0, 0x61, 0x73, 0x6d]);
    writeFileSync(path.join(dir, copies[0]), "garbage");
    expect(compileLenet("h", { CNNC_CACHE_DIR: dir }).equals(reference)).toBe(true);
    expect(readFileSync(path.join(dir, copies[0]), "latin1").startsWith("(async function")).toBe(true);
    // A truncated wasm half: refused by its length, split anew.
    writeFileSync(path.join(dir, wasm), wasmBytes.subarray(0, 1000));
    expect(compileLenet("h2", { CNNC_CACHE_DIR: dir }).equals(reference)).toBe(true);
    expect(readFileSync(path.join(dir, wasm)).equals(wasmBytes)).toBe(true);
    // Entries of other binaryen builds or flags, and a temporary file a killed process left.
    const old = new Date(Date.now() - 7_200_000);
    for (let i = 0; i < 5; i++) {
      writeFileSync(path.join(dir, `binaryen-old${i}.v8cache`), "x");
      writeFileSync(path.join(dir, `binaryen-old${i}.js`), "x");
      utimesSync(path.join(dir, `binaryen-old${i}.v8cache`), old, old);
    }
    writeFileSync(path.join(dir, "binaryen-dead.v8cache.123.tmp"), "x");
    utimesSync(path.join(dir, "binaryen-dead.v8cache.123.tmp"), old, old);
    rmSync(path.join(dir, cacheFiles(dir).find((f) => !f.includes("old")) ?? ""));
    expect(compileLenet("i", { CNNC_CACHE_DIR: dir }).equals(reference)).toBe(true);
    const left = readdirSync(dir);
    expect(cacheFiles(dir)).toHaveLength(3);
    expect(left.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(left.filter((f) => f.endsWith(".js"))).toHaveLength(3);
    expect(left.filter((f) => f.endsWith(".wasm"))).toHaveLength(1); // the old entries had none
  });

  it("replaces a corrupt cache and works without a writable folder", () => {
    const dir = path.join(work, "corrupt");
    const reference = compileLenet("d", { CNNC_CACHE_DIR: dir });
    const file = path.join(dir, cacheFiles(dir)[0]);
    writeFileSync(file, Buffer.from("not a V8 code cache"));
    expect(compileLenet("e", { CNNC_CACHE_DIR: dir }).equals(reference)).toBe(true);
    expect(statSync(file).size).toBeGreaterThan(1000);
    // A regular file where the folder should be: no cache, same bundle, no message.
    const blocked = path.join(work, "a-file");
    writeFileSync(blocked, "x");
    expect(compileLenet("f", { CNNC_CACHE_DIR: path.join(blocked, "cnnc") }).equals(reference)).toBe(true);
  });
});
