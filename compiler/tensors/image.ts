// PNG and JPEG files to input tensors, for `cnnc run --input NAME=photo.png`: decoded with
// pngjs and jpeg-js (pure JavaScript), then resized and normalised by the runtime's
// fromPixels (runtime/image.ts states the layout, the resize and the normalisations), to the
// input's shape: [C, H, W] with C 1 (luma) or 3 (RGB); a symbolic H or W takes the image's own.

import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { fromPixels, type Normalization } from "../../runtime/image.js";
import type { Dim } from "../../runtime/dim.js";
import type { TensorData } from "../../runtime/session.js";
import type { Result } from "./result.js";
import { imageFormat } from "./image-kind.js";

/** Largest image decoded (pixels): a bound on memory for a hostile file. */
const MAX_PIXELS = 64 * 1024 * 1024;

/** Decodes a PNG or JPEG and lays it out for an input of shape `shape` ([C, H, W]). */
export function readImage(bytes: Uint8Array, shape: readonly Dim[], normalize: Normalization, name: string): Result<TensorData> {
  const format = imageFormat(bytes);
  if (!format) return { ok: false, error: `${name}: not a PNG or JPEG image` };
  if (shape.length !== 3) return { ok: false, error: `${name}: an image gives a [C, H, W] input, and this input has ${shape.length} axes` };
  const c = shape[0];
  if (c !== 1 && c !== 3) return { ok: false, error: `${name}: an image gives 1 channel (grey) or 3 (RGB), and this input has ${typeof c === "number" ? c : "a symbolic number of"} channels` };
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (format === "png") {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      rgba = png.data;
      width = png.width;
      height = png.height;
    } else {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
      rgba = img.data;
      width = img.width;
      height = img.height;
    }
  } catch (e) {
    // The decoders' own refusals are worth quoting; a TypeError or RangeError is a decoder
    // tripping over bytes it did not expect ("Cannot read properties of undefined"), which
    // says nothing to the user but that the file is damaged.
    const kind = format === "png" ? "PNG" : "JPEG";
    const why = e instanceof TypeError || e instanceof RangeError ? "the file is truncated or corrupt" : (e as Error).message;
    return { ok: false, error: `${name}: cannot decode the ${kind} image: ${why}` };
  }
  if (width * height > MAX_PIXELS) return { ok: false, error: `${name}: ${width}x${height} is larger than cnnc decodes (${MAX_PIXELS} pixels)` };
  const H = typeof shape[1] === "number" ? shape[1] : undefined;
  const W = typeof shape[2] === "number" ? shape[2] : undefined;
  return { ok: true, value: fromPixels(rgba, width, height, { channels: c, height: H, width: W, normalize }) };
}
