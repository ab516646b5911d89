// Receptive fields: hand cases from the chapter, then a brute-force check on random small
// networks: perturb one input pixel, run the reference, and see which outputs change; every
// output's changed pixels must lie inside its predicted field, and an exact field that lies
// inside the image must be touched at both ends.

import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/analyse.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { optimise } from "../../compiler/optimise.js";
import { interpret } from "../../compiler/reference/interpret.js";
import type { Tensor } from "../../compiler/reference/tensor.js";
import { type AxisField, printField, receptiveFields } from "../../compiler/receptive-field.js";
import { rng } from "../rng.js";

function graphOf(source: string): Graph {
  const a = analyse(source, { fileName: "t.cnn" });
  if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
  return a.graph;
}

function outputField(source: string): string {
  const g = graphOf(source);
  return printField(receptiveFields(g)[g.outputs[0].value]);
}

const net = (body: string, input = "f32[1, 28, 28]") => `network n(x: ${input}) -> y {\n  y = x |> ${body}\n}\n`;

describe("receptive field: hand cases", () => {
  it("two 3x3 convolutions see 5x5", () => {
    expect(outputField(net("conv(2, 3x3) |> conv(2, 3x3)"))).toBe("5x5 (jump 1x1)");
  });
  it("a stride multiplies the jump and later kernels grow by it", () => {
    expect(outputField(net("conv(2, 3x3, stride: 2) |> conv(2, 3x3)"))).toBe("7x7 (jump 2x2)");
    expect(outputField(net("conv(2, 3x3, dilation: 2) |> maxpool(2x2, stride: 2)"))).toBe("6x6 (jump 2x2)");
  });
  it("LeNet: 5, 6, 14, 16 pixels, then the whole image", () => {
    const g = graphOf(`network lenet(image: f32[1, 28, 28]) -> probs {
      c1 = image |> conv1: conv(6, 5x5, pad: same) |> relu |> p1: maxpool(2x2, stride: 2)
      c2 = c1 |> conv2: conv(16, 5x5) |> relu |> p2: maxpool(2x2, stride: 2)
      probs = c2 |> flatten |> fc1: dense(10) |> softmax
    }`);
    const f = receptiveFields(g);
    const byLayer = (layer: string) => printField(f[g.nodes.find((n) => n.layer === layer)!.output]);
    expect(byLayer("conv1")).toBe("5x5 (jump 1x1)");
    expect(f[g.nodes.find((n) => n.layer === "conv1")!.output].axes[0].start).toEqual({ num: -2, den: 1 });
    expect(byLayer("p1")).toBe("6x6 (jump 2x2)");
    expect(byLayer("conv2")).toBe("14x14 (jump 2x2)");
    expect(byLayer("p2")).toBe("16x16 (jump 4x4)");
    expect(byLayer("fc1")).toBe("whole");
  });
  it("a transposed convolution divides the jump and is an upper bound", () => {
    expect(outputField(net("conv(2, 3x3, stride: 2) |> deconv(2, 3x3, stride: 2, size: [27, 27])", "f32[1, 27, 27]"))).toBe("<= 5x5 (jump 1x1)");
    expect(outputField(net("deconv(2, 4x4, stride: 2, pad: 1, size: [14, 14])", "f32[1, 7, 7]"))).toBe("<= 3x3 (jump 1/2x1/2)");
  });
  it("global pooling sees the whole input; symbolic sizes stay symbolic", () => {
    expect(outputField(net("conv(2, 3x3) |> avgpool(out: 1)"))).toBe("whole");
    expect(outputField(net("conv(2, 3x3, pad: same, stride: 2) |> conv(2, 3x3)", "f32[1, H, W]"))).toBe("7x7 (jump 2x2)");
  });
  it("the optimised graph's output has the lowered graph's field (fused pools and adds followed)", () => {
    const src = `network r(x: f32[2, 16, 16]) -> y {
      a = x |> conv(2, 3x3, pad: same) |> relu
      b = a |> conv(2, 3x3, pad: same) |> relu |> conv(2, 3x3, pad: same)
      y = relu(a + b) |> maxpool(2x2, stride: 2) |> conv(3, 3x3, stride: 2)
    }`;
    const o = optimise(src, { fileName: "t.cnn" });
    if (!o.ok) throw new Error("compile failed");
    const lowered = printField(receptiveFields(o.source)[o.source.outputs[0].value]);
    expect(o.graph.nodes.length).toBeLessThan(o.source.nodes.length);
    expect(printField(receptiveFields(o.graph)[o.graph.outputs[0].value])).toBe(lowered);
    expect(lowered).toBe("12x12 (jump 4x4)");
  });
});

