// Kernel and feature-map grids: every tile's pixels are the tensor's values normalised (over
// the layer for kernels, per channel for feature maps), upscaled by whole pixels; tiles sit
// inside the picture without overlapping, on a white background.

import { describe, expect, it } from "vitest";
import { featureGrid, type GridPicture, kernelGrid, type TensorLike } from "../../compiler/pictures/grids.js";
import { rng } from "../rng.js";

function random(shape: number[], seed: number): TensorLike {
  const r = rng(seed);
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.next() * 2 - 1) };
}

const minMax = (xs: ArrayLike<number>) => [Math.min(...Array.from(xs)), Math.max(...Array.from(xs))];
const scaled = (v: number, lo: number, hi: number) => Math.round(((v - lo) / (hi - lo)) * 255);

/** The RGB of pixel (x, y). */
const rgb = (p: GridPicture, x: number, y: number) => Array.from(p.data.subarray((y * p.width + x) * 4, (y * p.width + x) * 4 + 3));

function checkLayout(p: GridPicture): void {
  expect(p.data.length).toBe(p.width * p.height * 4);
  for (const t of p.tiles) {
    expect(t.x + t.columns * t.scale).toBeLessThanOrEqual(p.width);
    expect(t.y + t.rows * t.scale).toBeLessThanOrEqual(p.height);
  }
  for (const a of p.tiles) {
    for (const b of p.tiles) {
      if (a === b) continue;
      const apart = a.x + a.columns * a.scale <= b.x || b.x + b.columns * b.scale <= a.x || a.y + a.rows * a.scale <= b.y || b.y + b.rows * b.scale <= a.y;
      expect(apart).toBe(true);
    }
  }
  // The corner is background: white.
  expect(rgb(p, 0, 0)).toEqual([255, 255, 255]);
}

describe("kernel grid", () => {
  it("grey: a tile per filter and input channel, normalised over the layer", () => {
    const w = random([4, 2, 3, 3], 1);
    const p = kernelGrid(w);
    checkLayout(p);
    expect(p.tiles.length).toBe(8);
    const [lo, hi] = minMax(w.data);
    for (const t of p.tiles) {
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const v = scaled(w.data[(t.index * 2 + t.channel) * 9 + i * 3 + j], lo, hi);
          // Every pixel of the element's square.
          for (const [dx, dy] of [[0, 0], [t.scale - 1, 0], [0, t.scale - 1], [t.scale - 1, t.scale - 1]]) {
            expect(rgb(p, t.x + j * t.scale + dx, t.y + i * t.scale + dy)).toEqual([v, v, v]);
          }
        }
      }
    }
  });

  it("three input channels: one colour tile per filter, red green blue", () => {
    const w = random([5, 3, 5, 5], 2);
    const p = kernelGrid(w);
    checkLayout(p);
    expect(p.tiles.length).toBe(5);
    const [lo, hi] = minMax(w.data);
    for (const t of p.tiles) {
      for (let i = 0; i < 5; i++) {
        for (let j = 0; j < 5; j++) {
          const want = [0, 1, 2].map((c) => scaled(w.data[(t.index * 3 + c) * 25 + i * 5 + j], lo, hi));
          expect(rgb(p, t.x + j * t.scale, t.y + i * t.scale)).toEqual(want);
        }
      }
    }
  });

  it("1-D kernels are one row; equal weights are mid grey", () => {
    const p = kernelGrid({ shape: [2, 1, 4], data: new Float32Array(8).fill(0.5) });
    checkLayout(p);
    expect(p.tiles.map((t) => [t.rows, t.columns])).toEqual([[1, 4], [1, 4]]);
    expect(rgb(p, p.tiles[0].x, p.tiles[0].y)).toEqual([128, 128, 128]);
  });
});

describe("feature grid", () => {
  it("a grey tile per channel, each normalised on its own", () => {
    const v = random([5, 7, 9], 3);
    const p = featureGrid(v);
    checkLayout(p);
    expect(p.tiles.length).toBe(5);
    for (const t of p.tiles) {
      const [lo, hi] = minMax(Array.from(v.data).slice(t.index * 63, (t.index + 1) * 63));
      for (let i = 0; i < 7; i++) {
        for (let j = 0; j < 9; j++) {
          const want = scaled(v.data[t.index * 63 + i * 9 + j], lo, hi);
          expect(rgb(p, t.x + j * t.scale + t.scale - 1, t.y + i * t.scale)).toEqual([want, want, want]);
        }
      }
    }
  });

  it("flat values and 1-D maps are rows", () => {
    expect(featureGrid(random([10], 4)).tiles.map((t) => [t.rows, t.columns])).toEqual([[1, 10]]);
    expect(featureGrid(random([3, 12], 5)).tiles.map((t) => [t.rows, t.columns])).toEqual([[1, 12], [1, 12], [1, 12]]);
  });
});
