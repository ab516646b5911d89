import { describe, expect, it } from "vitest";
import { readSafetensors, writeSafetensors } from "../../compiler/tensors/safetensors.js";
import { Random } from "../../compiler/tensors/random.js";

const F = "w.safetensors";

/** A safetensors file from a header (object, or raw text) and a byte buffer, with `pad` spaces after the JSON. */
function build(header: unknown, data: Uint8Array | number[], pad = 0): Uint8Array {
  const text = (typeof header === "string" ? header : JSON.stringify(header)) + " ".repeat(pad);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function errorOf(bytes: Uint8Array): string {
  const r = readSafetensors(bytes, F);
  if (r.ok) throw new Error("expected an error");
  return r.error;
}

describe("safetensors round trip", () => {
  it("reads back what it writes, in order, with shapes and values", () => {
    const tensors = new Map([
      ["conv1.weight", { shape: [2, 1, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => i * 0.5 - 3) }],
      ["conv1.bias", { shape: [2], data: Float32Array.of(1e-30, -Infinity) }],
      ["scalar", { shape: [], data: Float32Array.of(42) }],
      ["empty", { shape: [0, 4], data: new Float32Array(0) }],
      ["ünïcode.name", { shape: [1], data: Float32Array.of(NaN) }],
    ]);
    const bytes = writeSafetensors(tensors);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const r = readSafetensors(bytes, F);
    if (!r.ok) throw new Error(r.error);
    expect([...r.value.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const got = r.value.get(name)!;
      expect(got.dtype).toBe("F32");
      expect(got.shape).toEqual(t.shape);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
    }
  });

  it("reads tensors at unaligned offsets, and from a Uint8Array that is a view at an odd offset", () => {
    // Offsets 1 and 5 put the floats at unaligned positions, whatever the header length.
    const header = { a: { dtype: "F32", shape: [1], data_offsets: [1, 5] }, b: { dtype: "F32", shape: [2], data_offsets: [5, 13] } };
    const data = new Uint8Array(13);
    const dv = new DataView(data.buffer);
    dv.setFloat32(1, 1.25, true);
    dv.setFloat32(5, -7, true);
    dv.setFloat32(9, 3.5, true);
    const file = build(header, data, 1);
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    for (const bytes of [file, shifted.subarray(3)]) {
      const r = readSafetensors(bytes, F);
      if (!r.ok) throw new Error(r.error);
      expect(Array.from(r.value.get("a")!.data)).toEqual([1.25]);
      expect(Array.from(r.value.get("b")!.data)).toEqual([-7, 3.5]);
    }
  });

  it("ignores __metadata__ and accepts trailing spaces in the header", () => {
    const r = readSafetensors(
      build({ __metadata__: { format: "pt" }, x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32Bytes([2]), 5),
      F,
    );
    if (!r.ok) throw new Error(r.error);
    expect([...r.value.keys()]).toEqual(["x"]);
  });
});

describe("safetensors dtypes", () => {
  it("widens F16, including subnormals, infinities, negative values and NaN", () => {
    const halves = [0x3c00, 0xc000, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7bff, 0x3800, 0x8000, 0x7e00, 0x3555];
    const data = new Uint8Array(2 * halves.length);
    halves.forEach((h, i) => new DataView(data.buffer).setUint16(2 * i, h, true));
    const r = readSafetensors(build({ h: { dtype: "F16", shape: [halves.length], data_offsets: [0, data.length] } }, data), F);
    if (!r.ok) throw new Error(r.error);
    const t = r.value.get("h")!;
    expect(t.dtype).toBe("F16");
    const v = Array.from(t.data);
    expect(v.slice(0, 9)).toEqual([1, -2, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, 65504, 0.5, -0]);
    expect(Object.is(v[8], -0)).toBe(true);
    expect(Number.isNaN(v[9])).toBe(true);
    expect(v[10]).toBeCloseTo(1 / 3, 3);
  });

  it("widens BF16 and narrows F64", () => {
    const bf = new Uint8Array(4);
    new DataView(bf.buffer).setUint16(0, 0x3fc0, true); // 1.5
    new DataView(bf.buffer).setUint16(2, 0xc120, true); // -10
    const f64 = new Uint8Array(16);
    new DataView(f64.buffer).setFloat64(0, 0.1, true);
    new DataView(f64.buffer).setFloat64(8, -1e-50, true);
    const data = new Uint8Array([...bf, ...f64]);
    const r = readSafetensors(
      build({ b: { dtype: "BF16", shape: [2], data_offsets: [0, 4] }, d: { dtype: "F64", shape: [2], data_offsets: [4, 20] } }, data),
      F,
    );
    if (!r.ok) throw new Error(r.error);
    expect(Array.from(r.value.get("b")!.data)).toEqual([1.5, -10]);
    expect(Array.from(r.value.get("d")!.data)).toEqual([Math.fround(0.1), -0]);
  });

  it("refuses F64 values outside the f32 range", () => {
    const d = new Uint8Array(16);
    new DataView(d.buffer).setFloat64(8, 1e300, true);
    expect(errorOf(build({ d: { dtype: "F64", shape: [2], data_offsets: [0, 16] } }, d))).toBe(
      "w.safetensors: tensor 'd': value 1e+300 at index 1 is outside the f32 range",
    );
  });
});

describe("bad safetensors files", () => {
  const ok1 = { a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } };

  it("fewer than 8 bytes", () => {
    expect(errorOf(new Uint8Array(5))).toBe("w.safetensors: file is too short to be safetensors (5 bytes; the header length alone takes 8)");
  });

  it("header length past the end", () => {
    const bytes = new Uint8Array(120);
    new DataView(bytes.buffer).setBigUint64(0, 4000000n, true);
    expect(errorOf(bytes)).toBe("w.safetensors: header length 4000000 exceeds the file size (120 bytes)");
    new DataView(bytes.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    expect(errorOf(bytes)).toBe("w.safetensors: header length 18446744073709551615 exceeds the file size (120 bytes)");
    new DataView(bytes.buffer).setBigUint64(0, 113n, true);
    expect(errorOf(bytes)).toBe("w.safetensors: header length 113 exceeds the file size (120 bytes)");
  });

  it("header not JSON, not an object, not UTF-8", () => {
    expect(errorOf(build("{not json", []))).toBe("w.safetensors: header is not valid json");
    expect(errorOf(build("", []))).toBe("w.safetensors: header is not valid json");
    expect(errorOf(build("[1, 2]", []))).toBe("w.safetensors: header is not a json object");
    expect(errorOf(build("null", []))).toBe("w.safetensors: header is not a json object");
    const bad = build('{"a"}', []);
    bad[9] = 0xff;
    expect(errorOf(bad)).toBe("w.safetensors: header is not valid utf-8");
  });

  it("malformed entries", () => {
    expect(errorOf(build({ a: 3 }, []))).toBe("w.safetensors: tensor 'a': entry is not a json object");
    expect(errorOf(build({ a: { dtype: "F32", shape: [1] } }, []))).toBe("w.safetensors: tensor 'a': missing 'data_offsets'");
    expect(errorOf(build({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }, []))).toBe(
      "w.safetensors: tensor 'a': 'shape' must be a list of non-negative integers",
    );
    expect(errorOf(build({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 0] } }, []))).toBe(
      "w.safetensors: tensor 'a': 'shape' must be a list of non-negative integers",
    );
    expect(errorOf(build({ a: { dtype: "F32", shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 0] } }, []))).toBe(
      "w.safetensors: tensor 'a': shape [1073741824, 1073741824, 1073741824] has too many elements",
    );
    expect(errorOf(build({ a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, f32Bytes([1])))).toBe(
      "w.safetensors: tensor 'a': 'data_offsets' must be [begin, end] with 0 <= begin <= end",
    );
    expect(errorOf(build({ __metadata__: { n: 1 } }, []))).toBe("w.safetensors: '__metadata__' must map names to strings");
  });

  it("offsets past the end", () => {
    expect(errorOf(build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, f32Bytes([1])))).toBe(
      "w.safetensors: tensor 'a': data_offsets [0, 8] exceed the data size (4 bytes)",
    );
  });

  it("offsets whose length does not match the shape", () => {
    expect(errorOf(build({ a: { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24)))).toBe(
      "w.safetensors: tensor 'a': data_offsets [0, 20] span 20 bytes, but shape [2, 3] of F32 needs 24",
    );
  });

  it("overlapping tensors", () => {
    const header = {
      b: { dtype: "F32", shape: [4], data_offsets: [8, 24] },
      a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
    };
    expect(errorOf(build(header, new Uint8Array(24)))).toBe("w.safetensors: tensors 'a' and 'b' overlap (bytes [0, 16) and [8, 24))");
    // A tensor inside a longer one, not adjacent to it in start order.
    const nested = {
      big: { dtype: "F32", shape: [6], data_offsets: [0, 24] },
      x: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      y: { dtype: "F32", shape: [1], data_offsets: [16, 20] },
    };
    expect(errorOf(build(nested, new Uint8Array(24)))).toBe("w.safetensors: tensors 'big' and 'x' overlap (bytes [0, 24) and [4, 8))");
    // Empty tensors own no bytes, so they may sit anywhere.
    const empty = { ...ok1, e: { dtype: "F32", shape: [0], data_offsets: [2, 2] } };
    expect(readSafetensors(build(empty, f32Bytes([1])), F).ok).toBe(true);
  });

  it("unsupported dtype", () => {
    expect(errorOf(build({ a: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)))).toBe(
      "w.safetensors: tensor 'a': dtype 'I64' is not supported (expected F32, F16, BF16 or F64)",
    );
  });

  it("quotes hostile names safely on one line", () => {
    const name = "a\nb" + "x".repeat(100);
    const msg = errorOf(build({ [name]: { dtype: "I8", shape: [], data_offsets: [0, 1] } }, [0]));
    expect(msg).toBe(`w.safetensors: tensor 'a\\u000ab${"x".repeat(61)}...': dtype 'I8' is not supported (expected F32, F16, BF16 or F64)`);
  });

  it("never throws on random or mutated bytes", () => {
    const rng = new Random(7);
    const valid = writeSafetensors(new Map([["a", { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }], ["b", { shape: [3], data: Float32Array.of(5, 6, 7) }]]));
    for (let trial = 0; trial < 3000; trial++) {
      let bytes: Uint8Array;
      if (trial % 3 === 0) {
        bytes = new Uint8Array(rng.nextUint32() % 64);
        for (let i = 0; i < bytes.length; i++) bytes[i] = rng.nextUint32() & 0xff;
      } else {
        bytes = valid.slice(0, trial % 5 === 0 ? rng.nextUint32() % valid.length : valid.length);
        for (let k = 0; k < 1 + (trial % 4); k++) bytes[rng.nextUint32() % Math.max(bytes.length, 1)] = rng.nextUint32() & 0xff;
      }
      const r = readSafetensors(bytes, F);
      if (!r.ok) {
        expect(r.error.startsWith(`${F}: `)).toBe(true);
        expect(r.error).not.toContain("\n");
      }
    }
  });
});
