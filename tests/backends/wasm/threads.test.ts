// Multithreaded WebAssembly (load({ threads: n })): every example and every convolution
// algorithm gives, on 2 and 3 threads, exactly the 1-thread result (a thread takes whole
// iterations of a step's outermost loop, so no summation order changes: bit-identical), and
// the reference to 1e-5; and, scheduling aside, split steps run part by part in any order
// give the same memory. Compiled with `splittingEverything` so that even these small layers
// split (by default a step splits only when it is worth it). Also: symbolic sizes at several
// input sizes from one loaded network (the shared memory grows under the workers), a written
// bundle run by a plain Node script with threads, and the fallback to one thread.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compile, type CompileSuccess } from "../../../compiler/index.js";
import { splittingEverything } from "../../../compiler/backends/wasm/threads.js";
import { writeBundle } from "../../../compiler/bundle.js";
import { evalDim, evalDims } from "../../../compiler/ir/dim.js";
import type { AlgorithmName } from "../../../compiler/ir/graph.js";
import { interpret } from "../../../compiler/reference/interpret.js";
import { initialise } from "../../../compiler/tensors/init.js";
import type { Network, TensorData } from "../../../runtime/session.js";
import { hasRelaxedSimd } from "../../../runtime/wasm.js";
import { Rng } from "./plan-helper.js";

function compiled(source: string, algorithms: Record<string, AlgorithmName> = {}): CompileSuccess {
  const r = splittingEverything(() => compile(source, { fileName: "threads.cnn", algorithms }));
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r;
}

function inputsFor(r: CompileSuccess, env: Record<string, number>, seed: number): Record<string, TensorData> {
  return Object.fromEntries(
    r.graph.inputs.map((io, i) => {
      const shape = evalDims(r.graph.values[io.value].shape, env);
      return [io.name, { shape, data: initialise({ kind: "uniform", low: -1, high: 1, seed: seed + i }, shape, 1, 1) }];
    }),
  );
}

function relativeToReference(r: CompileSuccess, inputs: Record<string, TensorData>, got: Record<string, TensorData>): number {
  const ref = interpret(r.source, new Map(Object.entries(inputs).map(([k, t]) => [k, { shape: [...t.shape], data: Float64Array.from(t.data) }])));
  let worst = 0;
  for (const [name, want] of ref) {
    let diff = 0;
    let scale = 0;
    want.data.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - got[name].data[i]));
      scale = Math.max(scale, Math.abs(v));
    });
    worst = Math.max(worst, diff / Math.max(scale, 1e-30));
  }
  return worst;
}

/** Runs on 1, 2 and 3 threads at each size: n threads equal one thread bit for bit, and the reference to 1e-5. */
async function checkThreads(r: CompileSuccess, envs: readonly Record<string, number>[], what: string): Promise<void> {
  const nets: Network[] = [];
  try {
    for (const threads of [1, 2, 3]) {
      const net = await r.load({ backend: "wasm", threads });
      nets.push(net);
      // (Node 20 has no relaxed SIMD unless asked; later versions have it.)
      const relaxed = r.artifacts.wasmRelaxed && hasRelaxedSimd() ? ", relaxed SIMD" : "";
      expect(net.description).toBe(threads === 1 ? `WebAssembly (one thread${relaxed})` : `WebAssembly (${threads} threads${relaxed})`);
    }
    for (const [k, env] of envs.entries()) {
      const inputs = inputsFor(r, env, 100 + k);
      const [one, ...more] = await Promise.all(nets.map((n) => n.run(inputs)));
      for (const [n, out] of more.entries()) {
        for (const name of Object.keys(one)) {
          expect(out[name].shape).toEqual(one[name].shape);
          const same = one[name].data.every((v, i) => Object.is(v, out[name].data[i]));
          expect(same, `${what} ${JSON.stringify(env)}: ${n + 2} threads differ from one`).toBe(true);
        }
      }
      expect(relativeToReference(r, inputs, one), `${what} ${JSON.stringify(env)}`).toBeLessThan(1e-5);
    }
  } finally {
    nets.forEach((n) => n.dispose());
  }
}

/**
 * Scheduling aside: on one thread, every split step run as 7 parts in reverse order, each with
 * its own scratch (tid = part mod 3), leaves exactly the memory `run` leaves at the outputs.
 */
