// The WGSL prelude every program starts with: index helpers (floor/ceil division that is
// right for negative numerators, the linear workgroup index of a 3-D dispatch grid) and the
// numerically safe nonlinearities the shared epilogue uses. WGSL has no infinity literal, so
// the lowest finite f32 stands in where a max needs an identity, and tanh/sigmoid are written
// so that no intermediate overflows (exp of a large argument is inf, and inf/inf is NaN).
// Plus the literal formatters: nothing but numbers the compiler computed ever reaches WGSL.

export const PRELUDE = `// cnnc prelude: index helpers and safe nonlinearities.
fn ceil_div(a: i32, b: i32) -> i32 {
  // b > 0; WGSL's / truncates toward zero, which is the ceiling for a <= 0.
  return select(a / b, (a + b - 1) / b, a > 0);
}
fn floor_div(a: i32, b: i32) -> i32 {
  return select(a / b, (a - b + 1) / b, a < 0);
}
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  // The runtime folds a long dispatch into x, y and z (at most maxComputeWorkgroupsPerDimension each).
  return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}
const LOWEST_F32: f32 = -0x1.fffffep+127f;
fn sigmoid_safe(v: f32) -> f32 {
  // exp of a non-positive number never overflows: 1 / (1 + e^-v) for v >= 0, e^v / (1 + e^v) below.
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}
fn tanh_safe(v: f32) -> f32 {
  // (1 - e^-2|v|) / (1 + e^-2|v|) with the sign of v: no overflow for large |v|. Near 0, where
  // 1 - e^-2|v| cancels, the odd Taylor series (error below 1e-10 for |v| < 0.1).
  let a = abs(v);
  let e = exp(-2.0 * a);
  let t = (1.0 - e) / (1.0 + e);
  let v2 = v * v;
  let series = v * (1.0 - v2 * (0.33333334 - v2 * (0.13333334 - v2 * 0.053968254)));
  return select(select(-t, t, v >= 0.0), series, a < 0.1);
}
`;

/** An i32 literal (checked: a compiler-computed integer that fits). */
export function i32Lit(n: number): string {
  if (!Number.isInteger(n) || n > 2147483647 || n < -2147483648) {
    throw new Error(`internal error: ${n} is not an i32 and cannot be a WGSL constant`);
  }
  return n < 0 ? `(${n})` : String(n);
}

/** An f32 literal from a finite number (9 significant digits pin an f32 exactly). */
export function f32Lit(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal error: ${x} cannot be a WGSL f32 constant`);
  const f = Math.fround(x);
  if (!Number.isFinite(f)) throw new Error(`internal error: ${x} is out of the f32 range`);
  const text = `${Math.abs(f).toExponential(9)}f`;
  return f < 0 || Object.is(f, -0) ? `(-${text})` : text;
}
