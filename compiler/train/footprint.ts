// What a training step will hold, estimated from the training graph before anything is
// built: every sliding window's tap table (output positions x window offsets, built by the
// reference gradients and by both compiled steps, and again inverted for gathers), the
// convolutions' im2col columns, the move ops' read tables, one sample's values, and the
// weights with their gradient sums and two optimiser slots. A network whose tables or memory
// no step can hold (a 1001-wide kernel over a 280x320 image: 9 x 10^10 taps) is refused with
// a diagnostic naming the layer, instead of failing in a typed-array constructor.

import type { Node } from "../ir/graph.js";
import { windowGeometry } from "../ir/ops.js";
import { showBytes } from "../limits.js";
import type { TrainGraph } from "./graph.js";

/** Table entries of one window op past which a step is refused (each is an i32, held twice). */
export const MAX_TRAINING_TABLE_ENTRIES = 2 ** 25;
/** Estimated bytes past which a step is refused: the WebAssembly step's memory is at most 2 GiB. */
export const MAX_TRAINING_BYTES = 3 * 2 ** 29;

const size = (shape: readonly unknown[]): number => (shape as number[]).reduce((a, b) => a * b, 1);

/** Window offsets x output positions of a node's sliding window, and its im2col floats (0 for none). */
function windowCost(tg: TrainGraph, n: Node): { entries: number; columns: number } {
  const op = n.op;
  const x = tg.values[n.inputs[0]].shape as number[];
  const y = tg.values[n.output].shape as number[];
  switch (op.kind) {
    case "conv":
    case "local":
    case "tiled":
    case "pool": {
      const kernel = op.kind === "pool" ? op.window : op.kernel;
      const entries = size(y.slice(1)) * size(kernel);
      return { entries, columns: op.kind === "conv" ? (x[0] / op.groups) * entries * op.groups : 0 };
    }
    case "deconv": {
      // The convolution it transposes runs from its output to its input.
      const geo = windowGeometry(y.slice(1), op.kernel, op.stride, op.dilation, op.pad);
      const entries = size(geo.out as number[]) * size(op.kernel);
      return { entries, columns: y[0] * entries };
    }
    case "adaptive_pool":
      // Each output's region is at most the input over the output, rounded up, per axis.
      return { entries: size(y.slice(1)) * size(x.slice(1).map((m, a) => Math.ceil(m / (y[a + 1] as number)) + 1)), columns: 0 };
    case "resize":
      return { entries: size(y) * 2 ** (x.length - 1) * 2, columns: 0 };
    case "slice":
    case "pad":
      return { entries: size(y) * 2, columns: 0 };
    default:
      return { entries: 0, columns: 0 };
  }
}

/** Why a training step of this graph cannot be built, or undefined when it fits; with the layer to point at. */
export function footprintProblem(tg: TrainGraph): { message: string; node?: Node } | undefined {
  let bytes = 0;
  for (const v of tg.values) bytes += 4 * size(v.shape);
  for (const w of tg.forward.weights) bytes += 4 * 4 * size(w.shape);
  let largest: { node: Node; bytes: number } | undefined;
  for (const n of tg.forward.nodes) {
    const { entries, columns } = windowCost(tg, n);
    if (entries > MAX_TRAINING_TABLE_ENTRIES) {
      return { message: `training layer ${n.layer} needs a table of ${entries.toExponential(2)} window taps (its output positions times its window), more than the ${MAX_TRAINING_TABLE_ENTRIES} a training step holds: use a smaller input size or window`, node: n };
    }
    const own = 8 * entries + 4 * columns;
    bytes += own;
    if (!largest || own > largest.bytes) largest = { node: n, bytes: own };
  }
  if (bytes > MAX_TRAINING_BYTES) {
    const mib = (b: number) => `${Math.ceil(b / 2 ** 20)} MiB`;
    const where = largest && largest.bytes > bytes / 4 ? `; layer ${largest.node.layer}'s tables take ${mib(largest.bytes)}` : "";
    return { message: `training ${tg.forward.name} would hold about ${mib(bytes)} for one sample (values, weights with their gradients and optimiser state, tables), more than the ${showBytes(MAX_TRAINING_BYTES)} a training step can${where}: use a smaller input size`, node: largest?.node };
  }
  return undefined;
}