async function checkParts(r: CompileSuccess, env: Record<string, number>): Promise<void> {
  const manifest = r.artifacts.manifest.wasm;
  const wasm = r.artifacts.wasm;
  if (!manifest || !wasm) throw new Error("no wasm artifacts");
  const symbols = r.plan.symbols.map((s) => env[s]);
  const module = await WebAssembly.compile(new Uint8Array(wasm));
  const inputs = inputsFor(r, env, 900);
  const outputs: Float32Array[][] = [];
  for (const parted of [false, true]) {
    const memory = new WebAssembly.Memory({ initial: manifest.memoryPages, maximum: 32768 });
    const need = evalDim(manifest.memoryBytes, env) + 2 * evalDim(manifest.threadBytes, env);
    memory.grow(Math.max(0, Math.ceil((need - memory.buffer.byteLength) / 65536)));
    const imports = { exp: Math.exp, tanh: Math.tanh, pow: Math.pow, log: Math.log, memory };
    const { run, step } = (await WebAssembly.instantiate(module, { env: imports })).exports as { run: (...a: number[]) => void; step: (...a: number[]) => void };
    new Uint8Array(memory.buffer).set(r.artifacts.weights, manifest.weightsOffset);
    if (manifest.tables && r.artifacts.tables) new Uint8Array(memory.buffer).set(r.artifacts.tables, manifest.tables.offset);
    manifest.inputs.forEach((io) => new Float32Array(memory.buffer, evalDim(io.offset, env)).set(inputs[io.name].data));
    if (!parted) run(...symbols);
    else
      manifest.parallel.forEach((split, i) => {
        if (!split) return step(i, ...symbols, 0, 0, 1);
        for (let p = 6; p >= 0; p--) step(i, ...symbols, p % 3, p, 7);
      });
    outputs.push(manifest.outputs.map((io) => new Float32Array(memory.buffer, evalDim(io.offset, env), io.shape.reduce<number>((n, d) => n * evalDim(d, env), 1)).slice()));
  }
  outputs[0].forEach((want, k) => expect(outputs[1][k].every((v, i) => Object.is(v, want[i])), `output ${k}`).toBe(true));
}

describe("threads: examples", () => {
  for (const ex of readdirSync("examples").filter((f) => f.endsWith(".cnn"))) {
    // Generous limits: each case builds modules at -O3 and starts workers, on a busy 2-core CI machine.
    it(`${ex}: 2 and 3 threads equal one thread and the reference`, { timeout: 300_000 }, async () => {
      const r = compiled(readFileSync(`examples/${ex}`, "utf8"));
      const manifest = r.artifacts.manifest.wasm;
      expect(manifest?.parallel.some((p) => p)).toBe(true);
      const sizes = r.graph.symbols.length ? [24, 31, 17] : [0];
      await checkParts(r, Object.fromEntries(r.graph.symbols.map((sym) => [sym, 29])));
      await checkThreads(
        r,
        sizes.map((s) => Object.fromEntries(r.graph.symbols.map((sym) => [sym, s]))),
        ex,
      );
    });
  }
});

