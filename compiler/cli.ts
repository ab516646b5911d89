// The command line: the only place that prints or sets an exit code. Exit 0 when all went
// well, 1 when the user's input is wrong or an output cannot be written (diagnostics printed),
// 2 for a usage error, 70 for an internal error. A user's mistake never shows a stack trace;
// an internal error does, with a request to report it. docs/cli.md documents all of it.
//
// Start-up is kept short: `check` and `explain` import only the front of the compiler
// (analyse.ts, optimise.ts); the emitters and binaryen (compiler/index.ts) are imported
// dynamically by the commands that generate code.

import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { GpuProvider, LoadOptions } from "../runtime/load.js";
import { checkFinite, type Network, type TensorData } from "../runtime/session.js";
import { parseLabels, topK } from "../runtime/top-k.js";
import type { Normalization } from "../runtime/image.js";
import { analyse } from "./analyse.js";
import { withFileSystem } from "./node-files.js";
import { commandHelp, commandNamed, COMMANDS, generalHelp, parseCommand, type Parsed, UsageError } from "./cli-args.js";
import { declaredInputs, mulberryInputs, randomShapes } from "./cli-inputs.js";
import { printShape } from "./ir/dim.js";
import { closest } from "./suggest.js";
import { readModel, readModelText } from "./cli-read.js";
import { loadOnnxImporter } from "./import/onnx/front.js";
import { escapeControls, printDiagnostics, Progress, progressItem, sayErr } from "./cli-text.js";
import type { Diagnostic } from "./diagnostics.js";
import type { AlgorithmName } from "./ir/graph.js";
import type { CompileSuccess } from "./index.js";
import type { CompileOptions, Target } from "./options.js";
import { OutputError, type OutputKind, outputRefusal, type OutputRules, guardSignalsDuringWrites, replaceAtomically, whyFailed } from "./output-path.js";
import { imageFormat, NORMALIZATION_HELP, NORMALIZATIONS } from "./tensors/image-kind.js";
import { readNpy, writeNpy } from "./tensors/npy.js";

/** The user's input is wrong; the message (already formatted) is printed and we exit 1. */
class UserError extends Error {}

const ALGORITHMS: readonly AlgorithmName[] = ["direct", "gemm", "winograd2", "winograd4", "winograd1d", "fft", "separable", "direct_simd"];

/** The runtime's error classes by their `code`: a bundle's own copy of the runtime fails `instanceof`. */
const hasCode = (e: unknown, code: string): e is Error => typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;

function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}
function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : [];
}
const flag = (p: Parsed, name: string): boolean => p.values[name] === true;

function modelPath(p: Parsed): string {
  if (p.positional.length === 0) throw new UsageError(`${p.command} needs a model file`, p.command);
  if (p.positional.length > 1) throw new UsageError(`${p.command} takes one model file, got ${p.positional.length}: ${p.positional.join(" ")}`, p.command);
  return p.positional[0];
}

/** A model: `.cnn` text, or an ONNX model's bytes (compile() imports it: its importer is loaded here). */
async function readSource(file: string): Promise<string | Uint8Array> {
  const r = readModel(file);
  if (!r.ok) throw new UserError(`${file}: error: ${r.error}`);
  if (typeof r.model !== "string") await loadOnnxImporter();
  return r.model;
}

function noteInitialised(layers: readonly string[]): void {
  if (layers.length === 0) return;
  sayErr(`note: no weights given for ${layers.length === 1 ? "layer" : "layers"} ${layers.join(", ")}: initialised with seeded He-normal weights and zero biases`);
}

function compileOptions(p: Parsed, file: string, forced?: Target): CompileOptions {
  const target = forced ?? str(p, "target") ?? "wasm";
  if (!["wasm", "webgpu", "all"].includes(target)) throw new UsageError(`--target must be wasm, webgpu or all, not ${target}`, p.command);
  const algorithms: Record<string, AlgorithmName> = {};
  for (const spec of list(p, "algorithm")) {
    const m = /^([^=]+)=(.+)$/.exec(spec);
    const name = m?.[2] as AlgorithmName | undefined;
    if (!m || !name || !ALGORITHMS.includes(name)) throw new UsageError(`--algorithm takes LAYER=NAME with NAME one of ${ALGORITHMS.join(", ")}, got ${spec}`, p.command);
    algorithms[m[1]] = name;
  }
  return {
    fileName: file,
    weights: str(p, "weights"),
    network: str(p, "network"),
    target: target as Target,
    fuse: !flag(p, "no-fuse"),
    planMemory: !flag(p, "no-plan"),
    algorithms,
    autotune: flag(p, "autotune"),
  };
}

