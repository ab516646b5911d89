// What the benchmark driver sees of each runtime it times: cnnc and the three peers all
// prepare a network once (compile, build a graph, create a session; not timed), then run it
// as often as the driver asks. `run()` is the timed region: put the input in, compute, get
// the output out as a Float32Array, in the runtime's own layout (TensorFlow.js NHWC, the
// others NCHW). Layout changes at the edges are done once, outside it (`output()`, and the
// input prepared in `prepare`), so no runtime pays for another's layout.

import type { NetworkSpec, Tensor } from "../networks.js";

export interface Prepared {
  /** One inference as timed: input upload, compute, output download. */
  run(): Promise<void>;
  /** One inference's output in cnnc's layout ([C, D1..Dd] flattened), for the agreement check (not timed). */
  output(): Promise<Float32Array>;
  dispose(): Promise<void>;
  /** What the runtime chose for this network, for the report (cnnc: the algorithm per convolution). */
  readonly note?: string;
}

export interface Runner {
  /** The table's column name. */
  readonly name: string;
  /** Version, backend, threads: for the notes. */
  readonly detail: string;
  prepare(spec: NetworkSpec, weights: ReadonlyMap<string, Tensor>, input: Float32Array): Promise<Prepared>;
}

/** An Error's message on one line, cut to `max` characters (for table cells and notes). */
export function brief(e: unknown, max = 160): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}
