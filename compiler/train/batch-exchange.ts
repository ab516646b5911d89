// The combining half of a batch norm exchange (compiler/backends/wasm/grad-batchnorm-parts.ts)
// when a batch's samples are spread over threads: every thread's per-channel partials, in
// thread order (the main thread's share first, then each helper's), become the batch's
// values. Every thread combines the same partials in the same order with this same code, so
// all get the same bits, and a step's result does not depend on which reply came first.
//
// Statistics: each thread's (mean, M2) over its n_t = samples_t * per elements of a channel,
// combined by Chan, Golub and LeVeque's pairwise update (mean += d * n_t / n, M2 += M2_t +
// d^2 * n * n_t / n with d the difference of the means), which keeps the two-pass accuracy of
// each part instead of subtracting large sums of squares; out: [means | biased variances].
// Gradient: the sums [sum dy | sum dy * (x - mean)] are added.

import type { BatchExchange } from "../backends/wasm/grad-module.js";

/**
 * The batch's values of exchange `e` from each thread's partials (f64 x 2C) and sample count.
 * Plain loops and nothing from outside: the helper threads run it too, from its source text
 * (train-threads.ts), and every thread must get the same bits from the same partials.
 */
export function combineExchange(e: Pick<BatchExchange, "kind" | "channels" | "per">, parts: readonly Float64Array[], samples: readonly number[]): Float64Array {
  const C = e.channels;
  const out = new Float64Array(2 * C);
  if (e.kind === "gradient") {
    for (let t = 0; t < parts.length; t++) for (let i = 0; i < 2 * C; i++) out[i] += parts[t][i];
    return out;
  }
  for (let c = 0; c < C; c++) {
    let n = 0;
    let mean = 0;
    let m2 = 0;
    for (let t = 0; t < parts.length; t++) {
      const nt = samples[t] * e.per;
      if (nt === 0) continue;
      const total = n + nt;
      const d = parts[t][c] - mean;
      mean += (d * nt) / total;
      m2 += parts[t][C + c] + (d * d * n * nt) / total;
      n = total;
    }
    out[c] = mean;
    out[C + c] = n > 0 ? m2 / n : 0;
  }
  return out;
}
