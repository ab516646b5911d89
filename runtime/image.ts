// Images to input tensors, in the browser and in Node: `fromImage(image, options)` draws an
// ImageData, <img>, VideoFrame or ImageBitmap on a canvas (OffscreenCanvas where there is one)
// to read its pixels; `fromPixels(rgba, width, height, options)`, which it calls, does the
// rest without a canvas (the CLI calls it on decoded PNG and JPEG files). No node: imports.
//
// What a network gets: [1, C, H, W] float32, channels first, rows top to bottom. C = 1 is the
// luma (0.299 R + 0.587 G + 0.114 B, ITU-R BT.601), C = 3 is R, G, B; alpha is ignored (as
// over black would be wrong for a transparent digit on white; callers flatten if they care).
// The image is resized to H x W by bilinear interpolation (pixel centres aligned, as
// OpenCV's INTER_LINEAR and PyTorch's align_corners=false). Then one normalisation:
//   "unit" (default): v / 255, in [0, 1];
//   "imagenet": (v / 255 - mean) / std with mean (0.485, 0.456, 0.406) and std (0.229, 0.224,
//     0.225) for R, G, B (for C = 1: mean 0.449, std 0.226, their averages);
//   "none": v, in [0, 255].

import type { TensorData } from "./session.js";

export type Normalization = "unit" | "imagenet" | "none";

export interface ImageOptions {
  /** Channels: 1 (luma) or 3 (RGB). Default 3. */
  readonly channels?: number;
  /** Height and width to resize to; default the image's own. */
  readonly height?: number;
  readonly width?: number;
  /** Default "unit" (v / 255). */
  readonly normalize?: Normalization;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** RGBA bytes (4 per pixel, row-major) to a [1, C, H, W] tensor, resized and normalised. */
export function fromPixels(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, options: ImageOptions = {}): TensorData {
  const C = options.channels ?? 3;
  if (C !== 1 && C !== 3) throw new RangeError(`an image gives 1 channel (luma) or 3 (RGB), not ${C}`);
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) throw new RangeError(`${width}x${height} RGBA pixels need ${width * height * 4} bytes, got ${rgba.length}`);
  const H = options.height ?? height;
  const W = options.width ?? width;
  if (!(Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0)) throw new RangeError(`cannot resize to ${W}x${H}`);
  const norm = options.normalize ?? "unit";
  // Per output channel: the source values (luma or one of R, G, B) as floats in [0, 255].
  const plane = new Float32Array(width * height);
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < width * height; i++) {
      const p = i * 4;
      plane[i] = C === 1 ? 0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2] : rgba[p + c];
    }
    const mean = norm === "imagenet" ? (C === 1 ? 0.449 : IMAGENET_MEAN[c]) : 0;
    const std = norm === "imagenet" ? (C === 1 ? 0.226 : IMAGENET_STD[c]) : 1;
    const scale = norm === "none" ? 1 : 1 / 255;
    const base = c * H * W;
    for (let y = 0; y < H; y++) {
      // Centre-aligned source coordinate, clamped to the image.
      const sy = Math.min(Math.max((y + 0.5) * (height / H) - 0.5, 0), height - 1);
      const y0 = Math.floor(sy);
      const y1 = Math.min(y0 + 1, height - 1);
      const fy = sy - y0;
      for (let x = 0; x < W; x++) {
        const sx = Math.min(Math.max((x + 0.5) * (width / W) - 0.5, 0), width - 1);
        const x0 = Math.floor(sx);
        const x1 = Math.min(x0 + 1, width - 1);
        const fx = sx - x0;
        const top = plane[y0 * width + x0] * (1 - fx) + plane[y0 * width + x1] * fx;
        const bottom = plane[y1 * width + x0] * (1 - fx) + plane[y1 * width + x1] * fx;
        const v = top * (1 - fy) + bottom * fy;
        out[base + y * W + x] = (v * scale - mean) / std;
      }
    }
  }
  return { data: out, shape: [1, C, H, W] };
}

/** What the browser can draw: the DOM's image sources, or pixels already read. */
export type ImageSource = ImageData | HTMLImageElement | HTMLCanvasElement | ImageBitmap | VideoFrame | OffscreenCanvas;

/** An image in the browser (or a worker) to a [1, C, H, W] tensor; see the top of this file. */
export function fromImage(image: ImageSource, options: ImageOptions = {}): TensorData {
  if (typeof ImageData !== "undefined" && image instanceof ImageData) return fromPixels(image.data, image.width, image.height, options);
  const size = sourceSize(image as Exclude<ImageSource, ImageData>);
  // Draw at the target size when it is known: the browser's own (bilinear or better)
  // scaling, and far fewer pixels to read back.
  const width = options.width ?? size.width;
  const height = options.height ?? size.height;
  const ctx = context2d(width, height);
  ctx.drawImage(image as CanvasImageSource, 0, 0, width, height);
  const { data } = ctx.getImageData(0, 0, width, height);
  return fromPixels(data, width, height, { ...options, width, height });
}

function sourceSize(image: Exclude<ImageSource, ImageData>): { width: number; height: number } {
  if (typeof VideoFrame !== "undefined" && image instanceof VideoFrame) return { width: image.displayWidth, height: image.displayHeight };
  if (typeof HTMLImageElement !== "undefined" && image instanceof HTMLImageElement) return { width: image.naturalWidth, height: image.naturalHeight };
  const { width, height } = image as { width: number; height: number };
  return { width, height };
}

type Context2d = Pick<CanvasRenderingContext2D, "drawImage" | "getImageData">;

function context2d(width: number, height: number): Context2d {
  if (typeof OffscreenCanvas !== "undefined") {
    const ctx = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
    if (ctx) return ctx;
  }
  if (typeof document !== "undefined") {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (ctx) return ctx;
  }
  throw new Error("fromImage needs a canvas (OffscreenCanvas or document); in Node, decode the image and call fromPixels");
}
