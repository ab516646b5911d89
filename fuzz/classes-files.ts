// The fuzzer's file classes beyond weights and .npy: ONNX models, images and training
// datasets, each mutated from a valid seed and fed to the reader that takes it, then through
// the CLI or compile() where that reader is the front of a longer path. A reader may refuse
// (a diagnostic, a DataError); it may not throw anything else, hang, or print NaN/undefined.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { deflateRawSync } from "node:zlib";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import { modelProto } from "../compiler/import/onnx/schema.js";
import { readImage } from "../compiler/tensors/image.js";
import { writeNpy } from "../compiler/tensors/npy.js";
import { DataError, loadDataset } from "../compiler/train/data.js";
import type { FuzzInput, InputClass } from "./classes.js";
import { cliProblems, compileProblems, messageProblems, scratchDir } from "./outcomes.js";
import { mutateBytes } from "./mutate-bytes.js";
import { int, pick, type Rng } from "./random.js";

const describe = (bytes: Uint8Array) => `${bytes.length} bytes: ${Buffer.from(bytes.subarray(0, 120)).toString("latin1")}`;

// --- ONNX ---------------------------------------------------------------------------------

/** The small ONNX fixtures (the large ones would make each case slow without new paths). */
const ONNX_SEEDS = ["tests/onnx/fixtures/dense_head.onnx", "tests/onnx/fixtures/spectrogram.onnx"];
const seeds = new Map<string, Uint8Array>();
function seed(file: string): Uint8Array {
  let b = seeds.get(file);
  if (!b) {
    b = new Uint8Array(readFileSync(path.resolve(file)));
    seeds.set(file, b);
  }
  return b;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const EXTREMES = [0, -1, 1, 2, 3, 7, 65536, 2147483647, -2147483648, 99999999999];
const OP_TYPES = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "Gemm", "MatMul", "Reshape", "Flatten", "Concat", "Slice", "Softmax", "Add", "Pad", "Resize", "Bogus", ""];

/** Edits one number, string or list in the decoded model: the importer's decisions, not the protobuf framing. */
function mutateJson(r: Rng, v: Json, depth = 0): Json {
  if (Array.isArray(v)) {
    if (v.length === 0) return r() < 0.5 ? v : [pick(r, EXTREMES)];
    const i = int(r, v.length);
    const copy = v.slice();
    const what = int(r, 4);
    if (what === 0) copy.splice(i, 1);
    else if (what === 1) copy.splice(i, 0, copy[i]);
    else copy[i] = mutateJson(r, copy[i], depth + 1);
    return copy;
  }
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 0 || depth > 12) return v;
    const k = pick(r, keys);
    const copy = { ...v };
    if (r() < 0.08) delete copy[k];
    else copy[k] = mutateJson(r, copy[k], depth + 1);
    return copy;
  }
  if (typeof v === "number") return pick(r, EXTREMES);
  if (typeof v === "string") {
    // A name, an op type, or raw bytes as base64: swap for another op, an empty name, or junk.
    if (/^[A-Z][A-Za-z]+$/.test(v)) return pick(r, OP_TYPES);
    return pick(r, ["", "x", "__proto__", "constructor", v.slice(0, Math.floor(v.length / 2)), `${v}${v}`]);
  }
  return v;
}

function mutateOnnx(r: Rng, bytes: Uint8Array): Uint8Array {
  const type = modelProto();
  const obj = type.toObject(type.decode(bytes), { bytes: String, longs: Number, defaults: false }) as Json;
  let m = obj;
  for (let k = 1 + int(r, 3); k > 0; k--) m = mutateJson(r, m);
  try {
    const msg = type.fromObject(m as { [k: string]: unknown });
    return type.encode(msg).finish();
  } catch {
    return bytes; // the edit made no encodable message: run the seed (rare)
  }
}

const onnx: InputClass = {
  name: "onnx",
  weight: 5,
  make(r) {
    const file = pick(r, ONNX_SEEDS);
    const structured = r() < 0.6;
    const bytes = structured ? mutateOnnx(r, seed(file)) : mutateBytes(r, seed(file));
    const how = r() < 0.8 ? "compile" : "cli import";
    return { text: describe(bytes), bytes, how: `${how} from ${path.basename(file)} (${structured ? "fields" : "bytes"} mutated)` };
  },
  async run(input: FuzzInput) {
    const bytes = input.bytes ?? new Uint8Array();
    if (input.how.startsWith("compile")) return compileProblems(bytes, { fileName: "fuzz.onnx", target: "webgpu", format: "onnx" });
    const dir = scratchDir();
    const file = path.join(dir, "model.onnx");
    writeFileSync(file, bytes);
    const out = path.join(dir, "imported");
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    return cliProblems(["import", file, "-o", path.join(out, "model.cnn")]);
  },
};

// --- images -------------------------------------------------------------------------------

/** A random PNG or JPEG of up to 40x40 pixels: the seed of every image mutation. */
export function validImage(r: Rng): Uint8Array {
  const width = 1 + int(r, 40);
  const height = 1 + int(r, 40);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = int(r, 256);
  if (r() < 0.5) {
    const png = new PNG({ width, height });
    png.data = Buffer.from(data);
    return new Uint8Array(PNG.sync.write(png));
  }
  return new Uint8Array(jpeg.encode({ data, width, height }, 50).data);
}