function failOn(diagnostics: readonly Diagnostic[], ok: boolean): void {
  printDiagnostics(diagnostics);
  if (!ok) throw new UserError("");
}

async function compileOrFail(p: Parsed, file: string, target?: Target): Promise<CompileSuccess> {
  const options = compileOptions(p, file, target);
  const source = await readSource(file);
  // Started before binaryen loads, so that its load counts towards the second before a bar shows.
  const compileBar = options.autotune ? undefined : new Progress("compile");
  // Only the target's own backend is loaded (compiler/targets.ts).
  const [{ compile }, { loadTargets }] = await Promise.all([import("./node-compile.js"), import("./targets.js")]);
  await loadTargets([options.target ?? "wasm"]);
  let r;
  if (options.autotune && options.target === "webgpu") {
    sayErr("cnnc: autotuning: timing each convolution's algorithms on the WebGPU adapter (seconds per layer)");
    r = await autotuneOnGpu(source, options);
  } else if (options.autotune) {
    // A bar per layer: each takes seconds. The convolutions are counted from the checked graph.
    const convs = analyse(source, withFileSystem(options)).graph?.nodes.filter((n) => n.op.kind === "conv").length ?? 0;
    sayErr(`cnnc: autotuning ${convs} convolution layer${convs === 1 ? "" : "s"}: timing each one's algorithms on this machine`);
    const bar = new Progress("autotune", 0);
    let done = 0;
    try {
      r = compile(source, { ...options, onAutotune: (layer) => bar.update(done++, convs, layer) });
    } finally {
      bar.done();
    }
  } else {
    // A big network takes seconds: a bar (on a TTY, after a second) per stage and kernel.
    try {
      r = compile(source, { ...options, onProgress: (p) => compileBar?.update(p.done, p.total, progressItem(p)) });
    } finally {
      compileBar?.done();
    }
  }
  failOn(r.diagnostics, r.ok);
  if (!r.ok) throw new UserError("");
  noteInitialised(r.initialised);
  return r;
}

async function cmdCheck(p: Parsed): Promise<void> {
  const file = modelPath(p);
  const options = { fileName: file, weights: str(p, "weights"), network: str(p, "network") };
  if (list(p, "size").length === 0) {
    const a = analyse(await readSource(file), withFileSystem(options));
    failOn(a.log.items, !a.log.hasErrors);
    process.stdout.write(`${escapeControls(file)}: ok\n`);
    return;
  }
  // At given sizes: the passes and the plan (still no code generation), evaluated there.
  const sizes = parseSizes(p);
  const [{ optimise }, { checkAtSizes, mib }] = await Promise.all([import("./optimise.js"), import("./check-sizes.js")]);
  const o = optimise(await readSource(file), withFileSystem(options));
  if (!o.ok) return failOn(o.diagnostics, false);
  const summary = checkAtSizes(o, sizes, o.log);
  failOn(o.log.items, !o.log.hasErrors);
  if (!summary) return;
  const big = summary.largest ? `; largest tensor ${summary.largest.layer} ${summary.largest.shape} (${mib(summary.largest.bytes)})` : "";
  process.stdout.write(`${escapeControls(file)}: ok with ${summary.sizes}: ${mib(summary.activationBytes)} of activations per sample, ${mib(summary.weightBytes)} of weights${big}\n`);
}

/** `--autotune --target webgpu`: times the candidates on this machine's WebGPU adapter (Dawn). */
async function autotuneOnGpu(source: string | Uint8Array, options: CompileOptions) {
  const { nodeAdapter } = await import("../runtime/webgpu-node.js");
  const found = await nodeAdapter();
  if (!found) {
    throw new UserError("cnnc: error: --autotune --target webgpu times the algorithms on a WebGPU adapter, and none was found; on Debian, software rendering needs: apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri");
  }
  sayErr(`cnnc: autotuning on WebGPU adapter: ${found.description}`);
  // A fresh adapter for every load: requesting a device consumes one.
  const gpu: GpuProvider = { requestAdapter: async () => (await nodeAdapter())?.adapter ?? null };
  const { autotuneWebGpu } = await import("./autotune-webgpu.js");
  return autotuneWebGpu(source, options, gpu);
}

