// The playground's raster pictures, drawn on canvases from the RGBA grids that `cnnc show`
// writes as PNG (compiler/pictures/grids.ts): a layer's kernels (one tile per filter and input
// channel, or one colour tile for a 3-channel layer: the book's figure 9.19; normalised over
// the layer so that filters compare), and every layer's feature maps for an input (a tile per
// channel, each normalised over its own values). Values without two spatial axes print as numbers.

import { featureGrid, type GridPicture, kernelGrid } from "../../compiler/pictures/grids.js";
import type { FeatureMap, KernelWeights } from "./protocol.js";

function paint(canvas: HTMLCanvasElement, g: GridPicture): void {
  canvas.width = g.width;
  canvas.height = g.height;
  canvas.getContext("2d")!.putImageData(new ImageData(new Uint8ClampedArray(g.data), g.width, g.height), 0, 0);
}

/** The kernels of one layer, [filters, channels, ...kernel]; false when they cannot be drawn (3-D kernels). */
export function drawKernels(canvas: HTMLCanvasElement, k: KernelWeights): boolean {
  const spatial = k.shape.slice(2);
  if (spatial.length < 1 || spatial.length > 2) {
    canvas.width = canvas.height = 0;
    return false;
  }
  paint(canvas, kernelGrid(k, { scale: Math.max(2, Math.floor(64 / Math.max(...spatial))) }));
  return true;
}

/** Every layer's output for one input: its channels as a grid when it has 2 spatial axes, else its first values. */
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
      const canvas = document.createElement("canvas");
      canvas.className = "feature-maps";
      paint(canvas, featureGrid(m, { scale: Math.max(1, Math.floor(40 / Math.max(m.shape[1], m.shape[2]))) }));
      row.append(canvas);
    } else {
      const values = document.createElement("div");
      values.className = "feature-values";
      values.textContent = Array.from(m.data.slice(0, 12), (v) => v.toFixed(3)).join("  ") + (m.data.length > 12 ? "  …" : "");
      row.append(values);
    }
    root.append(row);
  }
}
