// Issue 15's reproducers on the built CLI: -o never destroys what cnnc did not write, nor an
// input; outputs that cannot be written are a one-line diagnostic with exit 1 (no stack, no
// spinning); stale temporaries are cleaned; a binary model is refused in one line; at most 20
// errors are printed; control characters in messages are escaped; a wrongly shaped input to a
// compiled bundle folder is the user's error (the bundle's own InputError, by its code).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { writeNpy } from "../../compiler/tensors/npy.js";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-safety-"));
const model = path.join(tmp, "m.cnn");
writeFileSync(model, readFileSync(path.join(root, "examples/lenet.cnn")));

function cnnc(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A process id that does not run now (for a stale temporary's name). */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid--) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") return pid;
    }
  }
}

describe("cnnc -o never destroys what cnnc did not write", () => {
  it("refuses a folder with other files, a file, the model itself and the current folder", () => {
    const dir = mkdtempSync(path.join(tmp, "o-"));
    mkdirSync(path.join(dir, "keep"));
    writeFileSync(path.join(dir, "keep", "a.txt"), "precious");
    writeFileSync(path.join(dir, "afile"), "file");
    let r = cnnc(dir, "compile", model, "-o", "keep");
    expect(r.code).toBe(1);
    expect(r.err).toBe("cnnc: error: keep exists and is not a cnnc bundle (no manifest.json and index.js); pass --force to replace it\n");
    r = cnnc(dir, "compile", model, "-o", "afile");
    expect(r.err).toBe("cnnc: error: afile exists and is a file, not a folder cnnc wrote; pass --force to replace it\n");
    r = cnnc(dir, "compile", model, "-o", model, "--force");
    expect(r.code).toBe(1);
    expect(r.err).toContain("is an input of this command; cnnc never writes over its inputs");
    r = cnnc(dir, "compile", model, "-o", ".", "--force");
    expect(r.code).toBe(1);
    expect(r.err).toContain(". is the current folder or holds it");
    r = cnnc(dir, "run", model, "--random", "-o", "keep");
    expect(r.code).toBe(1);
    expect(r.err).toContain("keep exists and is not a folder of .npy outputs; pass --force to replace it");
    expect(readFileSync(path.join(dir, "keep", "a.txt"), "utf8")).toBe("precious");
    expect(readFileSync(path.join(dir, "afile"), "utf8")).toBe("file");
    expect(readFileSync(model, "utf8")).toContain("network lenet");
    expect(readdirSync(dir).sort()).toEqual(["afile", "keep"]);
  });

  it("replaces its own bundle and its own outputs, and anything with --force", () => {
    const dir = mkdtempSync(path.join(tmp, "o-"));
    expect(cnnc(dir, "compile", model, "-o", "b").code).toBe(0);
    const again = cnnc(dir, "compile", model, "-o", "b");
    expect(again.code, again.err).toBe(0);
    expect(cnnc(dir, "run", model, "--random", "-o", "y.npy").code).toBe(0);
    expect(cnnc(dir, "run", model, "--random", "1", "-o", "y.npy").code).toBe(0);
    writeFileSync(path.join(dir, "afile"), "file");
    const forced = cnnc(dir, "compile", model, "-o", "afile", "--force");
    expect(forced.code, forced.err).toBe(0);
    expect(existsSync(path.join(dir, "afile", "manifest.json"))).toBe(true);
    // Nothing hidden left beside.
    expect(readdirSync(dir).sort()).toEqual(["afile", "b", "y.npy"]);
  }, 300_000);

  it("cleans the temporaries a killed cnnc left, and puts back a bundle moved aside", () => {
    const dir = mkdtempSync(path.join(tmp, "o-"));
    const pid = deadPid();
    mkdirSync(path.join(dir, `.b.tmp-${pid}-1`));
    writeFileSync(path.join(dir, `.b.tmp-${pid}-1`, "big.bin"), new Uint8Array(1000));
    expect(cnnc(dir, "compile", model, "-o", "b").code).toBe(0);
    expect(readdirSync(dir)).toEqual(["b"]);
  });

  it("says in one line why an output cannot be written", () => {
    const dir = mkdtempSync(path.join(tmp, "o-"));
    writeFileSync(path.join(dir, "afile"), "file");
    let r = cnnc(dir, "compile", model, "-o", "afile/b");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^cnnc: error: [^\n]*afile\/b[^\n]*ENOTDIR\)\n$/);
    r = cnnc(dir, "compile", model, "-o", "/proc/nope/b");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cnnc: error: cannot create the folder \/proc\/nope for \/proc\/nope\/b: .*\(E[A-Z]+\)\n$/);
    mkdirSync(path.join(dir, "y.npy"));
    r = cnnc(dir, "run", model, "--random", "-o", "y.npy");
    expect(r.code).toBe(1);
    expect(r.err).toContain("y.npy exists and is a folder; pass --force to replace it");
    expect(r.err).not.toContain("    at ");
  });
});