/** A random chain of window ops (and a residual add), as `.cnn` source. */
function randomNet(seed: number): { source: string; size: [number, number]; deconv: boolean } {
  const r = rng(seed);
  const layers: string[] = [];
  // A transposed convolution needs the size it returns: first in the chain, it is known.
  const deconv = r.bool(0.3);
  const size: [number, number] = deconv ? [r.int(6, 8), r.int(6, 8)] : [r.int(13, 17), r.int(13, 17)];
  if (deconv) {
    const k = [r.int(1, 4), r.int(1, 4)];
    layers.push(`deconv(2, ${k.join("x")}, stride: 2, size: [${(size[0] - 1) * 2 + k[0]}, ${(size[1] - 1) * 2 + k[1]}])`);
  }
  const n = r.int(1, 3);
  for (let i = 0; i < n; i++) {
    const kind = r.pick(["conv", "conv", "pool", "avg", "local"] as const);
    const k = `${r.int(1, 3)}x${r.int(1, 3)}`;
    const stride = r.bool(0.3) ? 2 : 1;
    const pad = r.pick(["valid", "same", "valid"]);
    if (kind === "conv") layers.push(`conv(2, ${k}, stride: ${stride}, pad: ${pad}, dilation: ${r.int(1, 2)}) |> relu`);
    else if (kind === "local") layers.push(`local(2, ${k}, stride: ${stride})`);
    else if (kind === "pool") layers.push(`maxpool(2x2, stride: ${stride})`);
    else layers.push(`avgpool(${k}, stride: ${stride}, pad: ${pad})`);
  }
  const residual = r.bool(0.3);
  const body = residual
    ? `  a = x |> ${layers.join(" |> ")}\n  b = a |> conv(2, 3x3, pad: same)\n  y = a + b\n`
    : `  y = x |> ${layers.join(" |> ")}\n`;
  return { source: `network n(x: f32[1, ${size[0]}, ${size[1]}]) -> y {\n${body}}\n`, size, deconv };
}

describe("receptive field: brute force against the reference", () => {
  for (let seed = 1; seed <= 24; seed++) {
    it(`random net ${seed}`, () => {
      const { source, size, deconv } = randomNet(seed);
      const a = analyse(source, { fileName: "t.cnn" });
      if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
      const g = a.graph;
      // Positive weights and inputs: with relu and max pools, a large bump then always shows.
      const r = rng(1000 + seed);
      for (const w of g.weights) w.data = Float32Array.from(w.data, () => 0.1 + r.next());
      const [H, W] = size;
      const base = Float64Array.from({ length: H * W }, () => r.next());
      const run = (data: Float64Array): Tensor => interpret(g, new Map([["x", { shape: [1, H, W], data }]])).get("y") as Tensor;
      const y0 = run(base);
      const [C, h, w] = y0.shape;
      // Per output element, the bounding box of the input pixels that change it.
      const lo = [new Int32Array(C * h * w).fill(1e9), new Int32Array(C * h * w).fill(1e9)];
      const hi = [new Int32Array(C * h * w).fill(-1), new Int32Array(C * h * w).fill(-1)];
      for (let py = 0; py < H; py++) {
        for (let px = 0; px < W; px++) {
          const bumped = Float64Array.from(base);
          bumped[py * W + px] += 100;
          const y1 = run(bumped);
          for (let e = 0; e < y1.data.length; e++) {
            if (Math.abs(y1.data[e] - y0.data[e]) <= 1e-9 * (1 + Math.abs(y0.data[e]))) continue;
            lo[0][e] = Math.min(lo[0][e], py);
            hi[0][e] = Math.max(hi[0][e], py);
            lo[1][e] = Math.min(lo[1][e], px);
            hi[1][e] = Math.max(hi[1][e], px);
          }
        }
      }
      const field = receptiveFields(g)[g.outputs[0].value];
      expect(field.exact).toBe(!deconv);
      for (let e = 0; e < C * h * w; e++) {
        const pos = [Math.floor(e / w) % h, e % w];
        field.axes.forEach((ax: AxisField, i) => {
          const size = ax.size as number;
          const start = ax.start!;
          const from = start.num / start.den + pos[i] * (ax.jump.num / ax.jump.den);
          if (hi[i][e] >= 0) {
            expect(hi[i][e] - lo[i][e] + 1, `span of element ${e}, axis ${i}`).toBeLessThanOrEqual(size);
            expect(lo[i][e]).toBeGreaterThanOrEqual(Math.floor(from));
            expect(hi[i][e]).toBeLessThan(from + size);
          }
          // An exact field inside the image is seen at both of its ends.
          if (field.exact && from >= 0 && from + size <= [H, W][i]) {
            expect([lo[i][e], hi[i][e]], `element ${e} axis ${i} of ${source}`).toEqual([from, from + size - 1]);
          }
        });
      }
    });
  }
});

describe("receptive field: the random networks", () => {
  it("cover transposed convolutions, residual adds, strides, dilations and padding", () => {
    const sources = Array.from({ length: 24 }, (_, i) => randomNet(i + 1).source).join("\n");
    for (const s of ["deconv(", " a + b", "stride: 2", "dilation: 2", "pad: same", "local(", "maxpool(", "avgpool("]) {
      expect(sources, s).toContain(s);
    }
  });
});
