// The playground page: an editor (editor.ts) whose every pause compiles the source in the
// worker (worker.ts), the plan's picture, the kernels of a chosen layer, the feature maps of
// an input (input.ts, pictures.ts) and the network run on WebGPU and WebAssembly side by
// side (run.ts). Static files only: the compiler and the runtime both run here.
// `window.playground` exposes the state the Playwright tests read (tests/playground/).

import type { EditorView } from "@codemirror/view";
import type { TensorData } from "../../runtime/session.js";
import { createEditor, setText, shownDiagnostics } from "./editor.js";
import { createInputPanel } from "./input.js";
import { drawFeatures, drawKernels } from "./pictures.js";
import type { Compiled, Features, Marker, Reply, Request, Training } from "./protocol.js";
import { drawTraining, type TrainPoint } from "./train-plot.js";
import { BACKENDS, type BackendRun, Runner } from "./run.js";

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector<T>(sel)!;

interface PlaygroundState {
  compiles: number;
  runs: number;
  training: TrainPoint[];
  trainedSteps?: number;
  lastCompile?: { ok: boolean; ms: number; kernelCount?: number };
  lastRun?: { inputs: Record<string, { shape: readonly number[]; data: number[] }>; results: BackendRun[] };
  view?: EditorView;
  diagnostics(): ReturnType<typeof shownDiagnostics>;
}

const state: PlaygroundState = { compiles: 0, runs: 0, training: [], diagnostics: () => (state.view ? shownDiagnostics(state.view) : []) };
(window as unknown as { playground: PlaygroundState }).playground = state;

// The worker, and request/reply by id.
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const waiting = new Map<number, (r: Reply) => void>();
let nextId = 1;
const workerReady = new Promise<void>((resolve) => {
  worker.onmessage = (e: MessageEvent<Reply>) => {
    const r = e.data;
    if (r.kind === "ready") resolve();
    else if (r.kind === "progress" || r.kind === "trained") onTraining(r);
    else {
      waiting.get(r.id)?.(r);
      waiting.delete(r.id);
    }
  };
});
/** A request before it has an id (Omit over each member of the union). */
type Unsent<T> = T extends unknown ? Omit<T, "id"> : never;

async function ask<R extends Reply>(req: Unsent<Request>): Promise<R> {
  await workerReady;
  const id = nextId++;
  return new Promise<R>((resolve) => {
    waiting.set(id, (r) => resolve(r as R));
    worker.postMessage({ ...req, id } as Request);
  });
}

const runner = new Runner();
let current: Compiled["network"];
let fileName = "lenet.cnn";
const input = createInputPanel($("#input-panel"), () => void runAll());

/** The network's inputs: the canvas for an image-shaped first input, seeded noise otherwise. */
function inputs(): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  let seed = 7;
  for (const spec of current?.inputs ?? []) {
    const image = out[spec.name] === undefined && Object.keys(out).length === 0 ? input.tensor(spec.shape) : undefined;
    if (image) out[spec.name] = image;
    else {
      const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
      out[spec.name] = { data, shape: [1, ...spec.shape] };
    }
  }
  $("#input-note").textContent = current && !input.tensor(current.inputs[0]?.shape ?? []) ? `This network's input ${current.inputs[0]?.name} [${current.inputs[0]?.shape.join(", ")}] is not an image: it gets seeded random values.` : "";
  return out;
}

function showRun(results: readonly BackendRun[]): void {
  for (const r of results) {
    const cell = $(`#run-${r.backend}`);
    if (r.error) {
      cell.innerHTML = "";
      cell.textContent = r.error;
      cell.classList.add("unavailable");
      continue;
    }
    cell.classList.remove("unavailable");
    const [name, out] = Object.entries(r.outputs ?? {})[0] ?? [];
    const top = out
      ? out.data
          .map((v, i) => ({ v, i }))
          .sort((a, b) => b.v - a.v)
          .slice(0, 3)
          .map(({ v, i }) => `${i} → ${v.toFixed(4)}`)
          .join(", ")
      : "";
    cell.innerHTML = "";
    const time = document.createElement("div");
    time.className = "time";
    time.textContent = `${r.medianMs?.toFixed(3)} ms`;
    const detail = document.createElement("div");
    detail.className = "detail";
    detail.textContent = `median of ${r.runs} runs · ${r.description ?? ""}`;
    const outLine = document.createElement("div");
    outLine.className = "outputs";
    outLine.textContent = out ? `${name} [${out.shape.join(", ")}], largest: ${top}` : "";
    cell.append(time, outLine, detail);
  }
}

let running: Promise<void> = Promise.resolve();
/** Runs both backends and the feature maps for the current input; one run at a time. */
function runAll(): Promise<void> {
  running = running.then(async () => {
    if (!current) return;
    const feed = inputs();
    const features = ask<Features>({ kind: "features", inputs: Object.fromEntries(Object.entries(feed).map(([n, t]) => [n, { data: t.data, shape: t.shape }])) });
    const results: BackendRun[] = [];
    for (const b of BACKENDS) results.push(await runner.run(b, feed));
    showRun(results);
    const f = await features;
    if (f.error) $("#features").textContent = f.error;
    else drawFeatures($("#features"), f.maps);
    state.lastRun = { inputs: Object.fromEntries(Object.entries(feed).map(([n, t]) => [n, { shape: t.shape, data: Array.from(t.data) }])), results };
    state.runs++;
  });
  return running;
}

