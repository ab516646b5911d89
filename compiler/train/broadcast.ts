// Channel-first broadcasting as the training steps see it (the rule of reference/shape.ts: an
// operand of lower rank gets trailing 1s, then an axis of size 1 repeats along the output's).
// Both compiled steps take from here what their loops need: each operand's strides against the
// output (0 on a repeated axis) for a broadcast add or mul, and, for a gradient summed back down
// to an operand's shape, which axes of dy are kept and which are summed.

const strides = (shape: readonly number[]): number[] => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** `shape` padded with trailing 1s to `rank` axes. */
function padded(shape: readonly number[], rank: number): number[] {
  return [...shape, ...new Array<number>(Math.max(0, rank - shape.length)).fill(1)];
}

/** An operand's element strides along the output's axes: 0 where it repeats. */
export function broadcastStrides(operand: readonly number[], out: readonly number[]): number[] {
  const p = padded(operand, out.length);
  return strides(p).map((s, i) => (p[i] === 1 && out[i] !== 1 ? 0 : s));
}

/** How dy (the output's shape) sums down to an operand's shape. */
export interface Reduction {
  /** The axes the operand keeps: dy's size along each and dy's stride, and the operand's stride. */
  readonly kept: readonly { readonly axis: number; readonly size: number; readonly dyStride: number; readonly stride: number }[];
  /** The axes summed over (size 1 in the operand), in dy's order: size and dy's stride. */
  readonly summed: readonly { readonly axis: number; readonly size: number; readonly dyStride: number }[];
}

export function reduction(dy: readonly number[], to: readonly number[]): Reduction {
  const p = padded(to, dy.length);
  const dyStrides = strides(dy);
  const toStrides = strides(p);
  const kept = [];
  const summed = [];
  for (let a = 0; a < dy.length; a++) {
    if (p[a] === 1 && dy[a] !== 1) summed.push({ axis: a, size: dy[a], dyStride: dyStrides[a] });
    else kept.push({ axis: a, size: dy[a], dyStride: dyStrides[a], stride: toStrides[a] });
  }
  return { kept, summed };
}
