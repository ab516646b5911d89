// fromImage in Chromium (runtime/image.ts): every kind of image source a page has (ImageData,
// a canvas, an OffscreenCanvas, an ImageBitmap, an <img> from a PNG, a VideoFrame) gives
// exactly the tensor fromPixels gives on the same pixels, with each option (channels,
// normalisation); resized by the browser's drawImage, it is close to fromPixels' bilinear
// resize (the browser's filter is its own, so not equal) and has the asked shape.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PNG } from "pngjs";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromPixels, type ImageOptions } from "../../runtime/image.js";
import { type BrowserSession, haveBrowser, openPage } from "./harness.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>fromImage</title>
<script type="module">
  import { fromImage } from "./image.js";
  const plain = (t) => ({ shape: t.shape, data: Array.from(t.data) });
  window.sources = async (rgba, width, height, png, options) => {
    const pixels = new ImageData(new Uint8ClampedArray(rgba), width, height);
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").putImageData(pixels, 0, 0);
    const offscreen = new OffscreenCanvas(width, height);
    offscreen.getContext("2d").putImageData(pixels, 0, 0);
    const bitmap = await createImageBitmap(pixels);
    const img = new Image();
    img.src = "data:image/png;base64," + png;
    await img.decode();
    const frame = new VideoFrame(bitmap, { timestamp: 0 });
    const out = {};
    for (const [name, source] of Object.entries({ imageData: pixels, canvas, offscreen, bitmap, img, frame })) out[name] = plain(fromImage(source, options));
    frame.close();
    return out;
  };
  window.pageReady = true;
</script>
`;

let dir = "";
let session: BrowserSession | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-browser-image-"));
  const source = readFileSync(path.resolve(__dirname, "../../runtime/image.ts"), "utf8");
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 } }).outputText;
  writeFileSync(path.join(dir, "image.js"), js);
  writeFileSync(path.join(dir, "index.html"), PAGE);
  if (haveBrowser) session = await openPage(dir);
}, 300_000);

afterAll(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opaque seeded pixels (alpha 255: a canvas stores premultiplied colour, exact only when opaque). */
function picture(width: number, height: number, seed: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  let s = seed;
  for (let i = 0; i < rgba.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    // A smooth picture plus a little noise, so that resizing filters agree closely.
    const p = i >> 2;
    const x = p % width;
    const y = Math.floor(p / width);
    rgba[i] = (i & 3) === 3 ? 255 : Math.round(127 + 90 * Math.sin((x + 3 * (i & 3)) / 5) * Math.cos(y / 7)) + ((s >>> 28) - 8);
  }
  return rgba;
}

type Result = Record<string, { shape: number[]; data: number[] }>;

async function inPage(rgba: Uint8Array, width: number, height: number, options: ImageOptions): Promise<Result> {
  if (!session) throw new Error("no browser");
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  const base64 = PNG.sync.write(png).toString("base64");
  return session.page.evaluate(
    ([p, w, h, b, o]) => (window as unknown as { sources: (...a: unknown[]) => Promise<Result> }).sources(p, w, h, b, o),
    [Array.from(rgba), width, height, base64, options] as const,
  );
}

describe("fromImage in Chromium", () => {
  browserIt("gives fromPixels' tensor for every image source, with each option", async () => {
    const width = 23;
    const height = 17;
    const rgba = picture(width, height, 7);
    for (const options of [{}, { channels: 1 }, { normalize: "imagenet" }, { channels: 1, normalize: "none" }] as ImageOptions[]) {
      const want = fromPixels(rgba, width, height, options);
      const got = await inPage(rgba, width, height, options);
      expect(Object.keys(got).sort()).toEqual(["bitmap", "canvas", "frame", "imageData", "img", "offscreen"]);
      for (const [name, t] of Object.entries(got)) {
        expect(t.shape, name).toEqual(want.shape);
        const worst = t.data.reduce((m, v, i) => Math.max(m, Math.abs(v - want.data[i])), 0);
        expect(worst, `${name} ${JSON.stringify(options)}`).toBeLessThan(1e-5);
      }
    }
  });

  browserIt("resizes with the browser's filter, close to fromPixels' bilinear", async () => {
    const rgba = picture(64, 48, 11);
    const options: ImageOptions = { width: 28, height: 28, channels: 1 };
    const want = fromPixels(rgba, 64, 48, options);
    const got = await inPage(rgba, 64, 48, options);
    for (const [name, t] of Object.entries(got)) {
      expect(t.shape, name).toEqual([1, 1, 28, 28]);
      const mean = t.data.reduce((m, v, i) => m + Math.abs(v - want.data[i]), 0) / t.data.length;
      expect(mean, name).toBeLessThan(0.05);
    }
  });
});