describe("cnnc on inputs that are not what they should be", () => {
  it("routes an ONNX file to the importer, and refuses another binary model in one line", () => {
    const onnx = path.join(tmp, "m.onnx");
    // ModelProto: ir_version 8, producer_name "pytorch", a graph (field 7), with NUL bytes.
    writeFileSync(onnx, Buffer.from([0x08, 0x08, 0x12, 0x07, ...Buffer.from("pytorch"), 0x3a, 0x04, 0x0a, 0x00, 0x00, 0x00, ...new Array(2000).fill(0x41)]));
    let r = cnnc(tmp, "check", onnx);
    expect(r.code).toBe(1);
    // Recognised by its bytes as ONNX and imported: this one is corrupt, and says so once.
    expect(r.err).toMatch(new RegExp(`^${onnx.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: error: not a readable ONNX model \\(truncated or corrupt protobuf`));
    expect(r.err.split("\n").length).toBeLessThanOrEqual(3);
    expect(r.err).not.toContain("    at ");
    const pt = path.join(tmp, "m.pt");
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 2654435761) >>> 24);
    bytes.set([0x50, 0x4b, 0x03, 0x04]);
    writeFileSync(pt, bytes);
    r = cnnc(tmp, "check", pt);
    expect(r.code).toBe(1);
    expect(r.err.split("\n")).toHaveLength(2);
    expect(r.err).toContain("zip archive");
  });

  it("prints at most 20 errors, then how many more", () => {
    const f = path.join(tmp, "many.cnn");
    writeFileSync(f, `network n(x: f32[1, 8, 8]) -> y {\n${"  y = x |> zz\n".repeat(40)}}\n`);
    const r = cnnc(tmp, "check", f);
    expect(r.code).toBe(1);
    expect(r.err.match(/: error: /g)).toHaveLength(20);
    expect(r.err).toMatch(/\nand \d+ more errors \(\d+ in all\)\n$/);
  });

  it("escapes control characters from user text", () => {
    const r = cnnc(tmp, "check", model, "--weights", "\x1b[31mred\x07.safetensors");
    expect(r.code).toBe(1);
    expect(r.err).toContain("\\x1b[31mred\\x07.safetensors");
    expect(r.err).not.toContain("\x1b");
    expect(r.err).not.toContain("\x07");
  });

  it("reports a wrongly shaped input to a compiled bundle folder as the user's error", () => {
    const dir = mkdtempSync(path.join(tmp, "b-"));
    expect(cnnc(dir, "compile", model, "-o", "bundle").code).toBe(0);
    writeFileSync(path.join(dir, "wrong.npy"), writeNpy([1, 1, 27, 28], new Float32Array(27 * 28)));
    const r = cnnc(dir, "run", "bundle", "--input", "image=wrong.npy");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^cnnc: error: .*image/);
    expect(r.err).not.toContain("internal error");
  });
});
