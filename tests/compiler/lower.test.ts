import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/index.js";
import { printShape } from "../../compiler/ir/dim.js";
import { readFileSync } from "node:fs";
import { formatted, headlines, net } from "./helpers.js";

function shapes(source: string): Record<string, string> {
  const a = analyse(source, { fileName: "t.cnn" });
  expect(a.log.items.filter((d) => d.severity === "error").map((d) => d.message)).toEqual([]);
  const g = a.graph!;
  return Object.fromEntries(g.nodes.map((n) => [n.layer, printShape(g.values[n.output].shape)]));
}

describe("lowering: names, layers and shapes", () => {
  it("lowers lenet with the layer names of DSL.md", () => {
    const s = shapes(readFileSync("examples/lenet.cnn", "utf8"));
    expect(s).toEqual({
      conv1: "[6, 28, 28]",
      "c1.1": "[6, 28, 28]",
      "c1.2": "[6, 14, 14]",
      conv2: "[16, 10, 10]",
      "c2.1": "[16, 10, 10]",
      "c2.2": "[16, 5, 5]",
      "probs.0": "[400]",
      fc1: "[120]",
      "probs.2": "[120]",
      fc2: "[84]",
      "probs.4": "[84]",
      fc3: "[10]",
      "probs.6": "[10]",
    });
  });

  it("gives the book's figure 9.6 shape: 280x320 with a 1x2 kernel is 280x319", () => {
    expect(shapes(readFileSync("examples/edges.cnn", "utf8"))).toEqual({ diff: "[1, 280, 319]" });
  });

  it("infers symbolic sizes through strided convolution and pooling", () => {
    const s = shapes(net("y = x |> conv(4, 3x3, stride: 2, pad: same) |> maxpool(2)", "f32[3, H, W]"));
    expect(s["y.0"]).toBe("[4, ceil(H / 2), ceil(W / 2)]");
    expect(s["y.1"]).toBe("[4, floor(ceil(H / 2) / 2), floor(ceil(W / 2) / 2)]");
  });

  it("shares weights when a label is applied again", () => {
    const a = analyse(net("a = x |> k: conv(1, 3x3, pad: same)\ny = a |> k"), { fileName: "t.cnn" });
    const g = a.graph!;
    expect(g.nodes.length).toBe(2);
    expect(g.nodes[0].weights.weight).toBe(g.nodes[1].weights.weight);
    expect(g.weights.map((w) => w.name)).toEqual(["k.weight", "k.bias"]);
  });

  it("gives each block use its own weights, named <statement>.<position>.<inner>", () => {
    const src = `block res(x, c) {
  y = x |> conv(c, 3x3, pad: same) |> relu |> conv(c, 3x3, pad: same)
  return relu(x + y)
}
network n(x: f32[4, 8, 8]) -> y {
  y = x |> res(4) |> res(4)
}`;
    const a = analyse(src, { fileName: "t.cnn" });
    expect(a.log.items).toEqual([]);
    expect(a.graph!.weights.map((w) => w.name)).toEqual([
      "y.0.y.0.weight", "y.0.y.0.bias", "y.0.y.2.weight", "y.0.y.2.bias",
      "y.1.y.0.weight", "y.1.y.0.bias", "y.1.y.2.weight", "y.1.y.2.bias",
    ]);
  });

  it("unrolls repeat with the body's layers shared across steps", () => {
    const src = `network labeler(image: f32[3, H, W]) -> y {
  y0 = image |> u: conv(16, 3x3, pad: same) |> relu |> v: conv(4, 1x1) |> softmax
  y = repeat 3 from y0 as prev {
    (image |> u) + (prev |> w: conv(16, 3x3, pad: same)) |> relu |> v |> softmax
  }
}`;
    const a = analyse(src, { fileName: "t.cnn" });
    expect(a.log.items).toEqual([]);
    const g = a.graph!;
    expect(g.weights.map((w) => w.name)).toEqual(["u.weight", "u.bias", "v.weight", "v.bias", "w.weight", "w.bias"]);
    expect(g.nodes.filter((n) => n.layer === "w").length).toBe(3);
    expect(printShape(g.values[g.outputs[0].value].shape)).toBe("[4, H, W]");
  });

  it("binds a weight literal given as one kernel for every filter and channel", () => {
    const a = analyse(net("y = x |> k: conv(2, 1x2, weight: [[-1, 1]], bias: none)"), { fileName: "t.cnn" });
    expect(Array.from(a.graph!.weights[0].data)).toEqual([-1, 1, -1, 1]);
    expect(a.initialised).toEqual([]);
  });

  it("reports the layers initialised because no weights were given", () => {
    const a = analyse(readFileSync("examples/lenet.cnn", "utf8"), { fileName: "lenet.cnn" });
    expect(a.initialised).toEqual(["conv1", "conv2", "fc1", "fc2", "fc3"]);
  });
});