/** What an image is given to: a grey and an RGB input, fixed and symbolic sizes. */
const IMAGE_MODELS = [
  "network n(image: f32[1, 28, 28]) -> y { y = image |> avgpool(2x2) }",
  "network n(image: f32[3, H, W]) -> y { y = image |> relu }",
];

const image: InputClass = {
  name: "image",
  weight: 4,
  make(r) {
    const bytes = mutateBytes(r, validImage(r));
    return { text: describe(bytes), bytes, how: `readImage, then cnnc run --input (model ${int(r, IMAGE_MODELS.length)})` };
  },
  async run(input) {
    const bytes = input.bytes ?? new Uint8Array();
    const problems: string[] = [];
    try {
      const grey = readImage(bytes, [1, 28, 28], "unit", "x.png");
      if (!grey.ok) problems.push(...messageProblems(grey.error, "readImage"));
      const rgb = readImage(bytes, [3, { op: "sym", name: "H" }, { op: "sym", name: "W" }], "imagenet", "x.png");
      if (!rgb.ok) problems.push(...messageProblems(rgb.error, "readImage"));
    } catch (e) {
      problems.push(`readImage threw ${(e as Error).stack ?? String(e)}`);
    }
    const dir = scratchDir();
    const file = path.join(dir, "x.png");
    writeFileSync(file, bytes);
    const model = path.join(dir, "image-model.cnn");
    writeFileSync(model, `${IMAGE_MODELS[Number(/model (\d)/.exec(input.how)?.[1] ?? 0)]}\n`);
    const cli = await cliProblems(["run", model, "--input", `image=${file}`, "--backend", "reference"]);
    return { outcome: cli.outcome, problems: [...problems, ...cli.problems] };
  },
};

// --- datasets -----------------------------------------------------------------------------

function idx(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

/** A zip of .npy members, stored or deflated (numpy's savez / savez_compressed). */
export function zip(members: [string, Uint8Array][], deflate: boolean): Uint8Array {
  const local: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const body = deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const nameBytes = new TextEncoder().encode(name);
    const head = new Uint8Array(30 + nameBytes.length);
    const hv = new DataView(head.buffer);
    hv.setUint32(0, 0x04034b50, true);
    hv.setUint16(8, deflate ? 8 : 0, true);
    hv.setUint32(18, body.length, true);
    hv.setUint32(22, data.length, true);
    hv.setUint16(26, nameBytes.length, true);
    head.set(nameBytes, 30);
    const dir = new Uint8Array(46 + nameBytes.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(10, deflate ? 8 : 0, true);
    dv.setUint32(20, body.length, true);
    dv.setUint32(24, data.length, true);
    dv.setUint16(28, nameBytes.length, true);
    dv.setUint32(42, offset, true);
    dir.set(nameBytes, 46);
    local.push(head, body);
    central.push(dir);
    offset += head.length + body.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const parts = [...local, ...central, end];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const dataset: InputClass = {
  name: "dataset",
  weight: 4,
  make(r) {
    const n = 1 + int(r, 6);
    const side = 1 + int(r, 6);
    const pixels = Uint8Array.from({ length: n * side * side }, () => int(r, 256));
    const labels = Uint8Array.from({ length: n }, () => int(r, 10));
    if (r() < 0.5) {
      // An MNIST directory: one of its two IDX files mutated.
      const which = r() < 0.7 ? "images" : "labels";
      const images = idx([n, side, side], pixels);
      const lab = idx([n], labels);
      const bytes = mutateBytes(r, which === "images" ? images : lab);
      return { text: describe(bytes), bytes, how: `idx ${which} ${n} ${side}` };
    }
    const x = writeNpy([n, 1, side, side], Float32Array.from(pixels, (p) => p / 255));
    const y = writeNpy([n], Float32Array.from(labels));
    const bytes = mutateBytes(r, zip([["x.npy", x], ["y.npy", y]], r() < 0.5));
    return { text: describe(bytes), bytes, how: "npz" };
  },
  async run(input) {
    const bytes = input.bytes ?? new Uint8Array();
    const dir = path.join(scratchDir(), "data");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    let spec = path.join(dir, "d.npz");
    const m = /^idx (\w+) (\d+) (\d+)$/.exec(input.how);
    if (m) {
      const [, which, n, side] = m;
      const count = Number(n);
      const s = Number(side);
      writeFileSync(path.join(dir, "train-images-idx3-ubyte"), which === "images" ? bytes : idx([count, s, s], new Uint8Array(count * s * s)));
      writeFileSync(path.join(dir, "train-labels-idx1-ubyte"), which === "labels" ? bytes : idx([count], new Uint8Array(count)));
      spec = dir;
    } else writeFileSync(spec, bytes);
    const problems: string[] = [];
    let outcome: "ok" | "diagnostic" = "ok";
    try {
      const d = loadDataset(spec);
      if (d.images.length !== d.count * d.sampleShape.reduce((a, b) => a * b, 1)) problems.push(`loadDataset returned ${d.images.length} values for ${d.count} samples of [${d.sampleShape.join(", ")}]`);
    } catch (e) {
      outcome = "diagnostic";
      if (e instanceof DataError) problems.push(...messageProblems(e.message, "loadDataset"));
      else problems.push(`loadDataset threw ${(e as Error).stack ?? String(e)}`);
    }
    return { outcome, problems };
  },
};

export const FILE_CLASSES: readonly InputClass[] = [onnx, image, dataset];
