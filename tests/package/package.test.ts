// cnnc as a user gets it: the tarball `npm pack` makes (from the built dist/), installed into a
// fresh folder; its CLI compiles examples/lenet.cnn to a WebAssembly bundle (and a WebGPU one);
// web apps (tests/package/app) built against them with Vite, esbuild, webpack 5 and Rollup run
// them in headless Chromium, and the outputs equal the float64 reference (WebAssembly to 1e-5, WebGPU on
// SwiftShader to 1e-4, as tests/browser); a strict TypeScript
// consumer compiles against the bundle's index.d.ts with skipLibCheck off.
//
// The install is `npm install --prefer-offline` of the tarball's path: binaryen and chevrotain
// come from npm's cache (filled by `npm ci`), only their metadata may need the registry. vite,
// esbuild, webpack, rollup (and its import-meta-assets plugin) and typescript are this
// repository's own devDependencies; the configs in the app import webpack's and Rollup's
// packages, so those are linked into the app's node_modules.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { haveBrowser, openPage } from "../browser/harness.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;
const ROOT = process.cwd();
const APP = path.join(ROOT, "tests/package/app");
/** A devDependency's command: node_modules/.bin holds a script or, where install scripts ran (esbuild), a native binary. */
const bin = (name: string) => path.join(ROOT, "node_modules/.bin", name);

/** The bundlers' packages that the app's own configs (webpack.config.mjs, rollup.config.mjs) import. */
const LINKED = ["webpack", "rollup", "@web/rollup-plugin-import-meta-assets"];

let dir = "";
let app = "";

function sh(cmd: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, "dist/compiler/cli.js"))) throw new Error("dist/ is not built: run `npm run build` (npm test does)");
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-package-"));
  // --ignore-scripts: prepack would rebuild dist/ under the other tests' feet; npm test has built it.
  sh("npm", ["pack", "--ignore-scripts", "--pack-destination", dir, "--silent"], ROOT);
  app = path.join(dir, "app");
  mkdirSync(app);
  writeFileSync(path.join(app, "package.json"), `${JSON.stringify({ name: "fixture", private: true, type: "module" })}\n`);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("npm pack made no tarball");
  sh("npm", ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--silent", path.join(dir, tarball)], app);
  cpSync(APP, path.join(app, "src"), { recursive: true });
  for (const name of LINKED) {
    mkdirSync(path.dirname(path.join(app, "node_modules", name)), { recursive: true });
    symlinkSync(path.join(ROOT, "node_modules", name), path.join(app, "node_modules", name), "dir");
  }
  const cnnc = (...args: string[]) => sh(process.execPath, ["node_modules/cnnc/bin/cnnc.js", "compile", "node_modules/cnnc/examples/lenet.cnn", ...args], app);
  cnnc("-o", "src/lenet", "--target", "wasm");
  cnnc("-o", "src/lenet-gpu", "--target", "webgpu");
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("holds dist/, bin/, the README, the LICENSE, the docs and the examples, and no webgpu", () => {
    const pkg = path.join(app, "node_modules/cnnc");
    for (const f of ["bin/cnnc.js", "dist/compiler/index.js", "dist/runtime/open-network.js", "README.md", "LICENSE", "examples/lenet.cnn"]) {
      expect(existsSync(path.join(pkg, f)), f).toBe(true);
    }
    expect(existsSync(path.join(pkg, "dist/tests"))).toBe(false);
    // WebGPU in Node is opt-in (the `webgpu` package is an optional peer dependency).
    expect(existsSync(path.join(app, "node_modules/webgpu"))).toBe(false);
    // The browser entry (cnnc/browser) is exported too, and being free of Node it runs in Node as well.
    const browser = sh(process.execPath, ["--input-type=module", "-e", 'const m = await import("cnnc/browser"); const r = m.compile("network n(x: f32[1, 4, 4]) -> y {\\n y = x |> relu\\n}\\n"); process.stdout.write(String(r.ok) + " " + r.artifacts.wasm.length)'], app);
    expect(browser).toMatch(/^true \d+$/);
    const api = sh(process.execPath, ["--input-type=module", "-e", 'const m = await import("cnnc"); process.stdout.write(typeof m.compile)'], app);
    expect(api).toBe("function");    // ... and says how to get it.
    const gpu = spawnSync(process.execPath, ["node_modules/cnnc/bin/cnnc.js", "run", "src/lenet-gpu", "--random", "--backend", "webgpu"], { cwd: app, encoding: "utf8" });
    expect(gpu.status).toBe(1);
    expect(gpu.stderr).toContain("install the `webgpu` package: npm i webgpu");
  });

  it("a WebAssembly bundle ships no WebGPU code and no thread pool", () => {
    const files = readdirSync(path.join(app, "src/lenet/runtime"));
    expect(files.filter((f) => /webgpu|threads/.test(f))).toEqual([]);
    expect(files).toContain("wasm.js");
    expect(readdirSync(path.join(app, "src/lenet-gpu/runtime"))).not.toContain("wasm.js");
  });

  it("the bundle's index.d.ts passes strict TypeScript with skipLibCheck off", () => {
    sh(bin("tsc"), ["-p", "src/tsconfig.json"], app);
  });
});