function refuseOutput(out: string, kind: OutputKind, rules: OutputRules): void {
  const why = outputRefusal(out, kind, rules);
  if (why) throw new OutputError(why);
}

/** Paths the command reads: never an output. */
function inputsOf(p: Parsed, model: string): string[] {
  const files = [model];
  const w = str(p, "weights");
  if (w) files.push(w);
  for (const spec of list(p, "input")) files.push(spec.slice(spec.indexOf("=") + 1));
  const labels = str(p, "labels");
  if (labels) files.push(labels);
  return files;
}

async function cmdCompile(p: Parsed): Promise<void> {
  const file = modelPath(p);
  const out = str(p, "output");
  if (!out) throw new UsageError("compile needs -o DIR", p.command);
  // --threads N: the bundle ships the WebAssembly thread pool and loads on N threads by default.
  const threadsFlag = str(p, "threads");
  const threads = threadsFlag === undefined ? 1 : Number(threadsFlag);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UsageError(`--threads must be a whole number from 1 to 256, not ${threadsFlag}`, p.command);
  const rules = { inputs: inputsOf(p, file), force: flag(p, "force") };
  // Before the compile: a refusal should not cost its time.
  refuseOutput(out, "bundle", rules);
  // This process runs no network (autotune does), so binaryen can stay on V8's baseline tier.
  if (!flag(p, "autotune")) {
    const [node, { loadBinaryen }] = await Promise.all([import("./binaryen-node.js"), import("./backends/wasm/binaryen.js")]);
    node.preferBaselineWasm();
    // Started now, so that binaryen's wasm compiles on V8's background threads while the
    // compiler's modules load and the model is parsed (node-compile.ts awaits the same load;
    // a failure reaches it there, this handler only keeps it from counting as unhandled).
    loadBinaryen(node.loadBinaryenForNode).catch(() => undefined);
  }
  const r = await compileOrFail(p, file);
  const { writeBundle } = await import("./bundle.js");
  writeBundle(out, r.artifacts, { ...rules, threads });
  const a = r.artifacts;
  const shaders = a.wgsl ? `, ${a.wgsl.length} WGSL programs` : "";
  const wasm = a.wasm ? `${a.wasm.byteLength} bytes of wasm${a.wasmRelaxed ? ` (${a.wasmRelaxed.byteLength} relaxed-SIMD)` : ""}, ` : "";
  const tables = a.tables?.byteLength ? ` and ${a.tables.byteLength} of packed weights` : "";
  process.stdout.write(`${escapeControls(`wrote ${out}`)} (${r.plan.steps.length} kernels${shaders}, ${wasm}${a.weights.byteLength} bytes of weights${tables})\n`);
}

/** `cnnc import` (ONNX to .cnn and .safetensors) and `cnnc export` (a model to ONNX); the work is in import/onnx/cli.ts and export/cli.ts. */
async function cmdImportExport(p: Parsed): Promise<void> {
  const file = modelPath(p);
  const out = str(p, "output");
  const suffix = p.command === "import" ? ".cnn" : ".onnx";
  if (!out) throw new UsageError(`${p.command} needs -o MODEL${suffix}`, p.command);
  const rules = { inputs: inputsOf(p, file), force: flag(p, "force") };
  refuseOutput(out, "file", rules);
  let r: { code: number; stdout: string; stderr: string };
  if (p.command === "import") {
    refuseOutput(`${out.replace(/\.cnn$/i, "")}.safetensors`, "file", rules);
    const { importCommand } = await import("./import/onnx/cli.js");
    r = importCommand(file, out);
  } else {
    const { exportCommand } = await import("./export/cli.js");
    r = await exportCommand(file, out, str(p, "weights"), str(p, "network"));
  }
  process.stdout.write(escapeControls(r.stdout));
  if (r.stderr) sayErr(r.stderr.replace(/\n$/, ""));
  if (r.code !== 0) throw new UserError("");
}

