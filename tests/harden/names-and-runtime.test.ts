// Issue 15's reproducers for names, paths and the runtime's contracts: JavaScript's own
// property names refused as inputs, outputs and sizes; weights read only from inside the
// model's folder and only from regular files; run() after dispose(), unknown backends, bad
// thread counts and non-finite inputs each a clear error with a `code`; sizes past what the
// targets index refused by run() and by `cnnc run --size`.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { headline } from "../../compiler/diagnostics.js";
import type { LoadOptions } from "../../runtime/load.js";
import { writeNpy } from "../../compiler/tensors/npy.js";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-harden-"));

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const errors = (source: string, fileName = "t.cnn") => compile(source, { fileName, target: "webgpu" }).diagnostics.map(headline);

describe("reserved names", () => {
  it("an output named __proto__ is refused", () => {
    expect(errors("network n(x: f32[1, 8, 8]) -> __proto__ { __proto__ = x |> relu }")).toEqual([
      "t.cnn:1:31: error: '__proto__' cannot name an output: it is a property of every JavaScript object, so run()'s results could not hold it",
    ]);
  });

  it("a size symbol named __proto__ is refused", () => {
    expect(errors("network n(x: f32[1, __proto__, 8]) -> y { y = x |> relu }")).toEqual([
      "t.cnn:1:21: error: '__proto__' cannot name a size: it is a property of every JavaScript object, so the sizes could not hold it",
    ]);
  });

  it("an input named constructor is refused", () => {
    expect(errors("network n(constructor: f32[1, 8, 8]) -> y { y = constructor |> relu }")[0]).toBe(
      "t.cnn:1:11: error: 'constructor' cannot name an input: it is a property of every JavaScript object, so run()'s inputs could not hold it",
    );
  });


  it("an op named like an Object property is an unknown op, not Object's own", () => {
    expect(errors("network n(x: f32[1, 8, 8]) -> y { y = x |> constructor(3) |> toString }")).toEqual([
      "t.cnn:1:44: error: unknown op 'constructor'",
      "t.cnn:1:62: error: unknown op 'toString'",
    ]);
  });
});

describe("weights files", () => {
  const model = (p: string) => `network n(x: f32[1, 8, 8]) -> y {\n  weights "${p}"\n  y = x |> conv(1, 3x3)\n}\n`;

  it("a path out of the model's folder is refused, not read", () => {
    const expected = (p: string) => `${tmp}/m.cnn:2:11: error: weights file ${p} is outside the model's folder; a model reads weights only from its own folder (give others with --weights)`;
    expect(errors(model("../../../../etc/passwd"), path.join(tmp, "m.cnn"))).toEqual([expected("../../../../etc/passwd")]);
    expect(errors(model("/dev/zero"), path.join(tmp, "m.cnn"))).toEqual([expected("/dev/zero")]);
  });

  it("a device, a FIFO or a folder is not read", () => {
    mkdirSync(path.join(tmp, "dir"), { recursive: true });
    expect(errors(model("dir"), path.join(tmp, "m.cnn"))).toEqual([`${tmp}/m.cnn:2:11: error: cannot read weights file dir: not a regular file`]);
    const fifo = path.join(tmp, "fifo.safetensors");
    spawnSync("mkfifo", [fifo]);
    expect(errors(model("fifo.safetensors"), path.join(tmp, "m.cnn"))).toEqual([`${tmp}/m.cnn:2:11: error: cannot read weights file fifo.safetensors: not a regular file`]);
    const r = cnnc("check", path.join(root, "examples/lenet.cnn"), "--weights", "/dev/zero");
    expect({ code: r.code, err: r.err }).toEqual({ code: 1, err: "cnnc: error: cannot read weights file /dev/zero: not a regular file\n1 error\n" });
  });
});