/** The reference output for the page's input (sin(i)), with the weights the packed CLI made (seeded, the same here). */
function reference(): { shape: readonly number[]; data: Float64Array } {
  const r = compile(readFileSync("examples/lenet.cnn", "utf8"), { fileName: "lenet.cnn" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const image = { shape: [1, 28, 28], data: Float64Array.from({ length: 784 }, (_, i) => Math.sin(i)) };
  const out = interpret(r.source, new Map([["image", image]])).get("probs");
  if (!out) throw new Error("no probs from the reference");
  return out;
}

interface Run {
  backend: string;
  description: string;
  shape: number[];
  data: number[];
}

interface PageResult {
  error?: string;
  runs: Record<string, Run>;
  fetched: string[];
}

async function runBuilt(out: string): Promise<PageResult> {
  const session = await openPage(out);
  try {
    return (await session.page.evaluate(() => (window as unknown as { result: PageResult }).result)) as PageResult;
  } finally {
    await session.close();
  }
}

function expectReference(run: Run | undefined, tolerance: number): void {
  if (!run) throw new Error("the page did not run this bundle");
  const want = reference();
  expect(run.shape).toEqual([1, ...want.shape]);
  const worst = want.data.reduce((w, v, i) => Math.max(w, Math.abs(v - run.data[i])), 0);
  expect(worst).toBeLessThan(tolerance);
}

/** The WebAssembly run: Chromium has relaxed SIMD, so the relaxed module is fetched and the plain one is not. */
function expectWasm(result: PageResult): void {
  expect(result.error).toBeUndefined();
  expect(result.runs.wasm?.description).toContain("relaxed SIMD");
  expectReference(result.runs.wasm, 1e-5);
  expect(result.fetched.filter((f) => f.endsWith(".wasm")).length).toBe(1);
}

describe("web apps built against the packed bundle, in Chromium", () => {
  browserIt("Vite", async () => {
    const out = path.join(dir, "vite-out");
    sh(bin("vite"), ["build", "src", "--outDir", out, "--emptyOutDir", "--logLevel", "warn"], app);
    const emitted = readdirSync(path.join(out, "assets"));
    for (const f of ["weights", "model", "tables"]) expect(emitted.some((e) => e.startsWith(f)), f).toBe(true);
    const result = await runBuilt(out);
    expectWasm(result);
    expect(result.runs.webgpu?.backend).toBe("webgpu");
    expectReference(result.runs.webgpu, 1e-4);
  }, 120_000);

  browserIt("esbuild", async () => {
    const out = path.join(dir, "esbuild-out");
    sh(
      bin("esbuild"),
      ["src/esbuild-main.js", "--bundle", "--minify", "--format=esm", "--platform=browser", `--outdir=${out}`, "--loader:.wasm=file", "--loader:.bin=file", "--log-level=warning"],
      app,
    );
    cpSync(path.join(app, "src/esbuild.html"), path.join(out, "index.html"));
    expectWasm(await runBuilt(out));
  }, 120_000);

  // webpack 5 and Rollup: the apps' own configs (tests/package/app/*.config.mjs, as docs/web.md
  // shows them) write webpack-out/ and rollup-out/ beside src/; each emits every file the bundles
  // name, and the pages run both bundles.
  const expectBoth = (result: PageResult) => {
    expectWasm(result);
    expect(result.runs.webgpu?.backend).toBe("webgpu");
    expectReference(result.runs.webgpu, 1e-4);
  };
  /** The .wasm, .bin and .wgsl files a build emitted: the two modules, weights, tables and LeNet's six WGSL programs. */
  const expectAssets = (files: readonly string[]) => {
    const count = (ext: string) => files.filter((f) => f.endsWith(ext)).length;
    expect([count(".wasm"), count(".bin"), count(".wgsl")]).toEqual([2, 2, 6]);
  };

  browserIt("webpack 5", async () => {
    // webpack's Node API (the CLI is the separate webpack-cli package, not installed here).
    const build = [
      'import webpack from "webpack"; import config from "./src/webpack.config.mjs";',
      "webpack(config, (err, stats) => {",
      '  if (err || !stats || stats.hasErrors() || stats.hasWarnings()) { console.error(err ?? stats?.toString("errors-warnings")); process.exit(1); }',
      "});",
    ].join("\n");
    sh(process.execPath, ["--input-type=module", "-e", build], app);
    const out = path.join(app, "webpack-out");
    expectAssets(readdirSync(out));
    cpSync(path.join(app, "src/webpack.html"), path.join(out, "index.html"));
    expectBoth(await runBuilt(out));
  }, 120_000);

  browserIt("Rollup", async () => {
    const log = spawnSync(bin("rollup"), ["-c", "src/rollup.config.mjs"], { cwd: app, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });
    if (log.status !== 0) throw new Error(`rollup failed (${log.status}):\n${log.stdout}\n${log.stderr}`);
    expect(log.stderr).not.toMatch(/\(!\)/); // Rollup marks its warnings "(!)"
    const out = path.join(app, "rollup-out");
    expectAssets(readdirSync(path.join(out, "assets")));
    cpSync(path.join(app, "src/rollup.html"), path.join(out, "index.html"));
    expectBoth(await runBuilt(out));
  }, 120_000);
});