async function cmdExplain(p: Parsed): Promise<void> {
  const file = modelPath(p);
  const { explain } = await import("./explain.js");
  const { printGraph } = await import("./ir/print.js");
  // Pictures of the optimised graph: refused before the compile, written after it.
  const pictures = (["svg", "dot"] as const).flatMap((format) => {
    const out = str(p, format);
    return out === undefined ? [] : [{ out, format }];
  });
  if (pictures.length === 2 && path.resolve(pictures[0].out) === path.resolve(pictures[1].out)) throw new UsageError("--svg and --dot name the same file", p.command);
  const rules = { inputs: inputsOf(p, file), force: flag(p, "force") };
  for (const { out } of pictures) refuseOutput(out, "file", rules);
  let r: { graph: CompileSuccess["graph"]; source: CompileSuccess["source"]; plan: CompileSuccess["plan"] };
  if (flag(p, "autotune")) r = await compileOrFail(p, file);
  else {
    // No code generated: the passes and the plan only (binaryen is never loaded).
    const [{ optimise }, { loadTargets }] = await Promise.all([import("./optimise.js"), import("./targets.js")]);
    const options = compileOptions(p, file);
    await loadTargets([options.target ?? "wasm"]);
    const o = optimise(await readSource(file), withFileSystem(options));
    failOn(o.ok ? o.log.items : o.diagnostics, o.ok);
    if (!o.ok) return;
    noteInitialised(o.initialised);
    r = o;
  }
  process.stdout.write(`${flag(p, "ir") ? printGraph(r.graph) : explain(r.graph, r.source, r.plan)}\n`);
  if (pictures.length) {
    const { graphPicture } = await import("./pictures/graph.js");
    const picture = graphPicture(r);
    for (const { out, format } of pictures) {
      const text = format === "svg" ? (await import("./pictures/svg.js")).renderSvg(picture) : (await import("./pictures/dot.js")).renderDot(picture);
      replaceAtomically(out, "file", (tmp) => writeFileSync(tmp, text), rules);
      sayErr(escapeControls(`cnnc: wrote ${out} (${r.plan.steps.length} kernels)`));
    }
  }
}

/** `cnnc lsp --stdio`: serves until the client disconnects (the server itself exits on `exit`). */
async function cmdLsp(p: Parsed): Promise<void> {
  if (p.positional.length > 0) throw new UsageError(`lsp takes no files (the editor sends them), got ${p.positional.join(" ")}`, p.command);
  const { startServer } = await import("./lsp/server.js");
  await startServer(process.stdin, process.stdout);
}

function normalization(p: Parsed): Normalization {
  const n = str(p, "normalize") ?? "unit";
  if (!(NORMALIZATIONS as readonly string[]).includes(n)) throw new UsageError(`--normalize must be one of ${NORMALIZATIONS.join(", ")}, not ${n} (${NORMALIZATION_HELP})`, p.command);
  return n as Normalization;
}

