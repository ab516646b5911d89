// The command line: the only place that prints or sets an exit code. Exit 0 when all went
// well, 1 when the user's input is wrong (diagnostics printed), 2 for a usage error. A user's
// mistake never shows a stack trace; an internal error does, with a request to report it.

import { existsSync, readFileSync, renameSync, rmSync, statSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { BackendError, type GpuProvider, type LoadOptions } from "../runtime/load.js";
import { checkFinite, InputError, type Network, type TensorData } from "../runtime/session.js";
import { writeBundle } from "./bundle.js";
import { autotuneWebGpu } from "./autotune-webgpu.js";
import { formatDiagnostic, type Diagnostic } from "./diagnostics.js";
import { explain } from "./explain.js";
import type { AlgorithmName } from "./ir/graph.js";
import { printGraph } from "./ir/print.js";
import { analyse, compile, type CompileOptions, type CompileSuccess, type Target } from "./index.js";
import { interpret } from "./reference/interpret.js";
import type { Tensor } from "./reference/tensor.js";
import { readNpy, writeNpy } from "./tensors/npy.js";
import { mulberryInputs } from "./cli-inputs.js";

const USAGE = `usage:
  cnnc check MODEL.cnn [--weights W.safetensors] [--network NAME]
  cnnc compile MODEL.cnn -o DIR [--target wasm|webgpu|all] [COMPILE OPTIONS]
  cnnc run MODEL.cnn|DIR (--input NAME=X.npy ... | --random [SEED]) [--size SYM=N ...]
           [--backend reference|wasm|webgpu] [--threads N] [-o OUT.npy|DIR] [COMPILE OPTIONS]
  cnnc explain MODEL.cnn [--ir] [COMPILE OPTIONS]

compile options:
  --weights W.safetensors   weights by layer name (conv1.weight, conv1.bias, ...)
  --network NAME            which network, when the file has several
  --no-fuse                 keep every layer a kernel of its own
  --no-plan                 give every value its own memory (no reuse)
  --algorithm LAYER=NAME    force a convolution algorithm: direct, gemm, winograd2, winograd4, fft, separable, direct_simd
  --autotune                time each layer's applicable algorithms on this machine (WebAssembly, or
                            the WebGPU adapter with --target webgpu), keep the fastest

exit codes: 0 ok, 1 the input is wrong (diagnostics printed), 2 usage error`;

class UsageError extends Error {}
/** The user's input is wrong; the message (already formatted) is printed and we exit 1. */
class UserError extends Error {}

interface Args {
  command: string;
  positional: string[];
  flags: Map<string, string[]>;
}

const VALUE_FLAGS = new Set(["-o", "--target", "--weights", "--network", "--input", "--backend", "--size", "--algorithm", "--threads"]);
const BOOL_FLAGS = new Set(["--random", "--help", "-h", "--no-fuse", "--no-plan", "--ir", "--autotune"]);
/** Options every command that compiles takes. */
const COMPILE_FLAGS = ["--weights", "--network", "--target", "--no-fuse", "--no-plan", "--algorithm", "--autotune"];
const ALGORITHMS: readonly AlgorithmName[] = ["direct", "gemm", "winograd2", "winograd4", "fft", "separable", "direct_simd"];

function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") throw new UsageError("");
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_FLAGS.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : rest[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      flags.set(name, [...(flags.get(name) ?? []), v]);
    } else if (BOOL_FLAGS.has(name)) {
      // `--random` takes an optional seed.
      const next = rest[i + 1];
      const v = name === "--random" && next !== undefined && /^\d+$/.test(next) ? rest[++i] : "";
      flags.set(name, [v]);
    } else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  return { command, positional, flags };
}

function one(args: Args, flag: string): string | undefined {
  const v = args.flags.get(flag);
  if (v && v.length > 1) throw new UsageError(`${flag} is given more than once`);
  return v?.[0];
}

function allowOnly(args: Args, allowed: string[]): void {
  for (const f of args.flags.keys()) if (!allowed.includes(f)) throw new UsageError(`${args.command} does not take ${f}`);
}

function modelPath(args: Args): string {
  if (args.positional.length !== 1) throw new UsageError(`${args.command} takes one model file`);
  return args.positional[0];
}

