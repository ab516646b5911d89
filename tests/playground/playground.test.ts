// The playground in Chromium (issue 13): built as the static site `npm run playground` makes,
// served as plain files, driven like a user. It loads with LeNet, compiles it in its worker
// and runs it on WebGPU (SwiftShader) and WebAssembly: both outputs equal the float64
// reference computed here for the very input the page fed (its drawn digit); the plan's
// picture (compiler/pictures) has one box per kernel of the plan the Node API builds. Typing a stray `}` brings a
// lint marker whose text is what `cnnc check` prints for the same source; deleting it clears
// the marker and the network compiles again. The train button trains LeNet on MNIST digits in
// the worker (stopped after a few steps here) and the page recompiles and reruns it with the
// trained weights. Screenshots go to artifacts/playground/
// (git-ignored), for people to look at, never compared.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { buildPlayground } from "../../playground/scripts/build.js";
import { type BrowserSession, haveBrowser, openPage } from "../browser/harness.js";
import { relativeError } from "../relative-error.js";

const browserIt = haveBrowser || process.env.CI ? it : it.skip;
const ROOT = path.resolve(import.meta.dirname, "../..");
const ARTIFACTS = path.join(ROOT, "artifacts/playground");
const LENET = readFileSync(path.join(ROOT, "examples/lenet.cnn"), "utf8");

interface Run {
  readonly backend: string;
  readonly error?: string;
  readonly description?: string;
  readonly outputs?: Record<string, { shape: number[]; data: number[] }>;
}
interface State {
  compiles: number;
  runs: number;
  training: { step: number; loss: number; accuracy?: number }[];
  trainedSteps?: number;
  lastCompile?: { ok: boolean; kernelCount?: number };
  lastRun?: { inputs: Record<string, { shape: number[]; data: number[] }>; results: Run[] };
  diagnostics(): { from: number; to: number; severity: string; message: string }[];
}

let dir = "";
let session: BrowserSession | undefined;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-playground-"));
  await buildPlayground(path.join(dir, "site"), { measure: false });
  mkdirSync(ARTIFACTS, { recursive: true });
  if (haveBrowser) {
    session = await openPage(path.join(dir, "site"));
    session.page.on("pageerror", (e) => pageErrors.push(e.message));
    session.page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
  }
}, 300_000);

