// compile()'s progress callback (CompileOptions.onProgress), which the CLI draws as a bar: the
// stages are told in the order they run, emit is told once per kernel of each build (the
// plain module, the relaxed one where there is one, WebGPU), and a failed analysis stops the
// telling. The bar itself (cli-text.ts's Progress) draws only on a colour TTY.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { Progress, progressItem, type TextStream } from "../../compiler/cli-text.js";
import { compile } from "../../compiler/index.js";
import type { CompileProgress } from "../../compiler/progress.js";

const LENET = readFileSync("examples/lenet.cnn", "utf8");

function told(source: string, target: "wasm" | "webgpu" | "all") {
  const events: CompileProgress[] = [];
  const r = compile(source, { fileName: "lenet.cnn", target, onProgress: (p) => events.push(p) });
  return { r, events };
}

/** Runs of events as "stage part", consecutive repeats folded: the order the stages ran in. */
function stages(events: readonly CompileProgress[]): string[] {
  const names = events.map((e) => `${e.stage}${e.part ? ` ${e.part}` : ""}`);
  return names.filter((n, i) => n !== names[i - 1]);
}

describe("compile's progress callback", () => {
  it("tells every stage in order, and each kernel of each build", () => {
    const { r, events } = told(LENET, "all");
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    const relaxed = r.artifacts.wasmRelaxed ? ["emit wasm relaxed", "binaryen wasm relaxed"] : [];
    expect(stages(events)).toEqual(["analyse", "optimise", "emit wasm", "binaryen wasm", ...relaxed, "emit webgpu"]);
    const layers = r.plan.steps.map((s) => s.layer);
    for (const part of ["wasm", "webgpu", ...(relaxed.length ? ["wasm relaxed"] : [])]) {
      const emitted = events.filter((e) => e.stage === "emit" && e.part === part);
      expect(emitted.map((e) => e.layer), part).toEqual(layers);
      expect(emitted.map((e) => e.done), part).toEqual(layers.map((_, i) => i));
      expect(emitted.every((e) => e.total === layers.length), part).toBe(true);
    }
    for (const e of events) expect(e.done).toBeLessThan(e.total);
  });

  it("does not change what is emitted", () => {
    const { r } = told(LENET, "wasm");
    const plain = compile(LENET, { fileName: "lenet.cnn", target: "wasm" });
    if (!r.ok || !plain.ok) throw new Error("lenet did not compile");
    expect(r.artifacts.wasm).toEqual(plain.artifacts.wasm);
    expect(r.artifacts.wasmRelaxed).toEqual(plain.artifacts.wasmRelaxed);
  });

  it("a WebGPU compile runs no binaryen; a failed analysis tells only analyse", () => {
    expect(stages(told(LENET, "webgpu").events)).toEqual(["analyse", "optimise", "emit webgpu"]);
    const bad = told("network n(x: f32[1, 4, 4]) -> y {\n y = x |> nosuchop\n}\n", "wasm");
    expect(bad.r.ok).toBe(false);
    expect(stages(bad.events)).toEqual(["analyse"]);
  });
});

/** A stand-in for stderr that records what is written. */
function stream(isTTY: boolean): TextStream & { text: string } {
  const s = {
    isTTY,
    columns: 80,
    text: "",
    write(t: string) {
      s.text += t;
      return true;
    },
  };
  return s;
}

describe("the CLI's compile bar", () => {
  const saved = { NO_COLOR: process.env.NO_COLOR, TERM: process.env.TERM };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("draws on a TTY once past its delay, and clears its line when done", () => {
    delete process.env.NO_COLOR;
    process.env.TERM = "xterm";
    const tty = stream(true);
    const bar = new Progress("compile", 0, tty);
    bar.update(3, 7, progressItem({ stage: "emit", part: "wasm", done: 3, total: 7, layer: "conv2" }));
    expect(tty.text).toBe(`\r\x1b[2Kcompile [${"#".repeat(10)}${" ".repeat(14)}] 3/7 emit wasm: conv2`);
    bar.done();
    expect(tty.text.endsWith("\r\x1b[2K")).toBe(true);
  });

  it("draws nothing off a TTY, with NO_COLOR, or before its delay", () => {
    delete process.env.NO_COLOR;
    process.env.TERM = "xterm";
    const cases: [TextStream & { text: string }, number][] = [
      [stream(false), 0],
      [stream(true), 60_000],
    ];
    for (const [s, after] of cases) {
      const bar = new Progress("compile", after, s);
      bar.update(1, 2, "analyse");
      bar.done();
      expect(s.text).toBe("");
    }
    process.env.NO_COLOR = "1";
    const s = stream(true);
    new Progress("compile", 0, s).update(1, 2, "analyse");
    expect(s.text).toBe("");
  });
});
