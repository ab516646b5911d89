// Reads and writes NumPy .npy arrays (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
// the format of network inputs and outputs on the command line. A file is the magic
// "\x93NUMPY", a version (1.0: u16 header length; 2.0 and 3.0: u32; 3.0 has a UTF-8 header),
// a header that is a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), },
// then the raw data. The header is parsed by a small parser of Python literals written here
// (never evaluated), and the file is checked before use: dtype little-endian f32 (or f64,
// narrowed; values outside the f32 range are an error), C order, and a data length equal to
// the shape's exactly, so a truncated or padded file is reported rather than misread.

import { fail, ok, printable, type Result } from "./result.js";

export interface NpyArray {
  readonly shape: number[];
  readonly data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** NumPy itself refuses headers over 10000 bytes unless told otherwise; a megabyte is generous. */
export const MAX_HEADER_BYTES = 1 << 20;

const ITEM_SIZE: Readonly<Record<string, number>> = { "<f4": 4, "<f8": 8 };

export function readNpy(bytes: Uint8Array, fileName: string): Result<NpyArray> {
  const bad = (what: string) => fail(`${fileName}: ${what}`);
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    return bad("not a .npy file (it does not start with \\x93NUMPY)");
  }
  if (bytes.length < 8) return bad(`file is too short for a .npy header (${bytes.length} bytes)`);
  const major = bytes[6];
  const minor = bytes[7];
  if (minor !== 0 || major < 1 || major > 3) {
    return bad(`.npy format version ${major}.${minor} is not supported (expected 1.0, 2.0 or 3.0)`);
  }
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) return bad(`file is too short for a .npy header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lengthBytes;
  if (headerLength > bytes.length - headerStart) {
    return bad(`header length ${headerLength} exceeds the file size (${bytes.length} bytes)`);
  }
  if (headerLength > MAX_HEADER_BYTES) return bad(`header length ${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const dataStart = headerStart + headerLength;

  const raw = bytes.subarray(headerStart, dataStart);
  let text = "";
  if (major === 3) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      return bad("header is not valid utf-8");
    }
  } else {
    for (const b of raw) text += String.fromCharCode(b); // latin-1: one byte, one code point
  }
  const parsed = parsePython(text);
  if (typeof parsed === "string") return bad(`header is not a python dict literal: ${parsed}`);
  if (parsed.kind !== "dict") return bad("header is not a python dict literal");
  const header = parsed.entries;
  for (const key of header.keys()) {
    if (key !== "descr" && key !== "fortran_order" && key !== "shape") return bad(`header has the unexpected key '${printable(key)}'`);
  }
  const descr = header.get("descr");
  const fortran = header.get("fortran_order");
  const shapeValue = header.get("shape");
  if (!descr) return bad("header lacks the key 'descr'");
  if (!fortran) return bad("header lacks the key 'fortran_order'");
  if (!shapeValue) return bad("header lacks the key 'shape'");

  const dtype = descr.kind === "str" ? descr.value : undefined;
  if (dtype === undefined || !Object.prototype.hasOwnProperty.call(ITEM_SIZE, dtype)) {
    return bad(`dtype ${printable(repr(descr))} is not supported (expected '<f4')`);
  }
  if (fortran.kind !== "bool") return bad("'fortran_order' must be True or False");
  if (fortran.value) return bad("fortran_order is True: column-major arrays are not supported (save a C-ordered array)");
  if (shapeValue.kind !== "tuple" || !shapeValue.items.every((d) => d.kind === "int" && Number.isSafeInteger(d.value) && d.value >= 0)) {
    return bad("'shape' must be a tuple of non-negative integers");
  }
  const shape = shapeValue.items.map((d) => (d.kind === "int" ? d.value : 0));
  let numel = 1;
  for (const d of shape) numel *= d;
  const itemSize = ITEM_SIZE[dtype];
  const expected = numel * itemSize;
  if (!Number.isSafeInteger(expected)) return bad(`shape ${pyShape(shape)} has too many elements`);
  const actual = bytes.length - dataStart;
  if (actual !== expected) {
    const how = actual < expected ? "truncated" : `${actual - expected} bytes too many`;
    return bad(`expected ${expected} data bytes for shape ${pyShape(shape)} of '${dtype}', but the file has ${actual} (${how})`);
  }

  const data = new Float32Array(numel);
  if (itemSize === 4) {
    if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(dataStart));
    else for (let i = 0; i < numel; i++) data[i] = view.getFloat32(dataStart + 4 * i, true);
  } else {
    for (let i = 0; i < numel; i++) {
      const v = view.getFloat64(dataStart + 8 * i, true);
      data[i] = v;
      if (Number.isFinite(v) && !Number.isFinite(data[i])) return bad(`value ${v} at index ${i} is outside the f32 range`);
    }
  }
  return ok({ shape, data });
}

/**
 * A version 1.0 '<f4' .npy file, laid out as NumPy writes it: the header padded with spaces
 * and ended by '\n' so that the data starts at a multiple of 64 bytes (version 2.0 only if
 * the header outgrows 65535 bytes). Throws if the data does not fit the shape (a caller's bug).
 */
