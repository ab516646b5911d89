// `cnnc run --random [SEED]`: seeded inputs in [0, 1) for every input of the network, so a
// model can be tried without preparing .npy files. Symbolic sizes come from `--size H=64`.

import type { TensorData } from "../runtime/session.js";
import { initialise } from "./tensors/init.js";
import { MAX_TENSOR_ELEMENTS } from "./limits.js";
import { parse } from "../dsl/parse.js";
import { DiagnosticLog } from "./diagnostics.js";
import { SourceFile } from "./source.js";

type SpecDim = number | { op: string; name?: string };

/**
 * The shapes `--random` makes for these inputs at `--size`'s values, or the usage error for a
 * symbolic size not given or a tensor too large: checked before anything is compiled.
 */
export function randomShapes(specs: readonly { name: string; shape: readonly SpecDim[] }[], sizes: Record<string, number>, usage: (message: string) => Error): number[][] {
  return specs.map((spec) => {
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
    return shape;
  });
}

/**
 * The inputs a .cnn source declares for its network (`network` picks one of several), read by
 * the parser alone: milliseconds, where compiling can take a minute. Undefined where that is
 * not clear (a parse error, several networks and no name): the compile says why.
 */
export function declaredInputs(source: string, network: string | undefined): { name: string; shape: SpecDim[] }[] | undefined {
  const log = new DiagnosticLog();
  const program = parse(new SourceFile("model.cnn", source), log);
  if (log.hasErrors) return undefined;
  const nets = program.items.filter((i) => i.kind === "network");
  const net = network === undefined ? (nets.length === 1 ? nets[0] : undefined) : nets.find((n) => n.name.name === network);
  if (!net || net.kind !== "network") return undefined;
  return net.params.map((p) => ({ name: p.name.name, shape: p.type.dims.map((d) => (d.kind === "number" ? d.value : { op: "sym", name: d.name })) }));
}

export function mulberryInputs(
  specs: readonly { name: string; shape: readonly SpecDim[] }[],
  seed: number,
  sizes: Record<string, number>,
  usage: (message: string) => Error,
): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  randomShapes(specs, sizes, usage).forEach((shape, i) => {
    const spec = specs[i];
    const data = initialise({ kind: "uniform", low: 0, high: 1, seed: seed * 1000 + i }, shape, 1, 1);
    out.set(spec.name, { data, shape: [1, ...shape] });
  });
  return out;
}