function showKernels(): void {
  const select = $<HTMLSelectElement>("#kernel-layer");
  const k = current?.kernels.find((x) => x.layer === select.value);
  const canvas = $<HTMLCanvasElement>("#kernels");
  $("#kernel-note").textContent = k ? `${k.layer}: ${k.shape[0]} filter${k.shape[0] === 1 ? "" : "s"} × ${k.shape[1]} channel${k.shape[1] === 1 ? "" : "s"}, ${k.shape.slice(2).join("x")}` : "no convolution layers";
  if (k && !drawKernels(canvas, k)) $("#kernel-note").textContent += " (kernels with 1 or 2 spatial axes are drawn)";
  if (!k) canvas.width = canvas.height = 0;
}

/** The editor's lint source: compile in the worker, then refresh every picture. */
async function compileText(text: string): Promise<readonly Marker[]> {
  const r = await ask<Compiled>({ kind: "compile", source: text, fileName, weights: trained?.source === text ? trained.weights : undefined });
  state.compiles++;
  const errors = r.markers.filter((m) => m.severity === "error").length;
  $("#status").textContent = r.network ? `compiled in ${r.ms.toFixed(0)} ms: ${r.network.kernelCount} kernels` : `${errors} error${errors === 1 ? "" : "s"}`;
  $("#status").className = r.network ? "ok" : "failed";
  state.lastCompile = { ok: r.network !== undefined, ms: r.ms, kernelCount: r.network?.kernelCount };
  if (r.network) {
    current = r.network;
    $("#graph").innerHTML = r.network.svg;
    $("#explain").textContent = r.network.explain;
    const select = $<HTMLSelectElement>("#kernel-layer");
    const before = select.value;
    select.replaceChildren(...r.network.kernels.map((k) => new Option(k.layer, k.layer)));
    if (r.network.kernels.some((k) => k.layer === before)) select.value = before;
    showKernels();
    await runner.use(r.network);
    void runAll();
  }
  return r.markers;
}

/** Weights the train button made, for the source they were trained on (an edit leaves them behind). */
let trained: { readonly source: string; readonly weights: Uint8Array } | undefined;
let trainingSource = "";

function onTraining(r: Training): void {
  if (r.kind === "progress") {
    state.training.push({ step: r.step, loss: r.loss, accuracy: r.accuracy });
    drawTraining($<HTMLCanvasElement>("#train-plot"), state.training);
    const last = state.training[state.training.length - 1];
    $("#train-note").textContent = `step ${last.step}: loss ${last.loss.toFixed(3)}${last.accuracy === undefined ? "" : `, batch accuracy ${(last.accuracy * 100).toFixed(0)}%`}`;
    return;
  }
  $<HTMLButtonElement>("#train").disabled = false;
  $<HTMLButtonElement>("#stop").disabled = true;
  if (r.error || !r.weights) {
    $("#train-note").textContent = `cannot train: ${r.error ?? "no weights"}`;
    return;
  }
  trained = { source: trainingSource, weights: r.weights };
  state.trainedSteps = r.steps;
  $("#train-note").textContent += ` · trained ${r.steps} steps: compiled with these weights`;
  const view = state.view;
  if (view && view.state.doc.toString() === trainingSource) void compileText(trainingSource);
}

function startTraining(): void {
  const shape = current?.inputs[0]?.shape ?? [];
  if (shape.join(",") !== "1,28,28") {
    $("#train-note").textContent = "Training here uses MNIST digits: it needs a network whose first input is f32[1, 28, 28] (LeNet).";
    return;
  }
  trainingSource = state.view?.state.doc.toString() ?? "";
  state.training = [];
  $<HTMLButtonElement>("#train").disabled = true;
  $<HTMLButtonElement>("#stop").disabled = false;
  $("#train-note").textContent = "training…";
  void workerReady.then(() => worker.postMessage({ kind: "train", id: nextId++, source: trainingSource, fileName, steps: 60, batch: 32 } satisfies Request));
}

async function main(): Promise<void> {
  const examples = (await (await fetch("examples/index.json")).json()) as string[];
  const menu = $<HTMLSelectElement>("#examples");
  menu.replaceChildren(...examples.map((e) => new Option(e.replace(/\.cnn$/, ""), e)));
  menu.value = "lenet.cnn";
  const load = async (name: string) => (await fetch(`examples/${encodeURIComponent(name)}`)).text();
  const view = createEditor($("#editor"), await load(menu.value), compileText);
  state.view = view;
  menu.addEventListener("change", async () => {
    fileName = menu.value;
    setText(view, await load(menu.value));
  });
  $("#kernel-layer").addEventListener("change", showKernels);
  $("#run").addEventListener("click", () => void runAll());
  $("#train").addEventListener("click", startTraining);
  $("#stop").addEventListener("click", () => worker.postMessage({ kind: "stop" } satisfies Request));
  (window as unknown as { pageReady: boolean }).pageReady = true;
}

void main();
