import { describe, expect, it } from "vitest";
import { readNpy, writeNpy } from "../../compiler/tensors/npy.js";
import { Random } from "../../compiler/tensors/random.js";

const F = "x.npy";

// Written by NumPy 2.4: np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)), np.save(f, np.array([1.5, -2.25, 1e-3])),
// and np.lib.format.write_array(f, np.arange(3, dtype='<f4'), version=(2, 0)).
const NUMPY_F4 =
  "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=";
const NUMPY_F8 =
  "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAALA/Knx0k1iUD8=";
const NUMPY_V2 =
  "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEA=";

const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

/** A .npy file with a hand-written header (version 1.0 unless told) and data bytes. */
function npy(header: string, data: Uint8Array | number[], version = 1): Uint8Array {
  const h = new TextEncoder().encode(header);
  const pre = version === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}

const dict = (descr: string, shape: string, fortran = "False") => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

function errorOf(bytes: Uint8Array): string {
  const r = readNpy(bytes, F);
  if (r.ok) throw new Error("expected an error");
  return r.error;
}

describe("npy round trip", () => {
  for (const shape of [[], [5], [2, 3], [1, 2, 3, 4], [0, 3]]) {
    it(`shape [${shape.join(", ")}]`, () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => (i - 3) * 0.75);
      const bytes = writeNpy(shape, data);
      const headerLength = new DataView(bytes.buffer).getUint16(8, true);
      expect((10 + headerLength) % 64).toBe(0);
      expect(bytes[10 + headerLength - 1]).toBe(0x0a);
      const r = readNpy(bytes, F);
      if (!r.ok) throw new Error(r.error);
      expect(r.value.shape).toEqual(shape);
      expect(Array.from(r.value.data)).toEqual(Array.from(data));
    });
  }

  it("writes the same bytes as NumPy", () => {
    expect(Buffer.from(writeNpy([2, 3], Float32Array.from([0, 1, 2, 3, 4, 5]))).toString("base64")).toBe(NUMPY_F4);
  });

  it("reads NumPy's files: '<f4', '<f8' (narrowed) and version 2.0", () => {
    const a = readNpy(b64(NUMPY_F4), F);
    const b = readNpy(b64(NUMPY_F8), F);
    const c = readNpy(b64(NUMPY_V2), F);
    if (!a.ok || !b.ok || !c.ok) throw new Error("expected success");
    expect(a.value).toEqual({ shape: [2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) });
    expect(b.value.shape).toEqual([3]);
    expect(Array.from(b.value.data)).toEqual([1.5, -2.25, Math.fround(1e-3)]);
    expect(c.value).toEqual({ shape: [3], data: Float32Array.from([0, 1, 2]) });
  });

  it("accepts other spellings of the header: key order, double quotes, no trailing comma, Python 2 longs, version 3.0", () => {
    const data = new Uint8Array(Float32Array.of(1, 2).buffer);
    for (const header of [
      `{"shape": (2,), "fortran_order": False, "descr": "<f4"}`,
      `{ 'descr' : '<f4' ,'fortran_order':False,'shape':(2L,) }   \n`,
      `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }`,
    ]) {
      const r = readNpy(npy(header, data), F);
      if (!r.ok) throw new Error(`${header}: ${r.error}`);
      expect(Array.from(r.value.data)).toEqual([1, 2]);
    }
    const v3 = readNpy(npy(dict("<f4", "(2,)"), data, 3), F);
    expect(v3.ok && v3.value.shape).toEqual([2]);
  });
});