export function writeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`writeNpy: invalid shape [${shape.join(", ")}]`);
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== data.length) throw new RangeError(`writeNpy: ${data.length} values do not fit shape [${shape.join(", ")}] (${numel})`);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`;
  let preamble = 10;
  let total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  if (total - preamble > 0xffff) {
    preamble = 12;
    total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  }
  const headerLength = total - preamble;
  const out = new Uint8Array(total + 4 * numel);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = preamble === 10 ? 1 : 2;
  out[7] = 0;
  if (preamble === 10) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  for (let i = 0; i < dict.length; i++) out[preamble + i] = dict.charCodeAt(i);
  out.fill(0x20, preamble + dict.length, total - 1);
  out[total - 1] = 0x0a;
  for (let i = 0; i < numel; i++) view.setFloat32(total + 4 * i, data[i], true);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A shape as Python prints a tuple: (), (5,), (2, 3). */
function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

// ---- Python literals: just enough of the grammar for .npy headers ----

type PyValue =
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "tuple" | "list"; readonly items: readonly PyValue[] }
  | { readonly kind: "dict"; readonly entries: ReadonlyMap<string, PyValue> };

/** An integer (optionally Python 2's 3L) or a constant, matched where the parser stands. */
const WORD = /(?:-?\d+L?|True|False|None)(?![\w.])/y;

/** Nesting deeper than this is no header NumPy writes; refusing it keeps the stack safe. */
const MAX_DEPTH = 32;

/** Parses one Python literal filling the whole text (surrounding whitespace allowed); or says what is wrong. */
function parsePython(text: string): PyValue | string {
  let i = 0;
  const skip = () => {
    while (i < text.length && " \t\r\n\f\v".includes(text[i])) i++;
  };
  const here = () => (i < text.length ? `unexpected '${printable(text[i], 1)}' at character ${i}` : "unexpected end of header");

  const value = (depth: number): PyValue | string => {
    if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} at character ${i}`;
    skip();
    const c = text[i];
    if (c === "'" || c === '"') return str();
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]";
      i++;
      const items: PyValue[] = [];
      let comma = false;
      for (;;) {
        skip();
        if (text[i] === close) {
          i++;
          break;
        }
        if (items.length > 0 && !comma) return here();
        const v = value(depth + 1);
        if (typeof v === "string") return v;
        items.push(v);
        skip();
        comma = text[i] === ",";
        if (comma) i++;
      }
      // (x) is x in Python; only a comma makes a one-element tuple.
      if (c === "(" && items.length === 1 && !comma) return items[0];
      return { kind: c === "(" ? "tuple" : "list", items };
    }
    if (c === "{") {
      i++;
      const entries = new Map<string, PyValue>();
      let comma = true;
      for (;;) {
        skip();
        if (text[i] === "}") {
          i++;
          break;
        }
        if (!comma) return here();
        const at = i;
        const k = value(depth + 1);
        if (typeof k === "string") return k;
        if (k.kind !== "str") return `dict keys must be strings (character ${at})`;
        skip();
        if (text[i] !== ":") return here();
        i++;
        const v = value(depth + 1);
        if (typeof v === "string") return v;
        if (entries.has(k.value)) return `duplicate key '${printable(k.value)}'`;
        entries.set(k.value, v);
        skip();
        comma = text[i] === ",";
        if (comma) i++;
      }
      return { kind: "dict", entries };
    }
    WORD.lastIndex = i;
    const word = WORD.exec(text);
    if (!word) return here();
    i += word[0].length;
    if (word[0] === "True" || word[0] === "False") return { kind: "bool", value: word[0] === "True" };
    if (word[0] === "None") return { kind: "none" };
    // Python 2 wrote longs as 3L; more than 16 digits is never a safe integer.
    const digits = word[0].replace(/L$/, "");
    return { kind: "int", value: digits.replace(/^-/, "").length > 16 ? Infinity : Number(digits) };
  };

  const str = (): PyValue | string => {
    const quote = text[i];
    const start = i;
    i++;
    let s = "";
    while (i < text.length && text[i] !== quote) {
      if (text[i] === "\\") {
        i++;
        if (i >= text.length) break;
        const e = text[i];
        s += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e === "0" ? "\0" : e;
      } else if (text[i] === "\n") {
        return `unterminated string at character ${start}`;
      } else {
        s += text[i];
      }
      i++;
    }
    if (i >= text.length) return `unterminated string at character ${start}`;
    i++;
    return { kind: "str", value: s };
  };

  const v = value(0);
  if (typeof v === "string") return v;
  skip();
  return i === text.length ? v : here();
}

/** A parsed value written back as Python would (for messages). */
function repr(v: PyValue): string {
  switch (v.kind) {
    case "str":
      return `'${v.value}'`;
    case "int":
      return String(v.value);
    case "bool":
      return v.value ? "True" : "False";
    case "none":
      return "None";
    case "tuple":
      return v.items.length === 1 ? `(${repr(v.items[0])},)` : `(${v.items.map(repr).join(", ")})`;
    case "list":
      return `[${v.items.map(repr).join(", ")}]`;
    case "dict":
      return `{${[...v.entries].map(([k, x]) => `'${k}': ${repr(x)}`).join(", ")}}`;
  }
}
