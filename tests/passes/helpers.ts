// Pass tests: lower a source, run one pass, compare the printed IR before and after, and
// check with the reference interpreter that the pass kept the meaning.
import { expect } from "vitest";
import { WASM } from "../../compiler/backends/wasm/target.js";
import { analyse } from "../../compiler/index.js";
import { evalDims } from "../../compiler/ir/dim.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { printGraph } from "../../compiler/ir/print.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import type { Pass, PassContext } from "../../compiler/passes/pass.js";
import type { Target } from "../../compiler/target.js";
import { interpret } from "../../compiler/reference/interpret.js";
import { initialise } from "../../compiler/tensors/init.js";

export function lowered(source: string): Graph {
  const a = analyse(source, { fileName: "t.cnn" });
  if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
  return a.graph;
}

export function context(target: Target = WASM, fuse = true): PassContext {
  return { target, options: { fuse, algorithms: new Map() } };
}

/** Runs `pass` and returns the IR text before and after; asserts the meaning is unchanged. */
export function runPass(pass: Pass, g: Graph, ctx: PassContext = context()): { before: string; after: string; graph: Graph } {
  const before = printGraph(g);
  const after = pass.run(g, ctx);
  expect(verifyGraph(after)).toEqual([]);
  sameMeaning(g, after);
  return { before, after: printGraph(after), graph: after };
}

export function sameMeaning(a: Graph, b: Graph, env: Record<string, number> = { H: 9, W: 7 }): void {
  const inputs = new Map(
    a.inputs.map((io, i) => {
      const shape = evalDims(a.values[io.value].shape, env);
      return [io.name, { shape, data: Float64Array.from(initialise({ kind: "uniform", low: -1, high: 1, seed: 3 + i }, shape, 1, 1)) }];
    }),
  );
  const ya = interpret(a, inputs);
  const yb = interpret(b, inputs);
  for (const [name, t] of ya) {
    const u = yb.get(name);
    expect(u?.shape).toEqual(t.shape);
    const scale = Math.max(1e-30, ...Array.from(t.data, Math.abs));
    const diff = Math.max(0, ...Array.from(t.data, (v, i) => Math.abs(v - (u?.data[i] ?? NaN))));
    expect(diff / scale).toBeLessThan(1e-6);
  }
}
