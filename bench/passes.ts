// Timed passes shared by the comparisons (bench/compare.ts, bench/onnx.ts). The machine is
// noisy, so contenders never run in one block each: after a warm-up (V8 tiers WebAssembly up
// on later calls), they take turns over several passes, the order rotating each pass, each
// contender filling about `passMs` per pass. A noisy neighbour then hits them all alike, and
// each pass gives a same-moment sample of every contender: its median per pass shows how
// far a figure moves (the spread), and ratios per pass compare contenders at one moment.

export interface PassSettings {
  /** Timed passes; each contender once per pass, the order rotating. */
  readonly passes: number;
  /** Warm-up per contender: at least `warmRuns` runs and `warmMs` milliseconds (at most 200 runs). */
  readonly warmRuns: number;
  readonly warmMs: number;
  /** Per contender per pass: as many runs as fill this (at least one, at most 500). */
  readonly passMs: number;
}

/** The main comparison's passes, full and `--quick`. */
export const PASSES: Readonly<Record<"quick" | "full", PassSettings>> = {
  quick: { passes: 3, warmRuns: 1, warmMs: 100, passMs: 50 },
  full: { passes: 7, warmRuns: 2, warmMs: 500, passMs: 250 },
};

export interface Timing {
  /** Every timed run (ms). */
  readonly samples: number[];
  /** The median of each pass's runs (ms), in pass order. */
  readonly passMedians: number[];
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function timeOnce(run: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await run();
  return performance.now() - t;
}

/**
 * Warms up and times each contender in rotating passes. A contender that throws is dropped
 * (reported through `onError`) and gets no timing; the others go on.
 */
export async function rotatingPasses<K>(
  contenders: ReadonlyMap<K, () => Promise<unknown>>,
  s: PassSettings,
  onError: (name: K, e: unknown) => void,
): Promise<Map<K, Timing>> {
  const live = new Map(contenders);
  const estimate = new Map<K, number>();
  for (const [name, run] of live) {
    try {
      const t0 = performance.now();
      const warm: number[] = [];
      while (warm.length < s.warmRuns || (performance.now() - t0 < s.warmMs && warm.length < 200)) warm.push(await timeOnce(run));
      // The median of the later half: one slow run (a collection, a neighbour) does not set how many runs fill a pass.
      estimate.set(name, median(warm.slice(Math.floor(warm.length / 2))));
    } catch (e) {
      onError(name, e);
      live.delete(name);
    }
  }
  const timings = new Map<K, Timing>();
  const order = [...live.keys()];
  for (let pass = 0; pass < s.passes; pass++) {
    for (let k = 0; k < order.length; k++) {
      const name = order[(pass + k) % order.length];
      const run = live.get(name);
      if (!run) continue;
      const n = Math.max(1, Math.min(500, Math.round(s.passMs / Math.max(estimate.get(name) ?? 1, 1e-3))));
      try {
        const xs: number[] = [];
        for (let i = 0; i < n; i++) xs.push(await timeOnce(run));
        const t = timings.get(name) ?? { samples: [], passMedians: [] };
        t.samples.push(...xs);
        t.passMedians.push(median(xs));
        // The next pass is sized by this one (the warm-up may have run before V8 tiered the code up).
        estimate.set(name, median(xs));
        timings.set(name, t);
      } catch (e) {
        onError(name, e);
        live.delete(name);
        timings.delete(name);
      }
    }
  }
  return timings;
}
