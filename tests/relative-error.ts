// The error measure every backend's tolerance is stated in (docs/decisions.md): the largest
// absolute difference over the largest reference magnitude, at least 1; NaN counts as infinite.

export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length}, expected ${want.length}`);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}