/** Reads `--input name=file` flags into tensors: a .npy array, or a PNG/JPEG image laid out for the input. */
async function readInputs(p: Parsed, specs: Runner["inputs"]): Promise<Map<string, TensorData>> {
  const inputs = new Map<string, TensorData>();
  const norm = normalization(p);
  let images = 0;
  for (const spec of list(p, "input")) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new UsageError(`--input takes NAME=FILE (a .npy array or a .png/.jpg image), got ${spec}`, p.command);
    const name = spec.slice(0, eq);
    const file = spec.slice(eq + 1);
    if (inputs.has(name)) throw new UsageError(`input ${name} is given twice`, p.command);
    const io = specs.find((s) => s.name === name);
    if (!io) {
      const names = specs.map((s) => s.name);
      throw new UserError(`cnnc: error: the network has no input '${name}'; its inputs: ${names.join(", ")}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (e) {
      throw new UserError(`${file}: error: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (imageFormat(bytes)) {
      const { readImage } = await import("./tensors/image.js");
      const r = readImage(bytes, io.shape as Parameters<typeof readImage>[1], norm, file);
      if (!r.ok) throw new UserError(r.error.replace(/^([^:]*): /, "$1: error: "));
      images++;
      inputs.set(name, r.value);
      continue;
    }
    const r = readNpy(bytes, file);
    if (!r.ok) throw new UserError(`${file}: error: ${r.error.startsWith(file) ? r.error.slice(file.length).replace(/^:\s*/, "") : r.error} (an input is a .npy array or a PNG/JPEG image)`);
    inputs.set(name, { data: r.value.data, shape: r.value.shape });
  }
  if (images > 0) sayErr(`cnnc: image${images > 1 ? "s" : ""} resized bilinearly and normalised '${norm}' (--normalize: ${NORMALIZATION_HELP})`);
  return inputs;
}

function parseSizes(p: Parsed): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const s of list(p, "size")) {
    for (const part of s.split(",")) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$/.exec(part.trim());
      if (!m) throw new UsageError(`--size takes SYMBOL=N, got ${part}`, p.command);
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
    if (hasCode(e, "CNNC_BACKEND") || (e as Error).name === "BackendError") {
      // No adapter: the software-rendering packages may be missing (not when the `webgpu` package itself is).
      const hint = used || /npm i webgpu/.test((e as Error).message) ? "" : "; on Debian, software rendering needs: apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri (or use --backend wasm)";
      throw new UserError(`cnnc: error: cannot run on WebGPU: ${(e as Error).message}${hint}`);
    }
    throw e;
  }
  sayErr(`cnnc: WebGPU adapter: ${used ?? net.description}`);
  return net;
}

function summary(name: string, t: TensorData): string {
  const d = t.data;
  const shown = Array.from(d.subarray(0, Math.min(d.length, 10)), (v) => Number(v.toPrecision(6)));
  let lines = `${name}: f32[${t.shape.join(", ")}] = [${shown.join(", ")}${d.length > 10 ? `, ... (${d.length} values)` : ""}]`;
  if (t.shape.length === 2 && t.shape[1] > 1) lines += `\n  argmax per sample: ${topK(t, 1).map((s) => s[0].index).join(", ")}`;
  return lines;
}

/** `--top K` / `--labels`: the K best classes per sample, with their names. */
function ranking(name: string, t: TensorData, k: number, labels: readonly string[] | undefined): string {
  const lines = [`${name}: top ${k}${t.shape.length > 1 && t.shape[0] > 1 ? " per sample" : ""}`];
  topK(t, k, labels).forEach((ranked, s) => {
    if (t.shape.length > 1 && t.shape[0] > 1) lines.push(`  sample ${s}:`);
    for (const r of ranked) lines.push(`  ${String(r.index).padStart(5)}  ${r.score.toPrecision(6).padStart(12)}  ${r.label ?? ""}`.trimEnd());
  });
  return lines.join("\n");
}

function readLabels(p: Parsed): string[] | undefined {
  const file = str(p, "labels");
  if (!file) return undefined;
  const r = readModelText(file);
  if (!r.ok) throw new UserError(`${file}: error: ${r.error.replace("a .cnn file", "a labels file")}`);
  return parseLabels(r.text);
}

/** Writes outputs atomically: one .npy for one output, else one .npy per output in a folder. */
function writeOutputs(out: string, outputs: Record<string, TensorData>, p: Parsed, inputs: string[]): void {
  const names = Object.keys(outputs);
  const rules = { inputs, force: flag(p, "force") };
  if (out.endsWith(".npy")) {
    if (names.length !== 1) throw new UsageError(`the network has ${names.length} outputs; give -o a folder`, p.command);
    const t = outputs[names[0]];
    replaceAtomically(out, "npy", (tmp) => writeFileSync(tmp, writeNpy(t.shape, t.data)), rules);
  } else {
    replaceAtomically(out, "npy-folder", (tmp) => {
      for (const n of names) writeFileSync(path.join(tmp, `${n}.npy`), writeNpy(outputs[n].shape, outputs[n].data));
    }, rules);
  }
}

