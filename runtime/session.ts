// What a user holds after `load()`: a network with `run(inputs)`. It checks every input
// against the network's type (name, rank, channels, fixed sizes, one value per size symbol),
// binds the symbols, checks that the layers are defined on those sizes, and runs the batch
// one sample at a time on the chosen executor. Errors here are the user's (wrong input), so
// they are thrown as InputError with a message saying what was expected.

import { type Dim, type DimEnv, evalDim } from "./dim.js";
import type { Manifest, TensorSpec } from "./manifest.js";

export interface TensorData {
  readonly data: Float32Array;
  /** [N, C, D1..Dd], or [C, D1..Dd] for one sample. */
  readonly shape: readonly number[];
}

export type Inputs = Readonly<Record<string, TensorData>>;
export type Outputs = Record<string, TensorData>;

/** Runs one sample: inputs in manifest order, outputs in manifest order, in fresh arrays the caller owns. */
export interface Executor {
  readonly backend: "wasm" | "webgpu";
  runSample(env: DimEnv, inputs: readonly Float32Array[]): Promise<Float32Array[]> | Float32Array[];
  dispose?(): void;
}

export class InputError extends Error {
  override readonly name = "InputError";
  /** Recognised across bundle copies, where `instanceof` fails: each bundle has its own class. */
  readonly code: string = "CNNC_INPUT";
}

/** `run()` on a network after `dispose()`: the same on every backend. */
export class DisposedError extends InputError {
  override readonly code = "CNNC_DISPOSED";
  constructor() {
    super("this network has been disposed; load it again to run it");
  }
}

/** Non-finite values in an input (`check: "finite"`): the backends would not agree on them. */
export function checkFinite(inputs: Inputs): void {
  for (const [name, t] of Object.entries(inputs)) {
    const data = t.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        const what = Number.isNaN(data[i]) ? "not-a-number" : data[i] > 0 ? "+infinity" : "-infinity";
        throw new InputError(`input '${name}' holds ${what} at index ${i}; inputs must be finite numbers`);
      }
    }
  }
}

const showDim = (d: Dim): string => (typeof d === "number" ? String(d) : d.op === "sym" ? d.name : "?");
export const showSpec = (s: TensorSpec): string => `f32[${s.shape.map(showDim).join(", ")}]`;

export class Network {
  constructor(
    readonly manifest: Manifest,
    private readonly executor: Executor,
    /** Said by `load()`: which backend runs, and on what. */
    readonly description: string,
    /** "finite": run() refuses NaN and infinite inputs (LoadOptions.check). */
    private readonly check: "finite" | "none" = "finite",
  ) {}

  private disposed = false;

  get backend(): "wasm" | "webgpu" {
    return this.executor.backend;
  }

  get inputs(): readonly TensorSpec[] {
    return this.manifest.inputs;
  }

  get outputs(): readonly TensorSpec[] {
    return this.manifest.outputs;
  }

  async run(inputs: Inputs): Promise<Outputs> {
    if (this.disposed) throw new DisposedError();
    const { env, batch } = bindInputs(this.manifest, inputs);
    if (this.check === "finite") checkFinite(inputs);
    const outShapes = this.manifest.outputs.map((o) => o.shape.map((d) => evalDim(d, env)));
    const sampleOf = (n: number) =>
      this.manifest.inputs.map((spec) => {
        const t = inputs[spec.name];
        const per = t.data.length / batch;
        return t.data.subarray(n * per, (n + 1) * per);
      });
    // One sample: the executor's arrays are the caller's own (Executor), so they are the
    // outputs as they are, without a second allocation and copy (mobilenet_block's 3 MB output
    // cost 1.5 ms, as much as its pointwise layer).
    const outs = batch === 1 ? await this.executor.runSample(env, sampleOf(0)) : outShapes.map((s) => new Float32Array(batch * s.reduce((a, b) => a * b, 1)));
    for (let n = 0; batch > 1 && n < batch; n++) {
      const ys = await this.executor.runSample(env, sampleOf(n));
      ys.forEach((y, i) => outs[i].set(y, n * y.length));
    }
    // No prototype: an output's name can never reach Object.prototype's properties.
    const result: Outputs = Object.create(null) as Outputs;
    this.manifest.outputs.forEach((o, i) => {
      result[o.name] = { data: outs[i], shape: [batch, ...outShapes[i]] };
    });
    return result;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.executor.dispose?.();
  }
}

