// Plan + artifacts -> a self-contained ES module folder on disk: bundle-files.ts assembles
// its files in memory (index.js, index.d.ts, the .wasm and WGSL, the weights, the runtime
// parts it uses); this, the Node edge, reads the compiled runtime from dist/runtime and
// writes the folder. It is written under a temporary name and renamed into place, so a failed
// compile never leaves a half-written bundle behind; it never replaces what cnnc did not write
// (output-path.ts has the rules and the rename dance).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Manifest } from "../runtime/manifest.js";
import { type BundleOptions, bundleFiles, runtimeFiles as runtimeFilesFrom, type RuntimeSource } from "./bundle-files.js";
import type { Artifacts } from "./compile.js";
import { type OutputRules, replaceAtomically } from "./output-path.js";

export { type BundleFiles, type BundleOptions, bundleFiles, indexDts, indexJs, type RuntimeSource } from "./bundle-files.js";

/** The compiled runtime: dist/runtime next to dist/compiler, or dist/runtime from the sources. */
export function runtimeDir(): string {
  const candidates = [new URL("../runtime/", import.meta.url), new URL("../dist/runtime/", import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    if (existsSync(path.join(dir, "load.js"))) return dir;
  }
  throw new Error("the compiled runtime is missing: run `npm run build` first");
}

/** The compiled runtime's files, read from runtimeDir(). */
export function nodeRuntimeSource(): RuntimeSource {
  const rt = runtimeDir();
  return (f) => readFileSync(path.join(rt, f), "utf8");
}

/** Runtime files a bundle needs: the compiled modules its index.js reaches, and the declarations its index.d.ts reaches. */
export function runtimeFiles(manifest: Manifest, options: BundleOptions = {}): string[] {
  return runtimeFilesFrom(manifest, options, nodeRuntimeSource());
}

/**
 * Writes the bundle folder atomically (temporary folder, then renames: output-path.ts). An
 * existing DIR is replaced only when it is a cnnc bundle or empty, unless `force`; DIR is never
 * one of `inputs` nor holds one. Throws OutputError (code "CNNC_OUTPUT") when it cannot.
 */
export function writeBundle(dir: string, artifacts: Artifacts, options: OutputRules & BundleOptions = {}): void {
  replaceAtomically(
    dir,
    "bundle",
    (tmp) => {
      for (const [name, content] of bundleFiles(artifacts, options, nodeRuntimeSource())) {
        const file = path.join(tmp, name);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
      }
    },
    options,
  );
}