async function cmdRun(p: Parsed): Promise<void> {
  const model = modelPath(p);
  const backend = str(p, "backend") ?? "wasm";
  if (!["reference", "wasm", "webgpu"].includes(backend)) throw new UsageError(`--backend must be reference, wasm or webgpu, not ${backend}`, p.command);
  const threadsFlag = str(p, "threads");
  const threads = threadsFlag === undefined ? 1 : Number(threadsFlag);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UsageError(`--threads must be a whole number from 1 to 256, not ${threadsFlag}`, p.command);
  if (threadsFlag !== undefined && backend !== "wasm") throw new UsageError("--threads applies to --backend wasm", p.command);
  const topFlag = str(p, "top");
  const top = topFlag === undefined ? undefined : Number(topFlag);
  if (top !== undefined && (!Number.isInteger(top) || top < 1)) throw new UsageError(`--top takes a whole number of classes, 1 or more, not ${topFlag}`, p.command);
  const random = flag(p, "random");
  if (random && list(p, "input").length) throw new UsageError("give either --input or --random, not both", p.command);
  if (p.seed !== undefined && !random) throw new UsageError(`unexpected argument ${p.seed}`, p.command);
  const out = str(p, "output");
  normalization(p);
  const labels = readLabels(p);
  // Refuse an output we may not write before the (possibly long) compile and run.
  const reads = inputsOf(p, model);
  if (out) refuseOutput(out, out.endsWith(".npy") ? "npy" : "npy-folder", { inputs: reads, force: flag(p, "force") });
  const isDir = existsSync(model) && statSync(model).isDirectory();
  // --random's sizes are checked before the compile, which can take a minute (fuzzer seed 35
  // case 36159: 65 s and 2.7 GB, then "give it with --size H=N").
  if (random && !isDir) {
    const source = await readSource(model);
    const specs = typeof source === "string" ? declaredInputs(source, str(p, "network")) : undefined;
    if (specs) randomShapes(specs, parseSizes(p), (m) => new UsageError(m, p.command));
  }
  let runner: Runner;
  // The compiled network, for the work estimate (a bundle folder carries no graph).
  let compiled: CompileSuccess | undefined;
  if (isDir) {
    if (backend === "reference") throw new UsageError("a compiled bundle has no reference backend; run the .cnn file", p.command);
    if (p.values.weights !== undefined) throw new UsageError("a compiled bundle carries its weights; --weights applies to .cnn files", p.command);
    runner = backend === "webgpu" ? await loadWebGpu((o) => loadBundleDir(model, o)) : await loadBundleDir(model, { backend: "wasm", threads });
  } else if (backend === "webgpu") {
    const r = await compileOrFail(p, model, "webgpu");
    compiled = r;
    runner = await loadWebGpu((o) => r.load(o));
  } else {
    const r = await compileOrFail(p, model);
    compiled = r;
    const net = await r.load({ backend: "wasm", threads });
    if (backend === "reference") {
      const { referenceRunner } = await import("./cli-reference.js");
      runner = referenceRunner(r, net);
    } else runner = net;
  }
  // Say whether the threads asked for run (or why not).
  if (threadsFlag !== undefined && "description" in runner) sayErr(`cnnc: ${String(runner.description)}`);
  let inputs: Map<string, TensorData>;
  if (random) inputs = mulberryInputs(runner.inputs, Number(p.seed ?? "0"), parseSizes(p), (m) => new UsageError(m, p.command));
  else inputs = await readInputs(p, runner.inputs);
  for (const spec of runner.inputs) {
    if (!inputs.has(spec.name)) {
      throw new UserError(`cnnc: error: missing input '${spec.name}': pass --input ${spec.name}=FILE (a .npy array or a .png/.jpg image), or --random`);
    }
  }
  let outputs: Record<string, TensorData>;
  try {
    // NaN and infinities are refused here, for every backend alike (they would not agree on them).
    checkFinite(Object.fromEntries(inputs));
    if (compiled && backend !== "reference" && !flag(p, "allow-long")) {
      const { runTooLong } = await import("./cli-work.js");
      const refusal = runTooLong(compiled, Object.fromEntries(inputs));
      if (refusal) throw new UserError(`cnnc: error: ${refusal}`);
    }
    outputs = await runner.run(Object.fromEntries(inputs));
  } catch (e) {
    if (hasCode(e, "CNNC_INPUT") || (e as Error).name === "InputError") throw new UserError(`cnnc: error: ${(e as Error).message}`);
    if (hasCode(e, "CNNC_BACKEND") || (e as Error).name === "BackendError") throw new UserError(`cnnc: error: ${(e as Error).message}`);
    throw e;
  } finally {
    runner.dispose?.();
  }
  if (out) {
    writeOutputs(out, outputs, p, reads);
    process.stdout.write(`${escapeControls(`wrote ${out}`)}\n`);
    return;
  }
  for (const [name, t] of Object.entries(outputs)) {
    const k = top ?? (labels ? 5 : undefined);
    process.stdout.write(`${escapeControls(k !== undefined ? ranking(name, t, Math.min(k, t.shape[t.shape.length - 1] ?? k), labels) : summary(name, t))}\n`);
  }
}

