// `cnnc run --random [SEED]`: seeded inputs in [0, 1) for every input of the network, so a
// model can be tried without preparing .npy files. Symbolic sizes come from `--size H=64`.

import type { TensorData } from "../runtime/session.js";
import { initialise } from "./tensors/init.js";
import { MAX_TENSOR_ELEMENTS } from "./limits.js";

type SpecDim = number | { op: string; name?: string };

export function mulberryInputs(
  specs: readonly { name: string; shape: readonly SpecDim[] }[],
  seed: number,
  sizes: Record<string, number>,
  usage: (message: string) => Error,
): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  specs.forEach((spec, i) => {
    const shape = spec.shape.map((d) => {
      if (typeof d === "number") return d;
      const v = d.name !== undefined ? sizes[d.name] : undefined;
      if (v === undefined) throw usage(`input '${spec.name}' has the symbolic size ${d.name ?? "?"}; give it with --size ${d.name ?? "SYM"}=N`);
      return v;
    });
    // Checked before the inputs are made: a Float32Array that large is a RangeError.
    const values = shape.reduce((p, d) => p * d, 1);
    if (values > MAX_TENSOR_ELEMENTS) {
      throw usage(`--size: input '${spec.name}' would have shape [${shape.join(", ")}], ${values} values, more than the ${MAX_TENSOR_ELEMENTS} a target can hold`);
    }
    const data = initialise({ kind: "uniform", low: 0, high: 1, seed: seed * 1000 + i }, shape, 1, 1);
    out.set(spec.name, { data, shape: [1, ...shape] });
  });
  return out;
}