/** A random 2-D layer for an algorithm: sizes, channels, groups, padding; weights seeded (winograd1d, 1-D only, has its own test below). */
function layerFor(name: Exclude<AlgorithmName, "winograd1d">, rng: Rng): { conv: string; rest: string; channels: number; size: [number, number] } {
  const channels = rng.int(1, 6);
  const group = rng.pick([1, 1, channels]);
  const filters = group === 1 ? rng.int(1, 9) : channels * rng.int(1, 2);
  const pad = rng.pick(["same", "valid", "full"]);
  const size: [number, number] = [rng.int(9, 30), rng.int(9, 40)];
  const init = `init: uniform(-1, 1, seed: ${rng.int(1, 1000)})`;
  const groups = group === 1 ? "" : `, groups: ${channels}`;
  switch (name) {
    case "gemm": {
      const k = rng.int(1, 5);
      const stride = rng.pick([1, 1, 2]);
      return { conv: `conv(${filters}, ${k}x${rng.int(1, 5)}, stride: ${stride}, pad: ${pad}${groups}, ${init})`, rest: "relu", channels, size };
    }
    case "winograd2":
    case "winograd4":
      return { conv: `conv(${filters}, 3x3, pad: ${pad}${groups}, ${init})`, rest: "leaky_relu(0.1)", channels, size };
    case "fft": {
      const k = rng.int(3, 9);
      return { conv: `conv(${filters}, ${k}x${k}, pad: ${pad}${groups}, ${init})`, rest: "identity", channels, size };
    }
    case "separable":
      // Taller images: the kernel splits strips of 32 output rows.
      size[0] = rng.int(33, 90);
      return { conv: `depthwise(${rng.pick([3, 5, 7])}x${rng.pick([3, 5])}, pad: ${pad}, weight: gaussian(sigma: 1.2))`, rest: "relu", channels, size };
    case "direct":
      return { conv: `conv(${filters}, 3x3, pad: same${groups}, ${init})`, rest: `relu |> maxpool(2, ceil: ${rng.bool()})`, channels, size };
    case "direct_simd": {
      // Depthwise or general, stride 1 or 2 (the phase-split copy in per-thread scratch), with or without a fused pool.
      const stride = rng.pick([1, 2]);
      const rest = rng.bool() ? "relu" : "relu |> maxpool(2)";
      return { conv: `conv(${filters}, 3x3, stride: ${stride}, pad: same${groups}, ${init})`, rest, channels, size };
    }
  }
}

describe("threads: every algorithm", () => {
  const names: Exclude<AlgorithmName, "winograd1d">[] = ["gemm", "winograd2", "winograd4", "fft", "separable", "direct", "direct_simd"];
  for (const name of names) {
    it(`${name}${name === "direct" ? " with a fused pool" : ""}: 12 random layers, static and symbolic, on 1, 2 and 3 threads`, { timeout: 300_000 }, async () => {
      for (let i = 0; i < 12; i++) {
        const rng = new Rng(7000 + 100 * names.indexOf(name) + i);
        const l = layerFor(name, rng);
        const symbolic = i % 3 === 2;
        const type = symbolic ? `f32[${l.channels}, H, W]` : `f32[${l.channels}, ${l.size[0]}, ${l.size[1]}]`;
        const source = `network t(x: ${type}) -> y {\n  y = x |> a: ${l.conv} |> ${l.rest}\n}\n`;
        const r = compiled(source, { a: name });
        const step = r.plan.steps.find((s) => s.layer === "a");
        expect(step?.algorithm?.name ?? "direct").toBe(name);
        if (name === "direct") expect(step?.pool).toBeDefined();
        const envs = symbolic ? [{ H: l.size[0], W: l.size[1] }, { H: l.size[0] + 11, W: l.size[1] + 5 }, { H: 9, W: 12 }] : [{}];
        await checkThreads(r, envs, `${name} ${source}`);
        await checkParts(r, envs[0]);
      }
    });
  }
});

describe("threads: winograd1d (1-D layers)", () => {
  it("12 random 1-D layers (strides 1 to 3), static and symbolic, on 1, 2 and 3 threads", { timeout: 300_000 }, async () => {
    for (let i = 0; i < 12; i++) {
      const rng = new Rng(7900 + i);
      const stride = rng.pick([1, 2, 3]);
      const k = rng.int(stride + 1, 9);
      const channels = rng.int(1, 6);
      const length = rng.int(40, 700);
      const symbolic = i % 3 === 2;
      const type = symbolic ? `f32[${channels}, L]` : `f32[${channels}, ${length}]`;
      const conv = `conv(${rng.int(1, 9)}, ${k}, stride: ${stride}, pad: ${rng.pick(["same", "valid", "full"])}, init: uniform(-1, 1, seed: ${rng.int(1, 1000)}))`;
      const source = `network t(x: ${type}) -> y {\n  y = x |> a: ${conv} |> relu\n}\n`;
      const r = compiled(source, { a: "winograd1d" });
      expect(r.plan.steps.find((s) => s.layer === "a")?.algorithm?.name).toBe("winograd1d");
      const envs = symbolic ? [{ L: length }, { L: length + 37 }, { L: k + 3 }] : [{}];
      await checkThreads(r, envs, `winograd1d ${source}`);
      await checkParts(r, envs[0]);
    }
  });
});

