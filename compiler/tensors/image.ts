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

export const NORMALIZATIONS: readonly Normalization[] = ["unit", "imagenet", "none"];

/** One line for --help and messages: what each normalisation does. */
export const NORMALIZATION_HELP = "unit: v/255 in [0,1] (default); imagenet: (v/255 - mean)/std, mean 0.485,0.456,0.406, std 0.229,0.224,0.225; none: v in [0,255]";

export type ImageFormat = "png" | "jpeg";

/** PNG or JPEG by the file's first bytes (its name may lie). */
export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return undefined;
}

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
    return { ok: false, error: `${name}: cannot decode the ${format === "png" ? "PNG" : "JPEG"} image: ${(e as Error).message}` };
  }
  if (width * height > MAX_PIXELS) return { ok: false, error: `${name}: ${width}x${height} is larger than cnnc decodes (${MAX_PIXELS} pixels)` };
  const H = typeof shape[1] === "number" ? shape[1] : undefined;
  const W = typeof shape[2] === "number" ? shape[2] : undefined;
  return { ok: true, value: fromPixels(rgba, width, height, { channels: c, height: H, width: W, normalize }) };
}