describe("runtime contracts", () => {
  const r = compile("network n(x: f32[1, H, 8]) -> y { y = x |> conv(2, 3x3) |> softmax }", { target: "wasm" }) as CompileSuccess;
  const x = { data: new Float32Array(64).fill(0.5), shape: [1, 8, 8] };
  const codeOf = async (f: () => Promise<unknown>) => {
    try {
      await f();
      return "no error";
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`;
    }
  };

  it("run() after dispose() is CNNC_DISPOSED on one thread and on two", async () => {
    for (const threads of [1, 2]) {
      const net = await r.load({ backend: "wasm", threads });
      net.dispose();
      expect(await codeOf(() => net.run({ x }))).toBe("CNNC_DISPOSED: this network has been disposed; load it again to run it");
    }
  });

  it("unknown backends and bad thread counts are refused", async () => {
    expect(await codeOf(() => r.load({ backend: "bogus" } as unknown as LoadOptions))).toBe("CNNC_BACKEND: unknown backend 'bogus'; the backends are wasm, webgpu, auto");
    expect(await codeOf(() => r.load({ threads: 0 }))).toBe("CNNC_BACKEND: threads must be a positive integer, got 0");
    expect(await codeOf(() => r.load({ threads: 2.5 }))).toBe("CNNC_BACKEND: threads must be a positive integer, got 2.5");
  });

  it("check: finite refuses NaN inputs", async () => {
    const net = await r.load({ backend: "wasm", check: "finite" });
    const bad = { data: new Float32Array(64).fill(NaN), shape: [1, 8, 8] };
    expect(await codeOf(() => net.run({ x: bad }))).toBe(
      "CNNC_INPUT: input 'x' holds not-a-number at index 0; inputs must be finite numbers",
    );
    expect(await codeOf(() => net.run({ x }))).toBe("no error");
    net.dispose();
  });

  it("non-finite inputs are refused by default, the same way on every backend", async () => {
    const both = compile("network n(x: f32[1, H, 8]) -> y { y = x |> conv(2, 3x3) |> relu |> softmax }", { target: "all" }) as CompileSuccess;
    const inf = new Float32Array(64).fill(0.5);
    inf[9] = -Infinity;
    for (const backend of ["wasm", "webgpu"] as const) {
      const net = await both.load({ backend });
      expect(await codeOf(() => net.run({ x: { data: inf, shape: [1, 8, 8] } }))).toBe(
        "CNNC_INPUT: input 'x' holds -infinity at index 9; inputs must be finite numbers",
      );
      net.dispose();
      const unchecked = await both.load({ backend, check: "none" });
      expect(await codeOf(() => unchecked.run({ x: { data: inf, shape: [1, 8, 8] } }))).toBe("no error");
      unchecked.dispose();
    }
  });

  it("results have no prototype", async () => {
    const net = await r.load({ backend: "wasm" });
    const out = await net.run({ x });
    expect(Object.getPrototypeOf(out)).toBe(null);
    net.dispose();
  });

  it("cnnc run refuses NaN inputs and sizes past the limits", () => {
    const file = path.join(tmp, "nan.npy");
    writeFileSync(file, writeNpy([1, 28, 28], new Float32Array(784).fill(NaN)));
    const nan = cnnc("run", "examples/lenet.cnn", "--input", `image=${file}`, "--backend", "wasm");
    expect(nan.code).toBe(1);
    expect(nan.err).toContain(`cnnc: error: input 'image' holds not-a-number at index 0; inputs must be finite numbers`);
    const big = cnnc("run", "examples/classifier_variable.cnn", "--random", "--size", "H=99999999999,W=8");
    expect(big.code).toBe(2);
    expect(big.err).toMatch(/cnnc: --size: input '\w+' would have shape \[3, 99999999999, 8\], 2399999999976 values, more than the 536870912 a target can hold/);
  });

  it("the float64 reference refuses sizes past its 1 GiB instead of taking the machine's memory (found by the fuzzer: seed 21 case 549)", () => {
    const r = cnnc("run", "examples/classifier_variable.cnn", "--random", "--backend", "reference", "--size", "H=3000,W=3000");
    expect(r.code).toBe(1);
    expect(r.err).toContain("cnnc: error: the reference backend keeps every value in float64: this network needs 3.8 GiB per sample with H = 3000, W = 3000, more than its 1 GiB; run it with --backend wasm");
    const fits = cnnc("run", "examples/classifier_variable.cnn", "--random", "--backend", "reference", "--size", "H=64,W=48");
    expect(fits.code, fits.err).toBe(0);
    // And past its work budget (seed 31 case 5057: a 1001x1001 kernel on 280x320 would take hours).
    const slow = cnnc("run", "examples/classifier_variable.cnn", "--random", "--backend", "reference", "--size", "H=1400,W=1400");
    expect(slow.code).toBe(1);
    expect(slow.err).toMatch(/cnnc: error: the reference backend is an unoptimised float64 interpreter: this network takes 6\.3e\+9 floating-point operations per sample with H = 1400, W = 1400, more than its budget of 2e\+9 \(about 20 s\); run it with --backend wasm/);
    // Tiled and local layers weigh three times (seed 34 cases 82262 and 89808: a minute alone).
    const file = path.join(tmp, "tiled.cnn");
    writeFileSync(file, "network tiled(image: f32[3, 24, 24]) -> features {\n  features = image |> t1: tiled(65536, 3x3, tiles: 2x2) |> relu |> maxpool(2)\n}\n");
    const tiled = cnnc("run", file, "--random", "--backend", "reference");
    expect(tiled.code).toBe(1);
    expect(tiled.err).toContain("this network takes 5.2e+9 floating-point operations per sample (tiled and local layers counted three times: they run slower here), more than its budget of 2e+9 (about 20 s)");
  });

  it("--random without the --size a symbolic input needs is refused before the compile (found by the fuzzer: seed 35 case 36159 compiled for 65 s and 2.7 GB first)", () => {
    const file = path.join(tmp, "symbolic.cnn");
    writeFileSync(file, "network n(image: f32[3, H, W]) -> y {\n  y = image |> w: conv(16, 1001, pad: same)\n}\n");
    const t0 = performance.now();
    const r = cnnc("run", file, "--random", "--backend", "wasm");
    expect(r.code).toBe(2);
    expect(r.err).toContain("cnnc: input 'image' has the symbolic size H; give it with --size H=N");
    // Not a timing test: a guard far above the parse it takes, far below the compile it was.
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it("the compiled backends refuse a run past 10^11 operations unless --allow-long (found by the fuzzer: seed 33 case 31261, 44 minutes of work; seed 35 case 95461, 5.7e12 in 9 minutes; seed 37 case 16968, 2e11 in 85 s)", () => {
    const file = path.join(tmp, "long.cnn");
    writeFileSync(file, "network volume(scan: f32[1, 16, 65536, 32]) -> features {\n  features = scan |> conv1: conv(8, 1x65536x3, pad: same) |> relu |> maxpool(2x2x2)\n}\n");
    const long = cnnc("run", file, "--random", "--backend", "wasm");
    expect(long.code).toBe(1);
    expect(long.err).toContain(
      "cnnc: error: this run takes 1.1e14 floating-point operations, about 44 minutes on one WebAssembly thread at 40 GFLOP/s; cnnc run refuses work over 1e11 unless --allow-long is given",
    );
    const asked = cnnc("run", "examples/lenet.cnn", "--random", "--allow-long");
    expect(asked.code, asked.err).toBe(0);
  });
});
