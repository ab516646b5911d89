// The fuzzer's input classes. Each makes one input from a seeded generator (so a case is
// (class, seed, index) and can be replayed) and runs it through the part of cnnc that takes
// that kind of input, returning what went wrong: an empty list when cnnc answered with a
// result or with diagnostics. The list is open: an importer (ONNX, images, datasets) adds
// its class here.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { compile, type CompileOptions } from "../compiler/index.js";
import { main } from "../compiler/cli.js";
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
  run(input: FuzzInput): Promise<{ outcome: "ok" | "diagnostic"; problems: string[] }>;
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

/** What no message to a user may contain: signs of an unformatted value or a crash. */
export function messageProblems(raw: string, where: string, userWords = ""): string[] {
  const out: string[] = [];
  // The user's own words are not the message's: quoted names, the echoed source line under a
  // headline, and the phrase "undefined name" are left out of the NaN/undefined checks.
  const text = raw
    .split("\n")
    .filter((l) => !/^\s*\d+ \| /.test(l) && !/^\s*\| /.test(l))
    .join("\n")
    .replace(/'[^'\n]*'/g, "'…'")
    .replace(/undefined name/g, "unbound name");
  // A name the mutation made `NaN` or `undefined` (a label, a network) is the user's word.
  if (/\bNaN\b/.test(text) && !/\bNaN\b/.test(userWords)) out.push(`${where} says NaN: ${firstLineWith(text, "NaN")}`);
  if (/\bundefined\b/.test(text) && !/\bundefined\b/.test(userWords)) out.push(`${where} says undefined: ${firstLineWith(text, "undefined")}`);
  if (/internal error/.test(text)) out.push(`${where} reports an internal error: ${firstLineWith(text, "internal error")}`);
  if (/\n\s+at .+:\d+:\d+\)?/.test(text)) out.push(`${where} shows a stack trace`);
  return out;
}

function firstLineWith(text: string, word: string): string {
  return (text.split("\n").find((l) => l.includes(word)) ?? "").slice(0, 200);
}

/** compile() on an input: it must return, and its diagnostics must be clean. */
function compileProblems(source: string, options: CompileOptions): { outcome: "ok" | "diagnostic"; problems: string[] } {
  let r: ReturnType<typeof compile>;
  try {
    r = compile(source, options);
  } catch (e) {
    return { outcome: "diagnostic", problems: [`compile() threw ${(e as Error).stack ?? String(e)}`] };
  }
  const problems: string[] = [];
  for (const d of r.diagnostics) {
    problems.push(...messageProblems(d.message, "a diagnostic", source));
    if (d.span && (d.span.start < 0 || d.span.end > source.length || d.span.start > d.span.end)) problems.push(`a diagnostic's span is outside the file: ${d.message}`);
  }
  if (!r.ok && !r.diagnostics.some((d) => d.severity === "error")) problems.push("compile() failed without an error");
  return { outcome: r.ok ? "ok" : "diagnostic", problems };
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

let scratch: string | undefined;
/** A folder of this process's own for files the CLI reads and writes. */
function scratchDir(): string {
  scratch ??= mkdtempSync(path.join(tmpdir(), "cnnc-fuzz-"));
  return scratch;
}

/** The CLI in this process, its output captured: exit 0 or 1, and no trace of a crash. */
async function cliProblems(argv: string[], userWords = ""): Promise<{ outcome: "ok" | "diagnostic"; problems: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = (into: string[]) => ((chunk: string | Uint8Array) => {
    into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  const saved = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = write(out);
  process.stderr.write = write(err);
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    code = -1;
    err.push(`main() threw ${(e as Error).stack ?? String(e)}`);
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
  const problems: string[] = [];
  // A --size the fuzzer made out of range is a usage error (exit 2), as it should be.
  const usage = code === 2 && /^cnnc: .*--size/m.test(err.join(""));
  if (code !== 0 && code !== 1 && !usage) problems.push(`exit code ${code}: ${err.join("").slice(0, 2000)}`);
  problems.push(...messageProblems(err.join(""), "stderr", userWords));
  // Results may be NaN for a network that computes NaN; only the words around them are checked.
  if (/\bundefined\b/.test(out.join("")) && !userWords.includes("undefined")) problems.push(`stdout says undefined: ${firstLineWith(out.join(""), "undefined")}`);
  return { outcome: code === 0 ? "ok" : "diagnostic", problems };
}

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
export const CLASSES: readonly InputClass[] = [sourceCompile, sourceCli, safetensors, npy, weightPaths];

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
