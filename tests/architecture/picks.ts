// What the compiler decides and emits for every example and bench network, per target: each
// convolution's algorithm and reason, and a sha256 of every artifact. targets.test.ts compares
// it with the committed picks.json, so a refactoring of how passes reach the backends (issue 9)
// is shown to change no choice and no byte. Rewrite the fixture on purpose with
// `CNNC_WRITE_PICKS=1 npx vitest run tests/architecture/targets.test.ts`.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { NETWORKS } from "../../bench/networks.js";
import { compile, type CompileOptions } from "../../compiler/index.js";
import { formatDiagnostics } from "../../compiler/diagnostics.js";

export interface Picks {
  /** layer -> "algorithm: reason" */
  readonly algorithms: Record<string, string>;
  /** artifact -> sha256 (hex) */
  readonly artifacts: Record<string, string>;
}

const sha = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

export const FIXTURE = path.join(import.meta.dirname, "picks.json");

/** Every network the fixture covers: examples/*.cnn and bench/networks.ts, by name. */
export function sources(): { name: string; source: string; fileName: string }[] {
  const dir = path.join(import.meta.dirname, "../../examples");
  const examples = readdirSync(dir)
    .filter((f) => f.endsWith(".cnn"))
    .sort()
    .map((f) => ({ name: `examples/${f}`, source: readFileSync(path.join(dir, f), "utf8"), fileName: path.join(dir, f) }));
  const bench = NETWORKS.map((n) => ({ name: `bench/${n.name}`, source: n.source, fileName: `${n.name}.cnn` }));
  return [...examples, ...bench];
}

/** The variants compiled per network: each target, and wasm without fusion (pools apart change choices). */
export const VARIANTS: readonly { readonly key: string; readonly options: CompileOptions }[] = [
  { key: "wasm", options: { target: "wasm" } },
  { key: "webgpu", options: { target: "webgpu" } },
  { key: "all", options: { target: "all" } },
  { key: "wasm --no-fuse", options: { target: "wasm", fuse: false } },
];

export function picksOf(source: string, fileName: string, options: CompileOptions): Picks {
  const r = compile(source, { ...options, fileName });
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics));
  const algorithms: Record<string, string> = {};
  for (const n of r.graph.nodes) if (n.algorithm) algorithms[n.layer] = `${n.algorithm.name}: ${n.algorithm.reason}`;
  const a = r.artifacts;
  const artifacts: Record<string, string> = { manifest: sha(JSON.stringify(a.manifest)), weights: sha(a.weights) };
  if (a.wasm) artifacts.wasm = sha(a.wasm);
  if (a.wasmRelaxed) artifacts.wasmRelaxed = sha(a.wasmRelaxed);
  if (a.tables) artifacts.tables = sha(a.tables);
  a.wgsl?.forEach((code, i) => (artifacts[`wgsl${i}`] = sha(code)));
  return { algorithms, artifacts };
}

export function allPicks(): Record<string, Picks> {
  const out: Record<string, Picks> = {};
  for (const s of sources()) for (const v of VARIANTS) out[`${s.name} ${v.key}`] = picksOf(s.source, s.fileName, v.options);
  return out;
}