function readSource(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: error: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function report(ds: readonly Diagnostic[]): void {
  for (const d of ds) process.stderr.write(`${formatDiagnostic(d)}\n`);
  const n = ds.filter((d) => d.severity === "error").length;
  if (n > 0) process.stderr.write(`${n} error${n === 1 ? "" : "s"}\n`);
}

function noteInitialised(layers: readonly string[]): void {
  if (layers.length === 0) return;
  process.stderr.write(
    `note: no weights given for ${layers.length === 1 ? "layer" : "layers"} ${layers.join(", ")}: initialised with seeded He-normal weights and zero biases\n`,
  );
}

function compileOptions(args: Args, file: string, forced?: Target): CompileOptions {
  const target = forced ?? one(args, "--target") ?? "wasm";
  if (!["wasm", "webgpu", "all"].includes(target)) throw new UsageError(`--target must be wasm, webgpu or all, not ${target}`);
  const algorithms: Record<string, AlgorithmName> = {};
  for (const spec of args.flags.get("--algorithm") ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(spec);
    const name = m?.[2] as AlgorithmName | undefined;
    if (!m || !name || !ALGORITHMS.includes(name)) throw new UsageError(`--algorithm takes LAYER=NAME with NAME one of ${ALGORITHMS.join(", ")}, got ${spec}`);
    algorithms[m[1]] = name;
  }
  return {
    fileName: file,
    weights: one(args, "--weights"),
    network: one(args, "--network"),
    target: target as Target,
    fuse: !args.flags.has("--no-fuse"),
    planMemory: !args.flags.has("--no-plan"),
    algorithms,
    autotune: args.flags.has("--autotune"),
  };
}

async function compileOrFail(args: Args, file: string, target?: Target): Promise<CompileSuccess> {
  const options = compileOptions(args, file, target);
  const source = readSource(file);
  const r = options.autotune && options.target === "webgpu" ? await autotuneOnGpu(source, options) : compile(source, options);
  report(r.diagnostics);
  if (!r.ok) throw new UserError("");
  noteInitialised(r.initialised);
  return r;
}

function cmdCheck(args: Args): void {
  allowOnly(args, ["--weights", "--network"]);
  const file = modelPath(args);
  const a = analyse(readSource(file), { fileName: file, weights: one(args, "--weights"), network: one(args, "--network") });
  report(a.log.items);
  if (a.log.hasErrors) throw new UserError("");
  process.stdout.write(`${file}: ok\n`);
}

/** `--autotune --target webgpu`: times the candidates on this machine's WebGPU adapter (Dawn). */
async function autotuneOnGpu(source: string, options: CompileOptions) {
  const { nodeAdapter } = await import("../runtime/webgpu-node.js");
  const found = await nodeAdapter();
  if (!found) {
    throw new UserError("cnnc: error: --autotune --target webgpu times the algorithms on a WebGPU adapter, and none was found; on Debian, software rendering needs: apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri");
  }
  process.stderr.write(`cnnc: autotuning on WebGPU adapter: ${found.description}\n`);
  // A fresh adapter for every load: requesting a device consumes one.
  const gpu: GpuProvider = { requestAdapter: async () => (await nodeAdapter())?.adapter ?? null };
  return autotuneWebGpu(source, options, gpu);
}

async function cmdCompile(args: Args): Promise<void> {
  allowOnly(args, ["-o", ...COMPILE_FLAGS]);
  const file = modelPath(args);
  const out = one(args, "-o");
  if (!out) throw new UsageError("compile needs -o DIR");
  const r = await compileOrFail(args, file);
  writeBundle(out, r.artifacts);
  const a = r.artifacts;
  const shaders = a.wgsl ? `, ${a.wgsl.length} WGSL programs` : "";
  const wasm = a.wasm ? `${a.wasm.byteLength} bytes of wasm${a.wasmRelaxed ? ` (${a.wasmRelaxed.byteLength} relaxed-SIMD)` : ""}, ` : "";
  const tables = a.tables?.byteLength ? ` and ${a.tables.byteLength} of packed weights` : "";
  process.stdout.write(`wrote ${out} (${r.plan.steps.length} kernels${shaders}, ${wasm}${a.weights.byteLength} bytes of weights${tables})\n`);
}

async function cmdExplain(args: Args): Promise<void> {
  allowOnly(args, ["--ir", ...COMPILE_FLAGS]);
  const r = await compileOrFail(args, modelPath(args));
  process.stdout.write(`${args.flags.has("--ir") ? printGraph(r.graph) : explain(r.graph, r.source, r.plan)}\n`);
}

/** Reads `--input name=file.npy` flags into tensors (checked: readable, valid .npy). */
function readInputs(args: Args): Map<string, TensorData> {
  const inputs = new Map<string, TensorData>();
  for (const spec of args.flags.get("--input") ?? []) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new UsageError(`--input takes NAME=FILE.npy, got ${spec}`);
    const name = spec.slice(0, eq);
    const file = spec.slice(eq + 1);
    if (inputs.has(name)) throw new UsageError(`input ${name} is given twice`);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (e) {
      throw new UserError(`${file}: error: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const r = readNpy(bytes, file);
    if (!r.ok) throw new UserError(`${file}: error: ${r.error.startsWith(file) ? r.error.slice(file.length).replace(/^:\s*/, "") : r.error}`);
    inputs.set(name, { data: r.value.data, shape: r.value.shape });
  }
  return inputs;
}

function parseSizes(args: Args): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const s of args.flags.get("--size") ?? []) {
    for (const part of s.split(",")) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$/.exec(part.trim());
      if (!m) throw new UsageError(`--size takes SYMBOL=N, got ${part}`);
      sizes[m[1]] = Number(m[2]);
    }
  }
  return sizes;
}

interface Runner {
  inputs: readonly { name: string; shape: readonly (number | { op: string; name?: string })[] }[];
  run(inputs: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  dispose?(): void;
}

function referenceRunner(r: CompileSuccess, net: Network): Runner {
  const g = r.source;
  return {
    inputs: net.inputs,
    async run(inputs) {
      // The session's checks (names, shapes, symbols) apply to the reference too.
      const { batch } = (await import("../runtime/session.js")).bindInputs(r.artifacts.manifest, inputs);
      const outs: Record<string, { shape: number[]; chunks: Float64Array[] }> = {};
      for (let n = 0; n < batch; n++) {
        const sample = new Map<string, Tensor>();
        for (const io of g.inputs) {
          const t = inputs[io.name];
          const per = t.data.length / batch;
          const shape = t.shape.length === g.values[io.value].shape.length ? [...t.shape] : t.shape.slice(1);
          sample.set(io.name, { shape, data: Float64Array.from(t.data.subarray(n * per, (n + 1) * per)) });
        }
        for (const [name, y] of interpret(g, sample)) {
          (outs[name] ??= { shape: [...y.shape], chunks: [] }).chunks.push(y.data);
        }
      }
      const result: Record<string, TensorData> = {};
      for (const [name, o] of Object.entries(outs)) {
        const data = new Float32Array(o.chunks.reduce((a, c) => a + c.length, 0));
        let at = 0;
        for (const c of o.chunks) {
          data.set(c, at);
          at += c.length;
        }
        result[name] = { data, shape: [batch, ...o.shape] };
      }
      return result;
    },
  };
}

async function loadBundleDir(dir: string, options: LoadOptions): Promise<Network> {
  const index = path.join(dir, "index.js");
  if (!existsSync(index)) throw new UserError(`${dir}: error: not a cnnc bundle (no index.js)`);
  const mod = (await import(pathToFileURL(path.resolve(index)).href)) as { load?: (o?: object) => Promise<Network> };
  if (typeof mod.load !== "function") throw new UserError(`${dir}: error: not a cnnc bundle (index.js has no load())`);
  return mod.load(options);
}

/**
 * WebGPU in Node: Dawn through the `webgpu` package, found by cnnc's own runtime (a GPU, else
 * Vulkan or OpenGL ES software rendering) and handed to the network (a bundle's copy of the
 * runtime may sit where the package cannot be resolved). Says on stderr which adapter it used.
 */
async function loadWebGpu(load: (options: LoadOptions) => Promise<Network>): Promise<Network> {
  const { nodeAdapter } = await import("../runtime/webgpu-node.js");
  let used: string | undefined;
  const gpu: GpuProvider = {
    async requestAdapter() {
      const found = await nodeAdapter();
      used = found?.description;
      return found?.adapter ?? null;
    },
  };
  let net: Network;
  try {
    net = await load({ backend: "webgpu", gpu });
  } catch (e) {
    if (e instanceof BackendError || (e as Error).name === "BackendError") {
      const hint = used ? "" : "; on Debian, software rendering needs: apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri (or use --backend wasm)";
      throw new UserError(`cnnc: error: cannot run on WebGPU: ${(e as Error).message}${hint}`);
    }
    throw e;
  }
  process.stderr.write(`cnnc: WebGPU adapter: ${used ?? net.description}\n`);
  return net;
}

function summary(name: string, t: TensorData): string {
  const d = t.data;
  const shown = Array.from(d.subarray(0, Math.min(d.length, 10)), (v) => Number(v.toPrecision(6)));
  let lines = `${name}: f32[${t.shape.join(", ")}] = [${shown.join(", ")}${d.length > 10 ? `, ... (${d.length} values)` : ""}]`;
  if (t.shape.length === 2 && t.shape[1] > 1) {
    const per = t.shape[1];
    const arg: number[] = [];
    for (let n = 0; n < t.shape[0]; n++) {
      let best = 0;
      for (let i = 1; i < per; i++) if (d[n * per + i] > d[n * per + best]) best = i;
      arg.push(best);
    }
    lines += `\n  argmax per sample: ${arg.join(", ")}`;
  }
  return lines;
}

/** Writes outputs atomically: one .npy for one output, else one .npy per output in a folder. */
function writeOutputs(out: string, outputs: Record<string, TensorData>): void {
  const names = Object.keys(outputs);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    if (out.endsWith(".npy")) {
      if (names.length !== 1) throw new UsageError(`the network has ${names.length} outputs; give -o a folder`);
      const t = outputs[names[0]];
      writeFileSync(tmp, writeNpy(t.shape, t.data));
      renameSync(tmp, out);
    } else {
      mkdirSync(tmp, { recursive: true });
      for (const n of names) writeFileSync(path.join(tmp, `${n}.npy`), writeNpy(outputs[n].shape, outputs[n].data));
      if (existsSync(out)) rmSync(out, { recursive: true, force: true });
      renameSync(tmp, out);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function cmdRun(args: Args): Promise<void> {
  allowOnly(args, ["--input", "--backend", "-o", "--random", "--size", "--threads", ...COMPILE_FLAGS]);
  const model = modelPath(args);
  const backend = one(args, "--backend") ?? "wasm";
  if (!["reference", "wasm", "webgpu"].includes(backend)) throw new UsageError(`--backend must be reference, wasm or webgpu, not ${backend}`);
  const threadsFlag = one(args, "--threads");
  const threads = threadsFlag === undefined ? 1 : Number(threadsFlag);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UsageError(`--threads must be a whole number from 1 to 256, not ${threadsFlag}`);
  if (threadsFlag !== undefined && backend !== "wasm") throw new UsageError("--threads applies to --backend wasm");
  const random = args.flags.get("--random");
  if (random && args.flags.has("--input")) throw new UsageError("give either --input or --random, not both");
  const isDir = existsSync(model) && statSync(model).isDirectory();
  let runner: Runner;
  if (isDir) {
    if (backend === "reference") throw new UsageError("a compiled bundle has no reference backend; run the .cnn file");
    if (args.flags.has("--weights")) throw new UsageError("a compiled bundle carries its weights; --weights applies to .cnn files");
    runner = backend === "webgpu" ? await loadWebGpu((o) => loadBundleDir(model, o)) : await loadBundleDir(model, { backend: "wasm", threads });
  } else if (backend === "webgpu") {
    const r = await compileOrFail(args, model, "webgpu");
    runner = await loadWebGpu((o) => r.load(o));
  } else {
    const r = await compileOrFail(args, model);
    const net = await r.load({ backend: "wasm", threads });
    runner = backend === "reference" ? referenceRunner(r, net) : net;
  }
  // Say whether the threads asked for run (or why not).
  if (threadsFlag !== undefined && "description" in runner) process.stderr.write(`cnnc: ${String(runner.description)}\n`);
  let inputs: Map<string, TensorData>;
  if (random) inputs = mulberryInputs(runner.inputs, Number(random[0] || "0"), parseSizes(args), (m) => new UsageError(m));
  else inputs = readInputs(args);
  for (const spec of runner.inputs) {
    if (!inputs.has(spec.name)) {
      throw new UserError(`cnnc: error: missing input '${spec.name}': pass --input ${spec.name}=FILE.npy (or --random)`);
    }
  }
  let outputs: Record<string, TensorData>;
  try {
    // NaN and infinities are refused here, for every backend alike (they would not agree on them).
    checkFinite(Object.fromEntries(inputs));
    outputs = await runner.run(Object.fromEntries(inputs));
  } catch (e) {
    if (e instanceof InputError) throw new UserError(`cnnc: error: ${e.message}`);
    if (e instanceof BackendError || (e as Error).name === "BackendError") throw new UserError(`cnnc: error: ${(e as Error).message}`);
    throw e;
  } finally {
    runner.dispose?.();
  }
  const out = one(args, "-o");
  if (out) {
    writeOutputs(out, outputs);
    process.stdout.write(`wrote ${out}\n`);
  } else for (const [name, t] of Object.entries(outputs)) process.stdout.write(`${summary(name, t)}\n`);
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    switch (args.command) {
      case "check":
        cmdCheck(args);
        break;
      case "compile":
        await cmdCompile(args);
        break;
      case "run":
        await cmdRun(args);
        break;
      case "explain":
        await cmdExplain(args);
        break;
      default:
        throw new UsageError(`unknown command '${args.command}'`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message ? `cnnc: ${e.message}\n\n` : ""}${USAGE}\n`);
      return 2;
    }
    if (e instanceof UserError) {
      if (e.message) process.stderr.write(`${e.message}\n`);
      return 1;
    }
    process.stderr.write(`cnnc: internal error (please report it): ${(e as Error).stack ?? String(e)}\n`);
    return 70;
  }
}