afterAll(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Reads window.playground's state (its diagnostics evaluated in the page). */
async function state(): Promise<Omit<State, "diagnostics"> & { diagnostics: ReturnType<State["diagnostics"]> }> {
  return session!.page.evaluate(() => {
    const p = (window as unknown as { playground: State }).playground;
    return { compiles: p.compiles, runs: p.runs, training: p.training, trainedSteps: p.trainedSteps, lastCompile: p.lastCompile, lastRun: p.lastRun, diagnostics: p.diagnostics() };
  });
}

const waitFor = (f: string, timeout = 60_000) => session!.page.waitForFunction(f, undefined, { timeout, polling: 100 });

describe("the playground in Chromium", () => {
  browserIt("loads LeNet, runs it on WebGPU and WebAssembly equal to the reference, draws one box per kernel, and shows the CLI's diagnostics", async () => {
    const page = session!.page;
    await waitFor("window.playground.runs >= 1");
    let s = await state();
    expect(s.lastCompile?.ok).toBe(true);
    expect(pageErrors).toEqual([]);

    // Both backends, on the input the page fed, against the reference.
    const node = compile(LENET, { fileName: "lenet.cnn", target: "all" });
    if (!node.ok) throw new Error(node.diagnostics.map((d) => d.message).join("\n"));
    const fed = s.lastRun!.inputs.image;
    expect(fed.shape).toEqual([1, 1, 28, 28]);
    expect(Math.max(...fed.data)).toBeGreaterThan(0.5); // the drawn digit is there
    const want = interpret(node.source, new Map([["image", { shape: fed.shape.slice(1), data: Float64Array.from(fed.data) }]])).get("probs")!;
    const byBackend = Object.fromEntries(s.lastRun!.results.map((r) => [r.backend, r]));
    expect(byBackend.wasm.error).toBeUndefined();
    expect(relativeError(byBackend.wasm.outputs!.probs.data, want.data)).toBeLessThan(1e-5);
    expect(byBackend.webgpu.error).toBeUndefined();
    expect(relativeError(byBackend.webgpu.outputs!.probs.data, want.data)).toBeLessThan(1e-4);
    await expect.poll(() => page.locator("#run-webgpu .time").textContent()).toMatch(/ms$/);
    await expect.poll(() => page.locator("#run-wasm .time").textContent()).toMatch(/ms$/);

    // The plan's picture: one box per kernel, named by layer.
    const boxes = await page.locator('#graph svg g.box[data-id^="step:"]').evaluateAll((gs) => gs.map((g) => (g.getAttribute("data-layers") ?? "").split(" ")));
    expect(boxes.length).toBe(node.plan.steps.length);
    node.plan.steps.forEach((st, i) => expect(boxes[i]).toContain(st.layer));
    expect(s.lastCompile?.kernelCount).toBe(node.plan.steps.length);
    // The kernels of a layer and the feature maps.
    expect(await page.locator("#kernel-layer option").allTextContents()).toEqual(["conv1", "conv2"]);
    expect(await page.locator("#kernels").evaluate((c: HTMLCanvasElement) => c.width * c.height)).toBeGreaterThan(0);
    expect(await page.locator("#features canvas").count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(ARTIFACTS, "lenet.png"), fullPage: true });

    // Edit into an error: a stray `}` typed at the end.
    const compiles = s.compiles;
    await page.locator(".cm-content").click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("\n}");
    await page.locator(".cm-lintRange-error").first().waitFor({ timeout: 30_000 });
    s = await state();
    expect(s.compiles).toBeGreaterThan(compiles);
    expect(s.lastCompile?.ok).toBe(false);
    const errors = s.diagnostics.filter((d) => d.severity === "error");
    expect(errors.length).toBeGreaterThan(0);
    const broken = await page.evaluate(() => (window as unknown as { playground: { view: { state: { doc: { toString(): string } } } } }).playground.view.state.doc.toString());
    expect(broken).toBe(`${LENET}\n}`);
    // `cnnc check` on the same text, in a folder where the file has the page's name.
    const cwd = path.join(dir, "cli");
    mkdirSync(cwd, { recursive: true });
    writeFileSync(path.join(cwd, "lenet.cnn"), broken);
    const cli = spawnSync(process.execPath, [path.join(ROOT, "bin/cnnc.js"), "check", "lenet.cnn"], { cwd, encoding: "utf8" });
    expect(cli.status).toBe(1);
    for (const e of errors) expect(cli.stderr).toContain(e.message);
    expect(errors[0].message).toMatch(/^lenet\.cnn:\d+:\d+: error: /);
    // The marker's tooltip shows that text.
    await page.locator(".cm-lintRange-error").first().hover();
    await page.locator(".cm-tooltip-lint").waitFor({ timeout: 10_000 }).catch(() => undefined);
    await page.screenshot({ path: path.join(ARTIFACTS, "lenet-error.png"), fullPage: true });

    // Fix it: the marker goes and the network compiles and runs again.
    const runs = s.runs;
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Backspace");
    await page.keyboard.press("Backspace");
    await waitFor(`window.playground.lastCompile.ok && window.playground.runs > ${runs}`);
    s = await state();
    expect(s.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(await page.locator(".cm-lintRange-error").count()).toBe(0);
    expect(pageErrors).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "lenet-fixed.png"), fullPage: true });
  }, 120_000);

  browserIt("trains the network in the worker and recompiles it with the trained weights", async () => {
    const page = session!.page;
    let s = await state();
    const before = s.lastRun!.results.find((r) => r.backend === "wasm")!.outputs!.probs.data;
    const runs = s.runs;
    await page.click("#train");
    await waitFor("window.playground.training.length >= 3", 120_000);
    // The compiled step can finish the button's 60 steps before this line runs: stop only if still training.
    await page.evaluate(() => {
      const stop = document.querySelector<HTMLButtonElement>("#stop");
      if (stop && !stop.disabled) stop.click();
    });
    await waitFor(`window.playground.trainedSteps !== undefined && window.playground.runs > ${runs}`, 120_000);
    s = await state();
    expect(s.trainedSteps).toBeGreaterThanOrEqual(3);
    expect(s.training.every((p) => Number.isFinite(p.loss) && p.loss > 0)).toBe(true);
    const after = Object.fromEntries(s.lastRun!.results.map((r) => [r.backend, r.outputs!.probs.data]));
    expect(relativeError(after.wasm, before)).toBeGreaterThan(1e-4); // new weights, new outputs
    expect(relativeError(after.webgpu, after.wasm)).toBeLessThan(1e-4);
    expect(pageErrors).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "lenet-trained.png"), fullPage: true });
  }, 180_000);
});
