// The graph picture checked structurally against the plan it draws: one box per kernel (plus
// the network's inputs and outputs), each box naming its fused layers and algorithm, and one
// edge per tensor a kernel reads from another kernel or an input; in the SVG and in the DOT.

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { optimise } from "../../compiler/optimise.js";
import type { Plan } from "../../compiler/plan/plan.js";
import { escapeDot, renderDot } from "../../compiler/pictures/dot.js";
import { graphPicture, reasonLines } from "../../compiler/pictures/graph.js";
import { escapeXml, renderSvg } from "../../compiler/pictures/svg.js";

const EXAMPLES = path.join(import.meta.dirname, "../../examples");

function compiled(file: string, fuse = true) {
  const o = optimise(readFileSync(path.join(EXAMPLES, file), "utf8"), { fileName: file, fuse });
  if (!o.ok) throw new Error(`${file} does not compile`);
  return o;
}

/** The plan's dependencies, "from -> to", by buffer: who wrote each buffer a step reads. */
function dependencies(plan: Plan): string[] {
  const writer = new Map<number, string>(plan.inputs.map((i) => [i.buffer, `input:${i.name}`]));
  const deps = new Set<string>();
  for (const s of plan.steps) {
    for (const t of s.inputs) deps.add(`${writer.get(t.buffer)} -> step:${s.id}`);
    writer.set(s.output.buffer, `step:${s.id}`);
  }
  for (const o of plan.outputs) deps.add(`${writer.get(o.buffer)} -> output:${o.name}`);
  return [...deps].sort();
}

/** Every element opened is closed, in order (the SVG is well-formed XML, as far as tags go). */
function tagsBalance(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.replace(/<\?xml[^>]*\?>/, "").matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (m[1]) {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]);
  }
  return stack.length === 0;
}

const CASES = ["lenet.cnn", "residual.cnn", "classifier_fixed.cnn", "autoencoder.cnn", "tiled.cnn", "labeler.cnn"];

describe("graph picture", () => {
  for (const file of CASES) {
    for (const fuse of [true, false]) {
      it(`${file}${fuse ? "" : " (--no-fuse)"}: boxes and edges are the plan's kernels and dependencies`, () => {
        const o = compiled(file, fuse);
        const picture = graphPicture(o);
        const svg = renderSvg(picture);
        expect(tagsBalance(svg)).toBe(true);
        const boxes = [...svg.matchAll(/<g class="box" data-id="([^"]*)"[^>]*>([\s\S]*?)<\/g>/g)];
        const steps = boxes.filter((b) => b[1].startsWith("step:"));
        expect(steps.length).toBe(o.plan.steps.length);
        expect(boxes.length).toBe(o.plan.steps.length + o.plan.inputs.length + o.plan.outputs.length);
        // Each kernel's box names every layer fused into it, and its algorithm.
        const kernels = o.graph.nodes.filter((n) => !((n.op.kind === "flatten" || n.op.kind === "reshape") && !n.epilogue?.length));
        kernels.forEach((n, i) => {
          const text = steps[i][2];
          for (const layer of [n.layer, ...(n.fused ?? [])]) expect(text).toContain(escapeXml(layer));
          if (n.algorithm) expect(text).toContain(`algorithm: ${n.algorithm.name}`);
          expect(text).toContain(`out ${escapeXml(picture.boxes.find((b) => b.id === steps[i][1])!.shape)}`);
        });
        if (!fuse) expect(kernels.every((n) => !n.fused?.length)).toBe(true);
        const edges = [...svg.matchAll(/<g class="edge" data-from="([^"]*)" data-to="([^"]*)">/g)].map((m) => `${m[1]} -> ${m[2]}`);
        expect(edges.sort()).toEqual(dependencies(o.plan));
        // Laid out: every box inside the picture, no two boxes overlapping.
        for (const b of picture.boxes) {
          expect(b.x - b.width / 2).toBeGreaterThanOrEqual(0);
          expect(b.x + b.width / 2).toBeLessThanOrEqual(picture.width + 0.5);
          expect(b.y + b.height / 2).toBeLessThanOrEqual(picture.height + 0.5);
        }
        for (const a of picture.boxes) {
          for (const b of picture.boxes) {
            if (a === b) continue;
            const apart = Math.abs(a.x - b.x) >= (a.width + b.width) / 2 || Math.abs(a.y - b.y) >= (a.height + b.height) / 2;
            expect(apart, `${a.id} and ${b.id} overlap`).toBe(true);
          }
        }
        // The DOT has the same boxes and edges.
        const dot = renderDot(picture);
        const dotBoxes = [...dot.matchAll(/^ {2}"([^"]*)" \[label=/gm)].map((m) => m[1]);
        expect(dotBoxes.sort()).toEqual(boxes.map((b) => b[1]).sort());
        const dotEdges = [...dot.matchAll(/^ {2}"([^"]*)" -> "([^"]*)"/gm)].map((m) => `${m[1]} -> ${m[2]}`);
        expect(dotEdges.sort()).toEqual(dependencies(o.plan));
      });
    }
  }

  it("edges are labelled with the tensor's shape and bytes", () => {
    const picture = graphPicture(compiled("lenet.cnn"));
    const labels = picture.edges.map((e) => e.label);
    expect(labels).toContain("[1, 28, 28] · 3.06 KiB");
    expect(labels).toContain("[6, 14, 14] · 4.59 KiB");
    expect(labels).toContain("[10] · 40 B");
  });

  it("a reason is cut to its gist in the box and kept whole in the tooltip", () => {
    expect(reasonLines("3x3 stride 1, 16->16 channels, 64x64 outputs (estimated at 64 per symbolic size): Winograd F(4x4,3x3) needs 4x fewer multiplies; estimated 0.40 ms vs 0.41 ms winograd2")).toEqual([
      "Winograd F(4x4,3x3) needs 4x fewer",
      "multiplies",
    ]);
    expect(reasonLines("asked for with --algorithm")).toEqual(["asked for with --algorithm"]);
    const o = compiled("lenet.cnn");
    const reason = o.graph.nodes.find((n) => n.algorithm)!.algorithm!.reason;
    expect(renderSvg(graphPicture(o))).toContain(escapeXml(reason));
  });

  it("escapes text for XML and DOT", () => {
    expect(escapeXml(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&#39;");
    expect(escapeDot('a"b\\c\nd')).toBe('a\\"b\\\\c d');
  });
});
