// Mutations of binary files (.safetensors, .npy): bytes flipped, ranges cut or repeated,
// little-endian integers set to extremes, and the JSON or Python-dict header edited as text,
// where most of a reader's decisions are made.

import { int, pick, type Rng } from "./random.js";

const HEADER_EDITS: readonly [RegExp, readonly string[]][] = [
  [/\d+/, ["0", "-1", "1e308", "4294967296", "99999999999", "NaN", "1.5"]],
  [/"F32"|'<f4'/, ['"F16"', '"I64"', "'>f8'", "'<i4'", '"X"']],
  [/\[/, ["[[", "{", "[-1, "]],
  [/True|False/, ["True", "False", "None"]],
  [/"shape"|'shape'/, ['"__proto__"', "'shape'", '"shape" : null, "x"']],
];

export function mutateBytes(r: Rng, bytes: Uint8Array): Uint8Array {
  let b = new Uint8Array(bytes);
  const n = 1 + int(r, 3);
  for (let k = 0; k < n; k++) {
    switch (int(r, 6)) {
      case 0: {
        if (b.length) b[int(r, b.length)] = int(r, 256);
        break;
      }
      case 1:
        b = b.slice(0, int(r, b.length + 1));
        break;
      case 2: {
        const i = int(r, b.length + 1);
        const len = int(r, 64);
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, i));
        out.set(b.subarray(i, i + len), i);
        out.set(b.subarray(i), i + Math.min(len, b.length - i));
        b = out.slice(0, b.length + Math.min(len, b.length - i));
        break;
      }
      case 3: {
        // A 32- or 64-bit length at the start (safetensors' header size) or anywhere.
        const i = r() < 0.5 ? 0 : int(r, Math.max(1, b.length - 8));
        const v = pick(r, [0, 1, 0xffffffff, 0x7fffffff, 2 ** 31, 123456789]);
        if (b.length >= i + 8) {
          new DataView(b.buffer, b.byteOffset).setUint32(i, v, true);
          if (r() < 0.3) new DataView(b.buffer, b.byteOffset).setUint32(i + 4, int(r, 3) === 0 ? 0xffffffff : 0, true);
        }
        break;
      }
      default: {
        // Edit the header as text (latin1 keeps every byte as one character).
        const text = Buffer.from(b).toString("latin1");
        const [re, choices] = pick(r, HEADER_EDITS);
        const head = text.slice(0, 512).replace(re, pick(r, choices));
        b = new Uint8Array(Buffer.from(head + text.slice(512), "latin1"));
      }
    }
  }
  return b;
}
