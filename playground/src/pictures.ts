// The playground's raster pictures, drawn on canvases: a layer's kernels as a grid (one row
// per filter, one small image per input channel: the book's figure 9.19), and the feature
// maps of an input (one small image per channel of each layer's output). Grey levels are the
// values scaled from their minimum (black) to their maximum (white): over the whole layer for
// kernels, so that filters compare; per channel for feature maps, so that each shows its pattern.

import type { FeatureMap, KernelWeights } from "./protocol.js";

function range(data: ArrayLike<number>, from = 0, to = data.length): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i++) {
    lo = Math.min(lo, data[i]);
    hi = Math.max(hi, data[i]);
  }
  return { lo, hi };
}

/** Draws `h` x `w` values starting at `offset` into `ctx` at (x, y), `scale` pixels per value. */
function plane(ctx: CanvasRenderingContext2D, data: ArrayLike<number>, offset: number, h: number, w: number, lo: number, hi: number, x: number, y: number, scale: number): void {
  const img = ctx.createImageData(w, h);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < h * w; i++) {
    const g = Math.round(((data[offset + i] - lo) / span) * 255);
    img.data.set([g, g, g, 255], i * 4);
  }
  // Nearest-neighbour enlargement: draw at 1:1 on a scratch canvas, then scale it up unsmoothed.
  const scratch = document.createElement("canvas");
  scratch.width = w;
  scratch.height = h;
  scratch.getContext("2d")!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, x, y, w * scale, h * scale);
}

/** The kernels of one layer, [filters, channels, kh, kw] (a 1-D kernel is drawn as one row). */
export function drawKernels(canvas: HTMLCanvasElement, k: KernelWeights): void {
  const [filters, channels, ...kernel] = k.shape;
  const kh = kernel.length >= 2 ? kernel[kernel.length - 2] : 1;
  const kw = kernel[kernel.length - 1] ?? 1;
  // A 3-D kernel shows its first slice along depth: the grid stays two-dimensional.
  const perChannel = kernel.reduce((a, b) => a * b, 1);
  const shown = Math.min(channels, 16);
  // One row per filter, one image per input channel; one-channel kernels wrap, 8 to a row.
  const cols = shown > 1 ? shown : Math.min(filters, 8);
  const rows = shown > 1 ? filters : Math.ceil(filters / cols);
  const scale = Math.max(2, Math.floor(72 / Math.max(kh, kw)));
  const gap = 4;
  canvas.width = cols * (kw * scale + gap) + gap;
  canvas.height = rows * (kh * scale + gap) + gap;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#e8e8e8";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const { lo, hi } = range(k.data);
  for (let f = 0; f < filters; f++) {
    for (let c = 0; c < shown; c++) {
      const cell = shown > 1 ? { row: f, col: c } : { row: Math.floor(f / cols), col: f % cols };
      plane(ctx, k.data, (f * channels + c) * perChannel, kh, kw, lo, hi, gap + cell.col * (kw * scale + gap), gap + cell.row * (kh * scale + gap), scale);
    }
  }
}

/** Every layer's output for one input: a row of channel images per layer with 2 spatial axes, the values of a vector. */
export function drawFeatures(root: HTMLElement, maps: readonly FeatureMap[]): void {
  root.replaceChildren();
  for (const m of maps) {
    const row = document.createElement("div");
    row.className = "feature-row";
    const label = document.createElement("div");
    label.className = "feature-label";
    label.textContent = `${m.layer}: ${m.op} → [${m.shape.join(", ")}]`;
    row.append(label);
    if (m.shape.length === 3) {
      const [C, H, W] = m.shape;
      const shown = Math.min(C, 16);
      const scale = Math.max(1, Math.floor(56 / Math.max(H, W)));
      const canvas = document.createElement("canvas");
      canvas.className = "feature-maps";
      canvas.width = shown * (W * scale + 3);
      canvas.height = H * scale;
      const ctx = canvas.getContext("2d")!;
      for (let c = 0; c < shown; c++) {
        const { lo, hi } = range(m.data, c * H * W, (c + 1) * H * W);
        plane(ctx, m.data, c * H * W, H, W, lo, hi, c * (W * scale + 3), 0, scale);
      }
      row.append(canvas);
      if (C > shown) label.textContent += ` (first ${shown} of ${C} channels)`;
    } else {
      const values = document.createElement("div");
      values.className = "feature-values";
      values.textContent = Array.from(m.data.slice(0, 12), (v) => v.toFixed(3)).join("  ") + (m.data.length > 12 ? "  …" : "");
      row.append(values);
    }
    root.append(row);
  }
}