describe("bad npy files", () => {
  const four = new Uint8Array(4 * 6);

  it("bad magic", () => {
    expect(errorOf(new TextEncoder().encode("PK\x03\x04 not numpy"))).toBe("x.npy: not a .npy file (it does not start with \\x93NUMPY)");
    expect(errorOf(new Uint8Array(0))).toBe("x.npy: not a .npy file (it does not start with \\x93NUMPY)");
  });

  it("short or unknown versions and header lengths", () => {
    expect(errorOf(npy(dict("<f4", "(6,)"), four).slice(0, 9))).toBe("x.npy: file is too short for a .npy header (9 bytes)");
    const v4 = npy(dict("<f4", "(6,)"), four);
    v4[6] = 4;
    expect(errorOf(v4)).toBe("x.npy: .npy format version 4.0 is not supported (expected 1.0, 2.0 or 3.0)");
    const long = npy(dict("<f4", "(6,)"), four);
    new DataView(long.buffer).setUint16(8, 60000, true);
    expect(errorOf(long)).toBe(`x.npy: header length 60000 exceeds the file size (${long.length} bytes)`);
  });

  it("big-endian dtype", () => {
    expect(errorOf(npy(dict(">f4", "(6,)"), four))).toBe("x.npy: dtype '>f4' is not supported (expected '<f4')");
  });

  it("'<i8' and other dtypes", () => {
    expect(errorOf(npy(dict("<i8", "(3,)"), four))).toBe("x.npy: dtype '<i8' is not supported (expected '<f4')");
    expect(errorOf(npy(dict("|u1", "(24,)"), four))).toBe("x.npy: dtype '|u1' is not supported (expected '<f4')");
    expect(errorOf(npy(`{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}`, four))).toBe(
      "x.npy: dtype [('a', '<f4')] is not supported (expected '<f4')",
    );
  });

  it("fortran order", () => {
    expect(errorOf(npy(dict("<f4", "(2, 3)", "True"), four))).toBe(
      "x.npy: fortran_order is True: column-major arrays are not supported (save a C-ordered array)",
    );
    expect(errorOf(npy(dict("<f4", "(2, 3)", "0"), four))).toBe("x.npy: 'fortran_order' must be True or False");
  });

  it("truncated data", () => {
    expect(errorOf(npy(dict("<f4", "(2, 3)"), new Uint8Array(20)))).toBe(
      "x.npy: expected 24 data bytes for shape (2, 3) of '<f4', but the file has 20 (truncated)",
    );
    expect(errorOf(writeNpy([4], new Float32Array(4)).slice(0, -1))).toBe(
      "x.npy: expected 16 data bytes for shape (4,) of '<f4', but the file has 15 (truncated)",
    );
  });

  it("trailing extra bytes", () => {
    expect(errorOf(npy(dict("<f4", "(2, 3)"), new Uint8Array(28)))).toBe(
      "x.npy: expected 24 data bytes for shape (2, 3) of '<f4', but the file has 28 (4 bytes too many)",
    );
  });

  it("headers that are not the expected dict", () => {
    expect(errorOf(npy("{'descr': '<f4', 'fortran_order': False", four))).toBe("x.npy: header is not a python dict literal: unexpected end of header");
    expect(errorOf(npy("__import__('os').system('x')", four))).toBe("x.npy: header is not a python dict literal: unexpected '_' at character 0");
    expect(errorOf(npy("[1, 2]", four))).toBe("x.npy: header is not a python dict literal");
    expect(errorOf(npy("{'descr': '<f4', 'shape': (6,)}", four))).toBe("x.npy: header lacks the key 'fortran_order'");
    expect(errorOf(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", four))).toBe(
      "x.npy: header has the unexpected key 'x'",
    );
    expect(errorOf(npy(dict("<f4", "(-1, 6)"), four))).toBe("x.npy: 'shape' must be a tuple of non-negative integers");
    expect(errorOf(npy(dict("<f4", "[6]"), four))).toBe("x.npy: 'shape' must be a tuple of non-negative integers");
    expect(errorOf(npy(dict("<f4", "(6.0,)"), four))).toBe("x.npy: header is not a python dict literal: unexpected '6' at character 51");
    expect(errorOf(npy(dict("<f4", "(99999999999999999999,)"), four))).toBe("x.npy: 'shape' must be a tuple of non-negative integers");
    expect(errorOf(npy(dict("<f4", `${"(".repeat(1000)}${")".repeat(1000)}`), four))).toMatch(/^x\.npy: header is not a python dict literal: nesting deeper than 32/);
  });

  it("refuses '<f8' values outside the f32 range", () => {
    const d = new Uint8Array(8);
    new DataView(d.buffer).setFloat64(0, -1e40, true);
    expect(errorOf(npy(dict("<f8", "()"), d))).toBe("x.npy: value -1e+40 at index 0 is outside the f32 range");
  });

  it("never throws on random or mutated bytes", () => {
    const PYTHONISH = "(){}[],:'\"0123456789TF -L\n";
    const rng = new Random(11);
    const valid = writeNpy([2, 2], Float32Array.of(1, 2, 3, 4));
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = valid.slice(0, trial % 5 === 0 ? rng.nextUint32() % valid.length : valid.length);
      for (let k = 0; k < 1 + (trial % 4); k++) {
        // Mutate mostly the header, where the parser lives.
        const at = rng.nextUint32() % Math.min(Math.max(bytes.length, 1), 80);
        bytes[at] = trial % 2 ? rng.nextUint32() & 0xff : PYTHONISH.charCodeAt(rng.nextUint32() % PYTHONISH.length);
      }
      const r = readNpy(bytes, F);
      if (!r.ok) {
        expect(r.error.startsWith(`${F}: `)).toBe(true);
        expect(r.error).not.toContain("\n");
      }
    }
  });
});
