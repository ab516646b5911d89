// Bad ONNX files and models cnnc cannot import: each is one clear message (no stack trace),
// `cnnc` exits 1 and writes nothing. Also: unsupported ops are listed once per op type with
// their opset, first node and count, and a graph that mixes the batch axis is refused.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { fromOnnx } from "../../compiler/import/onnx/index.js";
import { compile } from "../../compiler/index.js";
import { attr, buildModel, type GraphSpec } from "./model.js";
import { ProtoWriter } from "./proto.js";
import { compareWithOrt, seeded } from "./compare.js";

const conv = (extra: Partial<GraphSpec> = {}): GraphSpec => ({
  nodes: [{ op: "Conv", inputs: ["x", "w"], outputs: ["y"] }],
  inputs: [{ name: "x", shape: [1, 1, 5, 5] }],
  outputs: [{ name: "y" }],
  initializers: [{ name: "w", shape: [2, 1, 3, 3], data: new Array<number>(18).fill(0.5) }],
  ...extra,
});

function errors(bytes: Uint8Array): string[] {
  const r = fromOnnx(bytes);
  if (r.ok) throw new Error("expected a refusal");
  return [...r.errors];
}

/** A model whose one initializer has raw_data shorter than its shape. */
function shortRawData(): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 9);
  w.message(7, (g) => {
    g.message(1, (n) => n.string(1, "x").string(1, "w").string(2, "y").string(3, "c").string(4, "Conv"));
    g.message(5, (t) => t.packedInts(1, [2, 1, 3, 3]).int(2, 1).string(8, "w").bytesField(9, new Uint8Array(40)));
    g.message(11, (v) => v.string(1, "x").message(2, (ty) => ty.message(1, (tt) => tt.int(1, 1).message(2, (s) => [1, 1, 5, 5].forEach((d) => s.message(1, (dim) => dim.int(1, d)))))));
    g.message(12, (v) => v.string(1, "y"));
  });
  w.message(8, (o) => o.string(1, "").int(2, 17));
  return w.finish();
}

/** A 2 GB declared tensor (no data: the size alone is refused). */
function hugeTensor(): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 9);
  w.message(7, (g) => {
    g.message(5, (t) => t.packedInts(1, [1 << 15, 1 << 14]).int(2, 1).string(8, "big"));
    g.message(1, (n) => n.string(1, "x").string(2, "y").string(3, "r").string(4, "Relu"));
  });
  w.message(8, (o) => o.string(1, "").int(2, 17));
  return w.finish();
}

/** Paddle's exporters keep weights in Constant nodes (a tensor attribute, raw_data) rather than initializers. */
function constantNodeWeights(): Uint8Array {
  const raw = new Uint8Array(new Float32Array(Array.from({ length: 18 }, (_, i) => (i % 5) - 2.5)).buffer);
  const w = new ProtoWriter();
  w.int(1, 8);
  w.message(7, (g) => {
    g.message(1, (n) => n.string(2, "w").string(3, "conv2d_0.w_0").string(4, "Constant").message(5, (a) =>
      a.string(1, "value").int(20, 4).message(5, (t) => t.packedInts(1, [2, 1, 3, 3]).int(2, 1).string(8, "w").bytesField(9, raw))));
    g.message(1, (n) => n.string(2, "b").string(3, "conv2d_0.b_0").string(4, "Constant").message(5, (a) =>
      a.string(1, "value").int(20, 4).message(5, (t) => t.packedInts(1, [2]).int(2, 1).packedFloats(4, [0.5, -0.5]))));
    g.message(1, (n) => n.string(1, "x").string(1, "w").string(1, "b").string(2, "y").string(3, "conv2d_0").string(4, "Conv"));
    g.message(11, (v) => v.string(1, "x").message(2, (ty) => ty.message(1, (tt) => tt.int(1, 1).message(2, (s) => [1, 1, 6, 5].forEach((d) => s.message(1, (dim) => dim.int(1, d)))))));
    g.message(12, (v) => v.string(1, "y"));
  });
  w.message(8, (o) => o.string(1, "").int(2, 13));
  return w.finish();
}

describe("weights in Constant nodes", () => {
  it("import equals onnxruntime", async () => {
    const e = await compareWithOrt(constantNodeWeights(), { x: { shape: [1, 1, 6, 5], data: seeded(3, 30) } }, ["reference"]);
    expect(e.reference).toBeLessThan(1e-5);
  });
});