describe("lowering diagnostics (exact text)", () => {
  const cases: [string, string, string][] = [
    ["unknown op", net("y = x |> conv(6, 3x3) |> rleu"), "t.cnn:2:26: error: unknown op 'rleu' (did you mean 'relu'?)"],
    ["unknown argument", net("y = x |> conv(6, 3x3, strid: 2)"), "t.cnn:2:23: error: conv has no argument 'strid' (did you mean 'stride'?)"],
    ["wrong argument type", net("y = x |> conv(6, 3x3, stride: same)"), "t.cnn:2:31: error: argument 'stride' of conv expects a size such as 3 or 3x3, but got 'same'"],
    ["missing argument", net("y = x |> conv(6)"), "t.cnn:2:10: error: conv needs the argument 'kernel'"],
    ["too many positional", net("y = x |> conv(6, 3x3, 2)"), "t.cnn:2:23: error: conv takes at most 2 positional arguments"],
    ["size of the wrong rank", net("y = x |> conv(6, 3x3x3)"), "t.cnn:2:18: error: kernel 3x3x3 has 3 axes but the input has 2 spatial axes"],
    ["undefined name", net("y = z |> relu"), "t.cnn:2:5: error: undefined name 'z' (did you mean 'x'?)"],
    ["undefined name, suggestion", net("a = x |> relu\ny = aa |> relu"), "t.cnn:3:5: error: undefined name 'aa' (did you mean 'a'?)"],
    ["rebound name", net("y = x |> relu\ny = x |> sigmoid"), "t.cnn:3:1: error: 'y' is already bound; names are bound once"],
    ["kernel larger than the padded input", net("y = x |> conv(6, 30x3)"), "t.cnn:2:10: error: kernel 30x3 is larger than the padded input 28x28"],
    ["channels not divisible by groups", net("y = x |> conv(6, 3x3, groups: 2)", "f32[3, 8, 8]"), "t.cnn:2:10: error: input channels (3) are not divisible by groups (2)"],
    ["mismatched shapes in +", net("a = x |> conv(6, 3x3)\ny = a + x"), "t.cnn:3:7: error: cannot add tensors of shapes [6, 26, 26] and [1, 28, 28]"],
    ["dense after a symbolic size", net("y = x |> flatten |> dense(10)", "f32[1, H, 28]"), "t.cnn:2:21: error: dense needs a fixed input size, but its input has the symbolic size [28*H]; use adaptive pooling (out:) before it"],
    ["unbound output", "network n(x: f32[1, 4, 4]) -> out {\ny = x |> relu\n}", "t.cnn:1:31: error: output 'out' is never bound"],
    ["a tensor used as an op", net("a = x |> relu\ny = x |> a"), "t.cnn:3:10: error: 'a' is a tensor, not an op or a layer"],
    ["a label reused on the wrong input", net("a = x |> k: conv(4, 3x3)\ny = a |> k"), "t.cnn:3:10: error: layer 'k' was built for inputs of shape [1, 28, 28]; its weights do not fit this input of shape [4, 26, 26]"],
    ["a weight literal of the wrong shape", net("y = x |> conv(1, 2x2, weight: [[1, 2, 3]])"), "t.cnn:2:31: error: the weight literal has shape [1, 3] but layer y.0 needs [1, 1, 2, 2] (or one kernel of shape [2, 2] for every filter and channel)"],
    ["unknown named kernel", net("y = x |> conv(1, 3x3, weight: sobel_z)"), "t.cnn:2:31: error:"],
    ["a named kernel for a tiled layer", net("y = x |> tiled(2, 3x3, tiles: 2x2, weight: gaussian(sigma: 1))"), "t.cnn:2:44: error: argument 'weight' of layer y.0 expects a nested list of numbers, but got 'gaussian(...)'; this layer takes its whole weight tensor (one kernel for every filter and channel is for conv, depthwise and deconv)"],
    ["one kernel for a local layer", net("y = x |> local(2, 3x3, weight: [[1, 2, 3], [4, 5, 6], [7, 8, 9]])"), "t.cnn:2:32: error: the weight literal has shape [3, 3] but layer y.0 needs [2, 26, 26, 1, 3, 3]; this layer takes its whole weight tensor (one kernel for every filter and channel is for conv, depthwise and deconv)"],
    ["non-f32 input", "network n(x: f16[1, 4]) -> x {}", "t.cnn:1:14: error: input 'x' has element type 'f16'; only f32 is supported"],
  ];
  for (const [name, src, expected] of cases) {
    it(name, () => {
      const hs = headlines(src);
      expect(hs.length).toBeGreaterThan(0);
      if (expected.endsWith("error:")) expect(hs[0].startsWith(expected)).toBe(true);
      else expect(hs[0]).toBe(expected);
    });
  }

  it("prints the source line and a caret", () => {
    expect(formatted(net("y = x |> conv(6, 3x3) |> rleu"))[0]).toBe(
      ["t.cnn:2:26: error: unknown op 'rleu' (did you mean 'relu'?)", "2 | y = x |> conv(6, 3x3) |> rleu", "  |                          ^~~~"].join("\n"),
    );
  });

  it("reports independent mistakes in one pass", () => {
    const hs = headlines(net("a = x |> conv(6, 3x3, strid: 2)\nb = x |> rleu\ny = x |> relu"));
    expect(hs.length).toBe(2);
  });
});

