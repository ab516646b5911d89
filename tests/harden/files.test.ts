// Reproducers the fuzzer's file classes found (fuzz/classes-files.ts): a damaged JPEG whose
// decoder trips with a TypeError, and a .npz whose deflated member is corrupt or inflates past
// the size its directory states. Each must be a one-line refusal, never an internal message.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readImage } from "../../compiler/tensors/image.js";
import { writeNpy } from "../../compiler/tensors/npy.js";
import { DataError, loadDataset } from "../../compiler/train/data.js";
import { validImage, zip } from "../../fuzz/classes-files.js";
import { caseRng } from "../../fuzz/random.js";

const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-files-"));

function refusal(f: () => unknown): string {
  try {
    f();
    return "no error";
  } catch (e) {
    return `${e instanceof DataError ? "DataError" : "other"}: ${(e as Error).message}`;
  }
}

describe("damaged files", () => {
  it("a JPEG cut short or scrambled is 'truncated or corrupt', never a decoder's TypeError", () => {
    // Seeded JPEGs with bytes cut and overwritten: every refusal is a clean sentence.
    for (let seed = 0; seed < 40; seed++) {
      const r = caseRng(seed, 0);
      let bytes = validImage(r);
      if (bytes[0] !== 0xff) continue; // a PNG this time
      bytes = bytes.slice(0, 20 + Math.floor(r() * (bytes.length - 20)));
      for (let k = 0; k < 8; k++) bytes[20 + Math.floor(r() * (bytes.length - 20))] = Math.floor(r() * 256);
      const got = readImage(bytes, [1, 28, 28], "unit", "x.jpg");
      if (!got.ok) expect(got.error).not.toMatch(/undefined|Cannot read|Cannot set/);
    }
  });

  it("a .npz member that is not a deflate stream is a DataError", () => {
    const good = zip([["x.npy", writeNpy([2, 1, 2, 2], new Float32Array(8))], ["y.npy", writeNpy([2], new Float32Array(2))]], true);
    const bad = good.slice();
    for (let i = 30 + 5; i < 30 + 15; i++) bad[i] ^= 0x5a; // inside x.npy's deflated bytes
    const file = path.join(tmp, "bad.npz");
    writeFileSync(file, bad);
    expect(refusal(() => loadDataset(file))).toMatch(/^DataError: .*bad\.npz: member x\.npy (is not a valid deflate stream|inflates)/);
  });

  it("a .npz member that inflates past its stated size is refused before it is all inflated", () => {
    const big = new Uint8Array(1 << 20); // 1 MiB of zeros deflates to about a kilobyte
    const z = zip([["x.npy", big]], true);
    // State 100 bytes in the central directory: the inflater must stop there.
    const view = new DataView(z.buffer);
    const eocd = z.length - 22;
    const cd = view.getUint32(eocd + 16, true);
    view.setUint32(cd + 24, 100, true);
    const file = path.join(tmp, "bomb.npz");
    writeFileSync(file, z);
    expect(refusal(() => loadDataset(file))).toBe(`DataError: ${file}: member x.npy inflates past the 100 bytes its directory states`);
  });
});