describe("bad ONNX files", () => {
  const good = buildModel(conv());

  it("a truncated protobuf", () => {
    expect(errors(good.subarray(0, Math.floor(good.length * 0.6))).join()).toMatch(/truncated or corrupt|no graph|reads|defines/);
  });
  it("wrong magic", () => {
    expect(errors(new TextEncoder().encode("PK\u0003\u0004 zip file"))).toEqual([expect.stringMatching(/not an ONNX model/)]);
  });
  it("raw_data shorter than the shape", () => {
    expect(errors(shortRawData())[0]).toMatch(/'w' has 40 bytes of raw_data, but its shape \[2, 1, 3, 3\] of float32 needs 72/);
  });
  it("a cycle", () => {
    const g = conv({ nodes: [{ op: "Relu", inputs: ["b"], outputs: ["a"] }, { op: "Relu", inputs: ["a"], outputs: ["b"] }, { op: "Add", inputs: ["x", "a"], outputs: ["y"] }] });
    expect(errors(buildModel(g))[0]).toMatch(/cycle through node/);
  });
  it("a node reading an undefined value", () => {
    const g = conv({ nodes: [{ op: "Relu", inputs: ["nowhere"], outputs: ["y"] }] });
    expect(errors(buildModel(g))[0]).toMatch(/node "n0" \(Relu\) reads "nowhere", which no node, input or initializer defines/);
  });
  it("a conv whose bias is another initializer of the wrong length (found by the fuzzer: seed 31 case 10800)", () => {
    const g = conv({ nodes: [{ op: "Conv", inputs: ["x", "w", "w"], outputs: ["y"] }] });
    expect(errors(buildModel(g))).toEqual(["layer n0: its bias has 18 values, but the layer takes [2] (2)"]);
  });
  it("a node on constants that lacks an input it needs (found by the fuzzer: seed 32 case 209)", () => {
    const g = conv({
      nodes: [{ op: "Relu", inputs: [], outputs: ["r"] }, { op: "Add", inputs: ["w"], outputs: ["a"] }, { op: "Conv", inputs: ["x", "w"], outputs: ["y"] }],
    });
    expect(errors(buildModel(g))).toEqual(['node "n0" (Relu): takes at least 1 input, and this node has 0']);
    const add = conv({ nodes: [{ op: "Add", inputs: ["w"], outputs: ["a"] }, { op: "Conv", inputs: ["x", "w"], outputs: ["y"] }] });
    expect(errors(buildModel(add))).toEqual(['node "n0" (Add): takes at least 2 inputs, and this node has 1']);
  });
  it("an empty input name where the op has no optional inputs (found by the fuzzer: seed 35 case 11084)", () => {
    for (const op of ["Add", "Max", "Concat"]) {
      const g = conv({ nodes: [{ op: "Conv", inputs: ["x", "w"], outputs: ["c"] }, { op, inputs: ["c", ""], outputs: ["y"], attrs: op === "Concat" ? [attr.int("axis", 1)] : [] }] });
      expect(errors(buildModel(g))).toEqual([`node "n1" (${op}): its input 1 is empty, and ${op} has no optional inputs`]);
    }
  });
  it("a 2 GB declared tensor", () => {
    expect(errors(hugeTensor())[0]).toMatch(/declares 536870912 elements/);
  });
  it("unsupported ops: one message per op type, with opset, first node and count", () => {
    const g = conv({
      nodes: [
        { op: "LSTM", inputs: ["x"], outputs: ["a"] },
        { op: "Conv", inputs: ["x", "w"], outputs: ["c"] },
        { op: "LSTM", inputs: ["c"], outputs: ["d"] },
        { op: "If", inputs: ["x"], outputs: ["y"] },
      ],
    });
    expect(errors(buildModel(g))).toEqual([
      'unsupported ONNX op LSTM (opset 19): used by 2 nodes, first "n0"; cnnc cannot import this model',
      'unsupported ONNX op If (opset 19): used by 1 node, first "n3"; cnnc cannot import this model',
    ]);
  });
  it("a reshape across the batch axis names the node", () => {
    const g = conv({
      nodes: [{ op: "Reshape", inputs: ["x", "s"], outputs: ["y"] }],
      initializers: [{ name: "s", shape: [2], data: [5, 5], type: "int64" }],
    });
    expect(errors(buildModel(g))[0]).toMatch(/node "n0" \(Reshape\): reshapes across the batch axis/);
  });
  it("wrap padding, and reflect padding as long as the axis, name the node", () => {
    const pad = (mode: string, p: number) => conv({
      nodes: [{ op: "Pad", inputs: ["x", "p"], outputs: ["xp"], attrs: [attr.string("mode", mode)] }, { op: "Conv", inputs: ["xp", "w"], outputs: ["y"] }],
      initializers: [{ name: "p", shape: [8], data: [0, 0, p, p, 0, 0, p, p], type: "int64" }, { name: "w", shape: [2, 1, 3, 3], data: new Array<number>(18).fill(0.5) }],
    });
    expect(errors(buildModel(pad("wrap", 1)))[0]).toMatch(/node "n0" \(Pad\): wrap padding; cnnc pads with a constant, reflect or edge/);
    expect(errors(buildModel(pad("reflect", 100)))[0]).toMatch(/node "n0" \(Pad\): reflect padding of 100 on an axis of size \d+; it must be smaller than the axis/);
  });
  it("a transpose across the batch axis names the node", () => {
    const g = conv({ nodes: [{ op: "Transpose", inputs: ["x"], outputs: ["y"], attrs: [attr.ints("perm", [1, 0, 2, 3])] }] });
    expect(errors(buildModel(g))[0]).toMatch(/node "n0" \(Transpose\): transposes across the batch axis/);
  });
  it("compile() says so as a diagnostic, never throws", () => {
    const r = compile(new Uint8Array([1, 2, 3]), { format: "onnx", fileName: "m.onnx" });
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0].message).toMatch(/not an ONNX model/);
  });

  it("cnnc import and run: exit 1, a message, nothing written", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cnnc-onnx-"));
    const bad = path.join(dir, "bad.onnx");
    writeFileSync(bad, shortRawData());
    const out = path.join(dir, "bad.cnn");
    for (const args of [["import", bad, "-o", out], ["run", bad, "--random"]]) {
      const r = spawnSync(process.execPath, ["bin/cnnc.js", ...args], { encoding: "utf8" });
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(/bad\.onnx: error: initializer 'w' has 40 bytes of raw_data/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(out)).toBe(false);
    expect(existsSync(path.join(dir, "bad.safetensors"))).toBe(false);
  });

  it("cnnc import writes source and weights that run to the model's answer", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cnnc-onnx-"));
    const model = path.join(dir, "m.onnx");
    writeFileSync(model, readFileSync("tests/onnx/fixtures/dense_head.onnx"));
    const out = path.join(dir, "m.cnn");
    const imp = spawnSync(process.execPath, ["bin/cnnc.js", "import", model, "-o", out], { encoding: "utf8" });
    expect(imp.status, imp.stderr).toBe(0);
    const direct = spawnSync(process.execPath, ["bin/cnnc.js", "run", model, "--random", "3"], { encoding: "utf8" });
    const viaSource = spawnSync(process.execPath, ["bin/cnnc.js", "run", out, "--weights", path.join(dir, "m.safetensors"), "--random", "3"], { encoding: "utf8" });
    expect(direct.status, direct.stderr).toBe(0);
    expect(viaSource.stdout).toBe(direct.stdout);
    // A second import onto the files it wrote is refused without --force (cnnc cannot tell its
    // own .cnn from a user's), and replaces them with it; -o onto an input never, even with --force.
    const again = spawnSync(process.execPath, ["bin/cnnc.js", "import", model, "-o", out], { encoding: "utf8" });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("m.cnn exists; pass --force to replace it");
    const forced = spawnSync(process.execPath, ["bin/cnnc.js", "import", model, "-o", out, "--force"], { encoding: "utf8" });
    expect(forced.status, forced.stderr).toBe(0);
    const source = readFileSync(out, "utf8");
    const onto = spawnSync(process.execPath, ["bin/cnnc.js", "export", out, "--weights", path.join(dir, "m.safetensors"), "-o", out, "--force"], { encoding: "utf8" });
    expect(onto.status).toBe(1);
    expect(onto.stderr).toContain("is an input of this command");
    expect(readFileSync(out, "utf8")).toBe(source);
  });
});
