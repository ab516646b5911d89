// Reads and writes safetensors weight files (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping tensor names to
// { dtype, shape, data_offsets: [begin, end] } (offsets relative to the byte buffer that
// follows the header), then the byte buffer. Everything in the file is checked before it is
// used (header length against the file size, JSON shape, dtypes, offsets against the buffer,
// byte lengths against shapes, no two tensors sharing bytes), so a truncated or hostile file
// gives one clear message naming the file and never an exception. F32 is the native type;
// F16, BF16 and F64 are converted to Float32Array on read (F64 values outside the f32 range
// are an error rather than a silent infinity). Data offsets need not be aligned: values are
// copied out bytewise, little-endian.

import { fail, ok, printable, type Result } from "./result.js";

export type StoredDtype = "F32" | "F16" | "BF16" | "F64";

export interface StoredTensor {
  readonly dtype: StoredDtype;
  readonly shape: number[];
  readonly data: Float32Array;
}

/** Bytes per element of each dtype we read. */
const DTYPE_SIZE: Readonly<Record<StoredDtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** The safetensors crate refuses headers above 100 MB; so do we, before decoding anything. */
export const MAX_HEADER_BYTES = 100_000_000;

interface Entry {
  readonly name: string;
  readonly dtype: StoredDtype;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

export function readSafetensors(bytes: Uint8Array, fileName: string): Result<Map<string, StoredTensor>> {
  const bad = (what: string) => fail(`${fileName}: ${what}`);
  if (bytes.length < 8) {
    return bad(`file is too short to be safetensors (${bytes.length} bytes; the header length alone takes 8)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    return bad(`header length ${headerLength} exceeds the file size (${bytes.length} bytes)`);
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) return bad(`header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return bad("header is not valid utf-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    return bad("header is not valid json");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return bad("header is not a json object");
  }

  const dataStart = 8 + n;
  const dataSize = bytes.length - dataStart;
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      const m = raw;
      if (typeof m !== "object" || m === null || Array.isArray(m) || Object.values(m).some((v) => typeof v !== "string")) {
        return bad("'__metadata__' must map names to strings");
      }
      continue;
    }
    const e = checkEntry(name, raw, dataSize);
    if (typeof e === "string") return bad(`tensor '${printable(name)}': ${e}`);
    entries.push(e);
  }

  // Sorted by start, two tensors overlap exactly when one starts before the previous one
  // (the one reaching furthest so far) ends. Empty tensors own no bytes.
  const byStart = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let reach: Entry | undefined;
  for (const e of byStart) {
    if (reach && e.begin < reach.end) {
      return bad(
        `tensors '${printable(reach.name)}' and '${printable(e.name)}' overlap (bytes [${reach.begin}, ${reach.end}) and [${e.begin}, ${e.end}))`,
      );
    }
    if (!reach || e.end > reach.end) reach = e;
  }

  const out = new Map<string, StoredTensor>();
  for (const e of entries) {
    const data = decode(bytes, dataStart + e.begin, e.dtype, (e.end - e.begin) / DTYPE_SIZE[e.dtype]);
    if (typeof data === "string") return bad(`tensor '${printable(e.name)}': ${data}`);
    out.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return ok(out);
}

/** Validates one header entry; returns it, or what is wrong with it. */
function checkEntry(name: string, raw: unknown, dataSize: number): Entry | string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "entry is not a json object";
  const r = raw as Record<string, unknown>;
  const { dtype, shape, data_offsets: offsets } = r;
  for (const key of ["dtype", "shape", "data_offsets"]) {
    if (!Object.prototype.hasOwnProperty.call(r, key)) return `missing '${key}'`;
  }
  if (typeof dtype !== "string") return "'dtype' must be a string";
  if (!Object.prototype.hasOwnProperty.call(DTYPE_SIZE, dtype)) {
    return `dtype '${printable(dtype)}' is not supported (expected F32, F16, BF16 or F64)`;
  }
  const dt = dtype as StoredDtype;
  if (!Array.isArray(shape) || !shape.every(isCount)) return "'shape' must be a list of non-negative integers";
  const dims = shape as number[];
  let numel = 1;
  for (const d of dims) numel *= d;
  if (!Number.isSafeInteger(numel)) return `shape [${dims.join(", ")}] has too many elements`;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    return "'data_offsets' must be [begin, end] with 0 <= begin <= end";
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataSize) return `data_offsets [${begin}, ${end}] exceed the data size (${dataSize} bytes)`;
  const need = numel * DTYPE_SIZE[dt];
  if (end - begin !== need) {
    return `data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${dims.join(", ")}] of ${dt} needs ${need}`;
  }
  return { name, dtype: dt, shape: dims.slice(), begin, end };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copies `count` elements of `dtype` starting at byte `at` into a fresh Float32Array. */
function decode(bytes: Uint8Array, at: number, dtype: StoredDtype, count: number): Float32Array | string {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32":
      // A bytewise copy into the aligned output handles unaligned offsets in one go.
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(at, at + 4 * count));
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + 4 * i, true);
      return out;
    case "F16": {
      const table = halfTable();
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(at + 2 * i, true)];
      return out;
    }
    case "BF16": {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(1);
      const f = new Float32Array(bits.buffer);
      for (let i = 0; i < count; i++) {
        bits[0] = view.getUint16(at + 2 * i, true) << 16;
        out[i] = f[0];
      }
      return out;
    }
    case "F64":
      for (let i = 0; i < count; i++) {
        const v = view.getFloat64(at + 8 * i, true);
        out[i] = v;
        if (Number.isFinite(v) && !Number.isFinite(out[i])) return `value ${v} at index ${i} is outside the f32 range`;
      }
      return out;
  }
}

let HALF: Float32Array | undefined;

/** All 65536 IEEE half-precision values as float32 (exact: f32 holds every f16). */
function halfTable(): Float32Array {
  if (HALF) return HALF;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24; // zero and subnormals
    else if (exp === 31) t[h] = frac === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  HALF = t;
  return t;
}

/**
 * Writes F32 tensors as a safetensors file, in the map's order, packed back to back. The
 * header is padded with spaces so the byte buffer starts 8-byte aligned (the format allows
 * trailing whitespace in the header). Throws on a caller's mistake (data length not matching
 * the shape, the reserved name `__metadata__`): this is for tests and tools, not user input.
 */
export function writeSafetensors(tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): Uint8Array {
  const header: Record<string, { dtype: "F32"; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new RangeError("writeSafetensors: '__metadata__' is not a tensor name");
    if (!t.shape.every((d) => isCount(d))) throw new RangeError(`writeSafetensors: tensor '${name}' has an invalid shape [${t.shape.join(", ")}]`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new RangeError(`writeSafetensors: tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(", ")}] needs ${numel}`);
    }
    header[name] = { dtype: "F32", shape: [...t.shape], data_offsets: [offset, offset + 4 * numel] };
    offset += 4 * numel;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i], true);
  }
  return out;
}