/** The compiler's limits (compiler/limits.ts), repeated here: the runtime does not import the compiler. */
const MAX_RUN_SIZE = 2 ** 31 - 1;
const MAX_RUN_ELEMENTS = 2 ** 29;

/** Checks inputs against the manifest; returns the size symbols' values and the batch size. */
export function bindInputs(manifest: Manifest, inputs: Inputs): { env: Record<string, number>; batch: number } {
  if (inputs === null || typeof inputs !== "object") throw new InputError("run() takes an object mapping input names to { data, shape }");
  const env: Record<string, number> = {};
  let batch: number | undefined;
  for (const name of Object.keys(inputs)) {
    if (!manifest.inputs.some((i) => i.name === name)) {
      throw new InputError(`unknown input '${name}'; the network's inputs are ${manifest.inputs.map((i) => `${i.name}: ${showSpec(i)}`).join(", ")}`);
    }
  }
  for (const spec of manifest.inputs) {
    const t = inputs[spec.name];
    const expected = `${spec.name}: ${showSpec(spec)}`;
    if (!t) throw new InputError(`missing input '${spec.name}' (expected ${expected})`);
    if (!(t.data instanceof Float32Array) || !Array.isArray(t.shape)) {
      throw new InputError(`input '${spec.name}' must be { data: Float32Array, shape: number[] }`);
    }
    const rank = spec.shape.length;
    let shape = [...t.shape];
    if (shape.length === rank) shape = [1, ...shape];
    if (shape.length !== rank + 1 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new InputError(`input '${spec.name}' has shape [${t.shape.join(", ")}], expected ${expected} (with an optional leading batch axis)`);
    }
    if (batch === undefined) batch = shape[0];
    else if (batch !== shape[0]) throw new InputError(`input '${spec.name}' has batch size ${shape[0]}, but another input has ${batch}`);
    spec.shape.forEach((d, i) => {
      const got = shape[i + 1];
      if (typeof d === "number") {
        if (d !== got) {
          const what = i === 0 ? `it must have ${d} channel${d === 1 ? "" : "s"}` : `spatial axis ${i} must be ${d}`;
          throw new InputError(`input '${spec.name}' has shape [${t.shape.join(", ")}], expected ${expected} (with an optional leading batch axis): ${what}`);
        }
      } else if (d.op === "sym") {
        const bound = env[d.name];
        if (bound !== undefined && bound !== got) {
          throw new InputError(`input '${spec.name}' has ${d.name} = ${got}, but ${d.name} = ${bound} elsewhere`);
        }
        env[d.name] = got;
      }
    });
    const total = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== total) throw new InputError(`input '${spec.name}' has ${t.data.length} values, but its shape [${t.shape.join(", ")}] needs ${total}`);
  }
  // Sizes past what the targets index are refused here, not as a RangeError deep in a backend.
  for (const [sym, v] of Object.entries(env)) {
    if (v > MAX_RUN_SIZE) throw new InputError(`size ${sym} = ${v} is larger than ${MAX_RUN_SIZE}, the largest size the targets can index`);
  }
  for (const o of manifest.outputs) {
    const values = o.shape.reduce<number>((p, d) => p * Math.max(0, evalDim(d, env)), batch ?? 1);
    if (values > MAX_RUN_ELEMENTS) {
      const sizes = Object.entries(env).map(([k, v]) => `${k} = ${v}`).join(", ");
      throw new InputError(`output '${o.name}' would have ${values} values (with ${sizes}), more than the ${MAX_RUN_ELEMENTS} a target can hold`);
    }
  }
  for (const c of manifest.checks) {
    if (evalDim(c.dim, env) < 1) {
      const sizes = Object.entries(env).map(([k, v]) => `${k} = ${v}`).join(", ");
      throw new InputError(`${c.message} (with ${sizes})`);
    }
  }
  return { env, batch: batch ?? 1 };
}