describe("threads: pools on SIMD lanes (pool-lanes.ts)", () => {
  it("3x3 stride 2 max, avg and Lp pools, padded, ceil and symbolic, on 1, 2 and 3 threads and in parts", { timeout: 300_000 }, async () => {
    const r = compiled(`network pools(x: f32[6, h, w]) -> (a, b, c) {
  a = x |> maxpool(3x3, stride: 2)
  b = x |> avgpool(3x3, stride: 2, pad: same, count_pad: true)
  c = x |> lppool(3x3, stride: 2, p: 2, ceil: true)
}
`);
    expect(r.artifacts.manifest.wasm?.parallel.every((p) => p)).toBe(true);
    await checkThreads(r, [{ h: 23, w: 41 }, { h: 9, w: 57 }], "pools");
    await checkParts(r, { h: 17, w: 35 });
  });
});

describe("threads: bundles and fallback", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("a written bundle runs with load({ threads: 2 }) from a plain Node script, and the process exits", () => {
    const r = compiled(readFileSync("examples/lenet.cnn", "utf8"));
    const dir = mkdtempSync(path.join(tmpdir(), "cnnc-threads-"));
    writeBundle(path.join(dir, "bundle"), r.artifacts, { threads: 2 });
    const script = path.join(dir, "main.mjs");
    writeFileSync(
      script,
      `import { load } from "./bundle/index.js";
const data = Float32Array.from({ length: 28 * 28 }, (_, i) => Math.sin(i));
const one = await load({ backend: "wasm", threads: 1 });
const two = await load({ backend: "wasm", threads: 2 });
const a = (await one.run({ image: { data, shape: [1, 28, 28] } })).probs.data;
const b = (await two.run({ image: { data, shape: [1, 28, 28] } })).probs.data;
process.stdout.write(JSON.stringify({ description: two.description, same: a.every((v, i) => Object.is(v, b[i])) }));
`,
    );
    // No dispose(): idle workers must not keep the process alive.
    const run = spawnSync(process.execPath, [script], { cwd: dir, encoding: "utf8", timeout: 60000 });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { description: string; same: boolean };
    expect(result.description).toMatch(/^WebAssembly \(2 threads(, relaxed SIMD)?\)$/);
    expect(result.same).toBe(true);
    // The same from `node --input-type=module -e`, whose flag workers must not inherit (their
    // source is a CommonJS script).
    const evaluated = spawnSync(process.execPath, ["--input-type=module", "-e", readFileSync(script, "utf8")], { cwd: dir, encoding: "utf8", timeout: 60000 });
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect((JSON.parse(evaluated.stdout) as { description: string }).description).toMatch(/^WebAssembly \(2 threads/);
  });

  it("cnnc run --threads 2 prints what one thread prints, and says it ran on 2 threads", { timeout: 180_000 }, () => {
    const cnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/cnnc.js", "run", "examples/lenet.cnn", "--random", "3", ...args], { encoding: "utf8" });
    const one = cnnc();
    const two = cnnc("--threads", "2");
    expect(two.status, two.stderr).toBe(0);
    expect(two.stdout).toBe(one.stdout);
    expect(two.stderr).toMatch(/cnnc: WebAssembly \(2 threads(, relaxed SIMD)?\)/);
    const bad = cnnc("--threads", "two");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--threads must be a whole number from 1 to 256, not two");
  });

  it("falls back to one thread, saying why, without shared memory", async () => {
    const r = compiled(readFileSync("examples/lenet.cnn", "utf8"));
    vi.stubGlobal("SharedArrayBuffer", undefined);
    const net = await r.load({ backend: "wasm", threads: 4 });
    expect(net.description).toMatch(/^WebAssembly \(one thread; 4 threads unavailable: SharedArrayBuffer is not available/);
    const inputs = inputsFor(r, {}, 5);
    expect(relativeToReference(r, inputs, await net.run(inputs))).toBeLessThan(1e-5);
    net.dispose();
  });

  it("refuses a thread count that is not a positive integer", async () => {
    const r = compiled(readFileSync("examples/lenet.cnn", "utf8"));
    await expect(r.load({ backend: "wasm", threads: 0 })).rejects.toThrow(/threads must be a positive integer/);
    await expect(r.load({ backend: "wasm", threads: 1.5 })).rejects.toThrow(/threads must be a positive integer/);
  });
});