/** `cnnc show kernels|features MODEL -o FILE.png`: the work is in cli-show.ts and pictures/grids.ts. */
async function cmdShow(p: Parsed): Promise<void> {
  const [what, ...rest] = p.positional;
  if (what !== "kernels" && what !== "features") {
    const c = what === undefined ? undefined : closest(what, ["kernels", "features"]);
    throw new UsageError(what === undefined ? "show needs what to draw: kernels or features" : `show draws kernels or features, not '${what}'${c ? ` (did you mean '${c}'?)` : ""}`, p.command);
  }
  const file = modelPath({ ...p, positional: rest });
  const out = str(p, "output");
  if (!out) throw new UsageError(`show ${what} needs -o FILE.png`, p.command);
  if (!/\.png$/i.test(out)) throw new UsageError(`show writes a PNG: give -o a file ending in .png, not ${out}`, p.command);
  const layer = str(p, "layer");
  const random = flag(p, "random");
  const scaleFlag = str(p, "scale");
  const scale = scaleFlag === undefined ? undefined : Number(scaleFlag);
  if (scale !== undefined && (!Number.isInteger(scale) || scale < 1 || scale > 64)) throw new UsageError(`--scale must be a whole number of pixels from 1 to 64, not ${scaleFlag}`, p.command);
  if (what === "kernels") {
    for (const f of ["input", "random", "size", "normalize"]) if (p.values[f] !== undefined) throw new UsageError(`--${f} applies to show features, not show kernels`, p.command);
  } else {
    if (layer === undefined) throw new UsageError("show features needs --layer NAME (a layer, or a value a statement binds)", p.command);
    if (random && list(p, "input").length) throw new UsageError("give either --input or --random, not both", p.command);
    if (!random && !list(p, "input").length) throw new UsageError("show features needs --input NAME=FILE or --random", p.command);
    normalization(p);
  }
  if (p.seed !== undefined && !random) throw new UsageError(`unexpected argument ${p.seed}`, p.command);
  const rules = { inputs: inputsOf(p, file), force: flag(p, "force") };
  refuseOutput(out, "file", rules);
  const a = analyse(await readSource(file), withFileSystem({ fileName: file, weights: str(p, "weights"), network: str(p, "network") }));
  failOn(a.log.items, !a.log.hasErrors);
  if (!a.graph) throw new UserError("");
  const g = a.graph;
  const show = await import("./cli-show.js");
  let shown;
  if (what === "kernels") shown = show.showKernels(g, layer, scale);
  else {
    const specs = g.inputs.map((io) => ({ name: io.name, shape: g.values[io.value].shape }));
    const given = random ? mulberryInputs(specs, Number(p.seed ?? "0"), parseSizes(p), (m) => new UsageError(m, p.command)) : await readInputs(p, specs);
    const sample = new Map<string, { shape: number[]; data: Float64Array }>();
    for (const io of g.inputs) {
      const t = given.get(io.name);
      if (!t) throw new UserError(`cnnc: error: missing input '${io.name}': pass --input ${io.name}=FILE (a .npy array or a .png/.jpg image), or --random`);
      checkFinite({ [io.name]: t });
      // One sample: a leading batch axis (an image, or a .npy with one) is dropped.
      const rank = g.values[io.value].shape.length;
      const shape = t.shape.length === rank + 1 ? t.shape.slice(1) : [...t.shape];
      const per = shape.reduce((x, y) => x * y, 1);
      const want = g.values[io.value].shape;
      if (shape.length !== rank || want.some((d, i) => typeof d === "number" && d !== shape[i])) {
        throw new UserError(`cnnc: error: input '${io.name}' is [${t.shape.join(", ")}]; the network takes f32${printShape(want)}`);
      }
      sample.set(io.name, { shape, data: Float64Array.from(t.data.subarray(0, per)) });
    }
    noteInitialised(a.initialised);
    shown = show.showFeatures(g, sample, layer as string, scale);
  }
  if (!shown.ok) throw new UserError(`cnnc: error: ${shown.error}`);
  const png = show.encodePng(shown.picture);
  replaceAtomically(out, "file", (tmp) => writeFileSync(tmp, png), rules);
  process.stdout.write(`${escapeControls(`wrote ${out}: ${shown.what}; ${shown.picture.width}x${shown.picture.height} pixels`)}\n`);
}

