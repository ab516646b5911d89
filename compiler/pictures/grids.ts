// Pictures of tensors as grids of small images (figure 9.19 of the chapter): a layer's kernels
// (one block per filter: a grey tile per input channel, or one colour tile when the layer reads
// 3 channels, which are then red, green and blue) and a layer's feature maps (a grey tile per
// channel). Values are normalised to 0..255 (kernels over the whole layer, so filters compare;
// feature maps per channel, so each one shows its own contrast), upscaled with nearest
// neighbour so that a 3x3 kernel is visible, and separated by thin white lines. Pure: returns
// RGBA pixels; the CLI encodes them as PNG and the playground draws them on a canvas.

/** RGBA pixels, row-major, 4 bytes each. */
export interface Picture {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/** Where one tile went: filter (or channel of a feature map), input channel, and its box. */
export interface Tile {
  readonly index: number;
  /** The input channel of a kernel tile; -1 for a colour tile or a feature map. */
  readonly channel: number;
  readonly x: number;
  readonly y: number;
  /** Pixels per tensor element (nearest-neighbour upscaling). */
  readonly scale: number;
  /** The tile's size in tensor elements: [rows, columns]. */
  readonly rows: number;
  readonly columns: number;
}

export interface GridPicture extends Picture {
  readonly tiles: readonly Tile[];
}

export interface TensorLike {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

const MARGIN = 3;
/** Between the tiles of one filter. */
const THIN = 1;
/** Between filters (or feature maps). */
const GAP = 3;

/** Maps values in [lo, hi] to 0..255 (the middle grey when they are all equal). */
export function normaliser(lo: number, hi: number): (v: number) => number {
  if (!(hi > lo)) return () => 128;
  return (v) => Math.round(((v - lo) / (hi - lo)) * 255);
}

function range(data: ArrayLike<number>, from = 0, to = data.length): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** A white canvas. */
function canvas(width: number, height: number): Picture & { data: Uint8ClampedArray } {
  return { width, height, data: new Uint8ClampedArray(width * height * 4).fill(255) };
}

function put(p: Picture, x: number, y: number, r: number, g: number, b: number): void {
  const i = (y * p.width + x) * 4;
  p.data[i] = r;
  p.data[i + 1] = g;
  p.data[i + 2] = b;
  p.data[i + 3] = 255;
}

/** Fills a tile: element (i, j) becomes a scale x scale square of colour(i, j). */
function fill(p: Picture, t: Tile, colour: (i: number, j: number) => [number, number, number]): void {
  for (let i = 0; i < t.rows; i++) {
    for (let j = 0; j < t.columns; j++) {
      const [r, g, b] = colour(i, j);
      for (let dy = 0; dy < t.scale; dy++) for (let dx = 0; dx < t.scale; dx++) put(p, t.x + j * t.scale + dx, t.y + i * t.scale + dy, r, g, b);
    }
  }
}

/** Pixels per element so that a tile is at least `target` pixels across (and at least 1). */
function scaleFor(rows: number, columns: number, target: number): number {
  return Math.max(1, Math.floor(target / Math.max(rows, columns)));
}

/**
 * A convolution's kernels, weight [F, C, k1] or [F, C, k1, k2] (a 1-D kernel is one row):
 * filters in a square grid when each is one tile (C = 1, or C = 3 as colour), else one filter
 * per row with a tile per input channel. Normalised over the whole layer.
 */
export function kernelGrid(weight: TensorLike, options: { scale?: number; colour?: boolean } = {}): GridPicture {
  const [F, C, ...k] = weight.shape;
  if (k.length < 1 || k.length > 2) throw new Error(`kernelGrid: weight [${weight.shape.join(", ")}] has ${k.length} spatial axes; 1 or 2 are drawn`);
  const rows = k.length === 2 ? k[0] : 1;
  const columns = k[k.length - 1];
  const colour = options.colour ?? C === 3;
  const perFilter = colour ? 1 : C;
  const scale = options.scale ?? scaleFor(rows, columns, 24);
  const tw = columns * scale;
  const th = rows * scale;
  const blockW = perFilter * tw + (perFilter - 1) * THIN;
  const cols = perFilter === 1 ? Math.ceil(Math.sqrt(F)) : 1;
  const gridRows = Math.ceil(F / cols);
  const p = canvas(2 * MARGIN + cols * blockW + (cols - 1) * GAP, 2 * MARGIN + gridRows * th + (gridRows - 1) * GAP);
  const norm = normaliser(...range(weight.data));
  const area = rows * columns;
  const at = (f: number, c: number, i: number, j: number) => weight.data[(f * C + c) * area + i * columns + j];
  const tiles: Tile[] = [];
  for (let f = 0; f < F; f++) {
    const bx = MARGIN + (f % cols) * (blockW + GAP);
    const by = MARGIN + Math.floor(f / cols) * (th + GAP);
    if (colour) {
      const t: Tile = { index: f, channel: -1, x: bx, y: by, scale, rows, columns };
      fill(p, t, (i, j) => [norm(at(f, 0, i, j)), norm(at(f, 1, i, j)), norm(at(f, 2, i, j))]);
      tiles.push(t);
      continue;
    }
    for (let c = 0; c < C; c++) {
      const t: Tile = { index: f, channel: c, x: bx + c * (tw + THIN), y: by, scale, rows, columns };
      fill(p, t, (i, j) => {
        const v = norm(at(f, c, i, j));
        return [v, v, v];
      });
      tiles.push(t);
    }
  }
  return { ...p, tiles };
}

/**
 * A value's feature maps, [C, H, W] or [C, L] (one row each) or flat [N] (one row): a grey
 * tile per channel in a square grid, each normalised over its own values.
 */
export function featureGrid(value: TensorLike, options: { scale?: number } = {}): GridPicture {
  const shape = value.shape.length === 1 ? [1, 1, value.shape[0]] : value.shape.length === 2 ? [value.shape[0], 1, value.shape[1]] : value.shape;
  if (shape.length !== 3) throw new Error(`featureGrid: a value [${value.shape.join(", ")}] has ${value.shape.length - 1} spatial axes; up to 2 are drawn`);
  const [C, rows, columns] = shape;
  const scale = options.scale ?? scaleFor(rows, columns, 96);
  const tw = columns * scale;
  const th = rows * scale;
  const cols = Math.ceil(Math.sqrt(C));
  const gridRows = Math.ceil(C / cols);
  const p = canvas(2 * MARGIN + cols * tw + (cols - 1) * GAP, 2 * MARGIN + gridRows * th + (gridRows - 1) * GAP);
  const area = rows * columns;
  const tiles: Tile[] = [];
  for (let c = 0; c < C; c++) {
    const norm = normaliser(...range(value.data, c * area, (c + 1) * area));
    const t: Tile = { index: c, channel: -1, x: MARGIN + (c % cols) * (tw + GAP), y: MARGIN + Math.floor(c / cols) * (th + GAP), scale, rows, columns };
    fill(p, t, (i, j) => {
      const v = norm(value.data[c * area + i * columns + j]);
      return [v, v, v];
    });
    tiles.push(t);
  }
  return { ...p, tiles };
}
