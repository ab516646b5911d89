// The fuzzer's input classes. Each makes one input from a seeded generator (so a case is
// (class, seed, index) and can be replayed) and runs it through the part of cnnc that takes
// that kind of input, returning what went wrong: an empty list when cnnc answered with a
// result or with diagnostics. ONNX models, images and datasets are in classes-files.ts.

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { compile } from "../compiler/index.js";
import { FILE_CLASSES } from "./classes-files.js";
import { training } from "./classes-train.js";
import { cliProblems, compileProblems, messageProblems, scratchDir, type Outcome } from "./outcomes.js";
import { readNpy, writeNpy } from "../compiler/tensors/npy.js";
import { readSafetensors, writeSafetensors } from "../compiler/tensors/safetensors.js";
import { mutateBytes } from "./mutate-bytes.js";
import { mutateSource } from "./mutate-source.js";
import { int, pick, type Rng } from "./random.js";

export interface FuzzInput {
  /** Shown when the case fails: the source text, or a description of the bytes. */
  readonly text: string;
  readonly bytes?: Uint8Array;
  /** What the case runs: a target, a CLI command. */
  readonly how: string;
}

export interface InputClass {
  readonly name: string;
  /** Share of the cases (weights are relative). */
  readonly weight: number;
  make(r: Rng): FuzzInput;
  /** "ok" (a result), "diagnostic" (the input refused cleanly), or the problems found. */
  run(input: FuzzInput): Promise<Outcome>;
}

const EXAMPLES = path.resolve("examples");
let corpus: { name: string; text: string }[] | undefined;
/** The example programs, the seeds of every source mutation. */
function programs(): { name: string; text: string }[] {
  corpus ??= readdirSync(EXAMPLES)
    .filter((f) => f.endsWith(".cnn"))
    .sort()
    .map((f) => ({ name: f, text: readFileSync(path.join(EXAMPLES, f), "utf8") }));
  return corpus;
}

type Target = "wasm" | "webgpu" | "all";

const sourceCompile: InputClass = {
  name: "source",
  weight: 60,
  make(r) {
    const p = pick(r, programs());
    // WebGPU mostly: its code generation is cheap, WebAssembly's (binaryen) is not.
    const target = pick(r, ["wasm", "webgpu", "webgpu", "webgpu", "all"]);
    return { text: mutateSource(r, p.text), how: `${target} from ${p.name}` };
  },
  async run(input) {
    return compileProblems(input.text, { fileName: "fuzz.cnn", target: input.how.split(" ")[0] as Target });
  },
};

// `run` on WebAssembly last and once: it compiles with binaryen, the slowest case there is.
const COMMANDS = [["check"], ["compile", "-o", "OUT"], ["run", "--random", "--backend", "reference"], ["run", "--random", "--backend", "wasm"], ["explain"]];

const sourceCli: InputClass = {
  name: "cli",
  weight: 10,
  make(r) {
    const p = pick(r, programs());
    const cmd = pick(r, COMMANDS);
    const sizes = r() < 0.5 ? ["--size", `H=${pick(r, ["8", "32", "99999999999", "0"])},W=${pick(r, ["8", "16", "2147483648"])},D=4`] : [];
    return { text: mutateSource(r, p.text), how: [...cmd, ...(cmd[0] === "run" ? sizes : [])].join(" ") };
  },
  async run(input) {
    const dir = scratchDir();
    const file = path.join(dir, "model.cnn");
    writeFileSync(file, input.text);
    const out = path.join(dir, "out");
    rmSync(out, { recursive: true, force: true });
    const [cmd, ...rest] = input.how.split(" ");
    // `explain` echoes the network's names, which the mutation may have made `undefined`.
    return cliProblems([cmd, file, ...rest.map((a) => (a === "OUT" ? out : a))], input.text);
  },
};

const LENET = "examples/lenet.cnn";
let lenetWeights: Uint8Array | undefined;
/** lenet's weights as a valid .safetensors file: the seed of every weights mutation. */
function validWeights(): Uint8Array {
  if (!lenetWeights) {
    const r = compile(readFileSync(LENET, "utf8"), { fileName: LENET, target: "webgpu" });
    if (!r.ok) throw new Error("lenet does not compile");
    lenetWeights = writeSafetensors(new Map(r.graph.weights.map((w) => [w.name, { shape: w.shape, data: w.data }])));
  }
  return lenetWeights;
}