/** The package's version, from package.json beside dist/ (or the sources). */
function version(): string {
  for (const rel of ["../../package.json", "../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "cnnc" && pkg.version) return pkg.version;
    } catch {
      // Try the next place.
    }
  }
  return "unknown";
}

export async function main(argv: string[]): Promise<number> {
  guardSignalsDuringWrites();
  let command: string | undefined;
  try {
    const [first, ...rest] = argv;
    if (first === undefined) {
      process.stderr.write(`${generalHelp(version())}\n`);
      return 2;
    }
    if (first === "--help" || first === "-h") {
      process.stdout.write(`${generalHelp(version())}\n`);
      return 0;
    }
    if (first === "--version" || first === "-V") {
      process.stdout.write(`cnnc ${version()}\n`);
      return 0;
    }
    if (first.startsWith("-")) throw new UsageError(`give a command first (${Object.keys(COMMANDS).join(", ")}), then ${first}`);
    command = commandNamed(first);
    if (command === "help") {
      if (rest.length > 1) throw new UsageError("help takes at most one command", "help");
      process.stdout.write(`${rest.length ? commandHelp(commandNamed(rest[0])) : generalHelp(version())}\n`);
      return 0;
    }
    if (command === "train") {
      if (rest.includes("--help") || rest.includes("-h")) {
        process.stdout.write(`${commandHelp(command)}\n`);
        return 0;
      }
      // `train` parses its own flags (compiler/train/cli.ts), loaded only for this command.
      const { trainCommand } = await import("./train/cli.js");
      return await trainCommand(rest);
    }
    if (command === "kmeans") {
      if (rest.includes("--help") || rest.includes("-h")) {
        process.stdout.write(`${commandHelp(command)}\n`);
        return 0;
      }
      const { kmeansCommand } = await import("./train/kmeans-cli.js");
      return await kmeansCommand(rest);
    }
    const p = parseCommand(command, rest);
    if (p.values.help === true) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    switch (command) {
      case "check":
        await cmdCheck(p);
        break;
      case "compile":
        await cmdCompile(p);
        break;
      case "run":
        await cmdRun(p);
        break;
      case "explain":
        await cmdExplain(p);
        break;
      case "import":
      case "export":
        await cmdImportExport(p);
        break;
      case "show":
        await cmdShow(p);
        break;
      case "lsp":
        await cmdLsp(p);
        break;
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      const cmd = e.command ?? command;
      sayErr(`cnnc: ${e.message}`);
      process.stderr.write(cmd && cmd !== "help" ? `usage: ${COMMANDS[cmd].usage}\nrun 'cnnc help ${cmd}' for more\n` : "run 'cnnc --help' for the commands\n");
      return 2;
    }
    if (e instanceof UserError) {
      if (e.message) sayErr(e.message);
      return 1;
    }
    if (e instanceof OutputError || hasCode(e, "CNNC_OUTPUT")) {
      sayErr(`cnnc: error: ${(e as Error).message}`);
      return 1;
    }
    // A file-system error on an output the code above did not catch: still the user's situation.
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code) && (e as NodeJS.ErrnoException).syscall) {
      sayErr(`cnnc: error: ${(e as NodeJS.ErrnoException).path ?? ""}: ${whyFailed(e)}`);
      return 1;
    }
    process.stderr.write(`cnnc: internal error (please report it): ${escapeControls((e as Error).stack ?? String(e))}\n`);
    return 70;
  }
}
