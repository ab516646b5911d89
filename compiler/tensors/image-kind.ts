// What the CLI needs to know about images before decoding one: whether a file is a PNG or a
// JPEG, and the normalisations with their one-line description. Kept apart from image.ts so
// that the CLI loads the decoders (pngjs, jpeg-js) only when an input is an image.

import type { Normalization } from "../../runtime/image.js";

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