describe("diagnostics of the chapter's other layers (exact text)", () => {
  const small = (body: string, input = "f32[1, 4, 4]") => net(body, input);
  const cases: [string, string, string][] = [
    ["a deconv size no convolution produces", small("y = x |> deconv(4, 3x3, stride: 2, size: 8x8)"), "t.cnn:2:10: error: no convolution with kernel 3x3 and stride 2x2 maps size 8x8 to the input's 4x4 (it gives 3x3)"],
    ["a deconv without its size", small("y = x |> deconv(4, 3x3, stride: 2)"), "t.cnn:2:10: error: deconv needs the size it returns: size: [H, W] or like: x (several input sizes map to the same output under stride)"],
    ["a deconv with size and like", small("y = x |> deconv(4, 3x3, stride: 2, size: 8x8, like: x)"), "t.cnn:2:10: error: deconv takes either size: or like:, not both"],
    ["maxout of indivisible channels", small("y = x |> conv(6, 3x3) |> maxout(4)"), "t.cnn:2:26: error: maxout(4) needs a channel count divisible by 4, got 6"],
    ["tiled without tiles", small("y = x |> tiled(4, 3x3)"), "t.cnn:2:10: error: tiled needs the argument 'tiles'"],
    ["local with a channel bias", small("y = x |> local(4, 3x3, bias: channel)"), "t.cnn:2:30: error: argument 'bias' of local expects 'location' or 'none', but got 'channel'"],
    ["batchnorm with eps 0", small("y = x |> batchnorm(eps: 0)"), "t.cnn:2:25: error: argument 'eps' of batchnorm must be positive"],
    ["adaptive pooling larger than the input", small("y = x |> avgpool(out: 40x40)"), "t.cnn:2:10: error: adaptive pooling to 40x40 needs an input of at least that size, got 4x4"],
    ["adaptive lp pooling", small("y = x |> lppool(out: 2x2)"), "t.cnn:2:22: error: lppool has no adaptive form (out:); use maxpool or avgpool"],
    ["local on a symbolic size", small("y = x |> local(4, 3x3)", "f32[1, H, W]"), "t.cnn:2:10: error: local needs a fixed input size (it has a kernel per output position), but its input has the symbolic size [1, H, W]"],
    ["a label reused on another size (local)", small("a = x |> k: local(1, 1x1)\ny = a |> maxpool(2) |> k"), "t.cnn:3:24: error: layer 'k' was built for inputs of shape [1, 4, 4]; its weights do not fit this input of shape [1, 2, 2]"],
  ];
  for (const [name, src, expected] of cases) {
    it(name, () => expect(headlines(src)[0]).toBe(expected));
  }
});