const safetensors: InputClass = {
  name: "safetensors",
  weight: 12,
  make(r) {
    const bytes = mutateBytes(r, validWeights());
    return { text: `${bytes.length} bytes: ${Buffer.from(bytes.subarray(0, 160)).toString("latin1")}`, bytes, how: "lenet --weights" };
  },
  async run(input) {
    const bytes = input.bytes ?? new Uint8Array();
    const problems: string[] = [];
    try {
      const r = readSafetensors(bytes, "fuzz.safetensors");
      if (!r.ok) problems.push(...messageProblems(r.error, "readSafetensors"));
    } catch (e) {
      problems.push(`readSafetensors threw ${(e as Error).stack ?? String(e)}`);
    }
    const c = compileProblems(readFileSync(LENET, "utf8"), { fileName: LENET, target: "webgpu", weights: bytes });
    return { outcome: c.outcome, problems: [...problems, ...c.problems] };
  },
};

const npy: InputClass = {
  name: "npy",
  weight: 8,
  make(r) {
    const shape = Array.from({ length: 1 + int(r, 4) }, () => 1 + int(r, 5));
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r());
    const bytes = mutateBytes(r, writeNpy(shape, data));
    return { text: `${bytes.length} bytes: ${Buffer.from(bytes.subarray(0, 128)).toString("latin1")}`, bytes, how: "readNpy, then cnnc run lenet --input" };
  },
  async run(input) {
    const bytes = input.bytes ?? new Uint8Array();
    const problems: string[] = [];
    try {
      const r = readNpy(bytes, "x.npy");
      if (!r.ok) problems.push(...messageProblems(r.error, "readNpy"));
    } catch (e) {
      problems.push(`readNpy threw ${(e as Error).stack ?? String(e)}`);
    }
    // The same bytes as an input of the CLI's run (reference backend: no code generation).
    const dir = scratchDir();
    const file = path.join(dir, "x.npy");
    writeFileSync(file, bytes);
    // A one-layer model: the case is about the .npy reader, not about compiling.
    const model = path.join(dir, "npy-model.cnn");
    writeFileSync(model, "network n(image: f32[1, 4, 4]) -> y { y = image |> relu }\n");
    const cli = await cliProblems(["run", model, "--input", `image=${file}`, "--backend", "reference"]);
    return { outcome: cli.outcome, problems: [...problems, ...cli.problems] };
  },
};

const PATHS = ["../../../../etc/passwd", "/dev/zero", "/etc/passwd", "fifo.safetensors", ".", "dir", "missing.safetensors", "w.safetensors", "a/../../w.safetensors", ""];

const weightPaths: InputClass = {
  name: "weights-path",
  weight: 5,
  make(r) {
    const p = pick(r, PATHS);
    return { text: `network n(x: f32[1, 8, 8]) -> y {\n  weights "${p}"\n  y = x |> conv1: conv(2, 3x3)\n}\n`, how: p };
  },
  async run(input) {
    const dir = scratchDir();
    mkdirSync(path.join(dir, "dir"), { recursive: true });
    writeFileSync(path.join(dir, "w.safetensors"), writeSafetensors(new Map([["conv1.weight", { shape: [2, 1, 3, 3], data: new Float32Array(18) }]])));
    return compileProblems(input.text, { fileName: path.join(dir, "model.cnn"), target: "webgpu" });
  },
};

/** Every class, in a fixed order (a case's class is drawn from these by weight). */
export const CLASSES: readonly InputClass[] = [sourceCompile, sourceCli, safetensors, npy, weightPaths, ...FILE_CLASSES, training];

/** The class of case `index`: by weight, from the case's own generator. */
export function classOf(r: Rng, classes: readonly InputClass[] = CLASSES): InputClass {
  const total = classes.reduce((s, c) => s + c.weight, 0);
  let x = r() * total;
  for (const c of classes) {
    x -= c.weight;
    if (x < 0) return c;
  }
  return classes[classes.length - 1];
}
