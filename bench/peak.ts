// The machine's measured WebAssembly SIMD peak, the yardstick for "% of SIMD peak" in the
// table: a tiny module, built with binaryen, whose loop updates N independent f32x4
// accumulators, so the only limit is how many vector multiplies and adds the core retires per
// cycle. Two shapes of loop, the better one counting: "pairs", acc = acc * m + c (f32x4.mul
// then f32x4.add, 8 flops per accumulator per iteration), and "split", half the accumulators
// multiplied (x = x * m) and half added to (y = y + c), which has shorter dependency chains
// (4 flops per accumulator). m = 0.5, c = 1 keep every value finite and normal (no overflow,
// no denormals). N from 8 to 14 covers the latency x throughput product of current x86 and
// ARM cores without spilling the 16 XMM registers V8 allocates. Each variant is warmed up
// (V8 tiers WebAssembly up between calls) and timed several times; the best time counts,
// since noise only ever slows a loop like this down. The same loop with f32x4.relaxed_madd
// (a fused multiply-add where the CPU has one, 8 flops) gives the FMA peak, after enabling
// relaxed SIMD in V8 if this Node does not ship it on.

import binaryen from "binaryen";
import * as v8 from "node:v8";

type Variant = "pairs" | "split" | "madd";

export interface Peak {
  readonly gflops: number;
  readonly accumulators: number;
  readonly variant: Variant;
}

export interface Peaks {
  /** f32x4.mul + f32x4.add: what plain SIMD128 code can reach. */
  readonly mulAdd: Peak;
  /** f32x4.relaxed_madd, or why it could not be measured. */
  readonly madd: Peak | { readonly error: string };
  /** How relaxed SIMD was enabled ("shipped", "--experimental-wasm-relaxed-simd"). */
  readonly relaxed: string;
}

/** Flops per accumulator per iteration. */
const FLOPS: Readonly<Record<Variant, number>> = { pairs: 8, split: 4, madd: 8 };

function wat(accumulators: number, variant: Variant): string {
  const lines: string[] = ['(module (func (export "run") (param $n i32) (result f32)'];
  for (let i = 0; i < accumulators; i++) lines.push(`(local $a${i} v128)`);
  lines.push("(local $m v128) (local $c v128)");
  lines.push("(local.set $m (f32x4.splat (f32.const 0.5))) (local.set $c (f32x4.splat (f32.const 1.0)))");
  for (let i = 0; i < accumulators; i++) lines.push(`(local.set $a${i} (f32x4.splat (f32.const ${i + 1})))`);
  lines.push("(block $done (loop $top", "(br_if $done (i32.eqz (local.get $n)))");
  for (let i = 0; i < accumulators; i++) {
    const a = `(local.get $a${i})`;
    const update =
      variant === "madd"
        ? `(f32x4.relaxed_madd ${a} (local.get $m) (local.get $c))`
        : variant === "pairs"
          ? `(f32x4.add (f32x4.mul ${a} (local.get $m)) (local.get $c))`
          : i % 2 === 0
            ? `(f32x4.mul ${a} (local.get $m))`
            : `(f32x4.add ${a} (local.get $c))`;
    lines.push(`(local.set $a${i} ${update})`);
  }
  lines.push("(local.set $n (i32.sub (local.get $n) (i32.const 1)))", "(br $top)))");
  // Everything feeds the result, so no accumulator is dead code.
  let sum = "(local.get $a0)";
  for (let i = 1; i < accumulators; i++) sum = `(f32x4.add ${sum} (local.get $a${i}))`;
  lines.push(`(f32x4.extract_lane 0 ${sum})))`);
  return lines.join("\n");
}

function build(accumulators: number, variant: Variant): Uint8Array<ArrayBuffer> {
  const m = binaryen.parseText(wat(accumulators, variant));
  try {
    m.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128 | (variant === "madd" ? binaryen.Features.RelaxedSIMD : 0));
    if (!m.validate()) throw new Error("the peak module does not validate");
    return new Uint8Array(m.emitBinary());
  } finally {
    m.dispose();
  }
}

type RunFn = (n: number) => number;

function instantiate(bytes: Uint8Array<ArrayBuffer>): RunFn {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const run = instance.exports.run;
  if (typeof run !== "function") throw new Error("the peak module has no run export");
  return run as RunFn;
}

/** Best GFLOP/s of one module: warmed up (tier-up to TurboFan happens between calls), then the best of several timed calls. */
function measure(run: RunFn, flopsPerIteration: number, budgetMs: number, trials: number): number {
  for (let i = 0; i < 5; i++) run(20_000);
  let n = 100_000;
  // Size the call to about budget / trials ms.
  for (;;) {
    const t = performance.now();
    run(n);
    const ms = performance.now() - t;
    if (ms > budgetMs / 12 || n > 1e9) {
      n = Math.max(1, Math.round((n * budgetMs) / trials / Math.max(ms, 1e-3)));
      break;
    }
    n *= 4;
  }
  let best = 0;
  for (let k = 0; k < trials; k++) {
    const t = performance.now();
    run(n);
    const s = (performance.now() - t) / 1000;
    best = Math.max(best, (n * flopsPerIteration) / s / 1e9);
  }
  return best;
}

function best(variants: readonly Variant[], budgetMs: number, trials: number): Peak {
  let top: Peak = { gflops: 0, accumulators: 0, variant: variants[0] };
  for (const variant of variants) {
    for (const accumulators of [8, 10, 12, 14]) {
      const gflops = measure(instantiate(build(accumulators, variant)), accumulators * FLOPS[variant], budgetMs, trials);
      if (gflops > top.gflops) top = { gflops, accumulators, variant };
    }
  }
  return top;
}

/** The better of two measurements (the peak is measured before and after the networks). */
export function higher(a: Peaks, b: Peaks): Peaks {
  const madd = "gflops" in a.madd && "gflops" in b.madd ? (a.madd.gflops >= b.madd.gflops ? a.madd : b.madd) : "gflops" in a.madd ? a.madd : b.madd;
  return { mulAdd: a.mulAdd.gflops >= b.mulAdd.gflops ? a.mulAdd : b.mulAdd, madd, relaxed: a.relaxed };
}

/** Measures both peaks; `quick` spends about a quarter of the time. */
export function measurePeaks(quick: boolean): Peaks {
  const budgetMs = quick ? 60 : 300;
  const trials = quick ? 4 : 10;
  const mulAdd = best(["pairs", "split"], budgetMs, trials);
  let relaxed = "shipped";
  let madd: Peaks["madd"];
  try {
    const probe = build(8, "madd");
    if (!WebAssembly.validate(probe)) {
      v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
      relaxed = "--experimental-wasm-relaxed-simd";
      if (!WebAssembly.validate(probe)) throw new Error("this Node's V8 has no relaxed SIMD");
    }
    madd = best(["madd"], budgetMs, trials);
  } catch (e) {
    madd = { error: e instanceof Error ? e.message : String(e) };
  }
  return { mulAdd, madd, relaxed };
}
