// The choice per layer: the cost model's picks on the layers each algorithm is for (and
// direct where nothing can win), its reasons, `--algorithm` overrides and the diagnostics
// when the named algorithm cannot compute the layer, `--autotune`, and the manifest's record.
import { describe, expect, it } from "vitest";
import { compile, type CompileResult } from "../../compiler/index.js";
import { formatDiagnostics } from "../../compiler/diagnostics.js";
import { costFeatures, estimateMs, WASM_COSTS } from "../../compiler/backends/wasm/cost.js";
import { ALGORITHMS } from "../../compiler/algorithms/applicability.js";

const net = (input: string, layer: string) => `network n(x: f32[${input}]) -> y {\n  y = x |> c: ${layer}\n}\n`;

function choice(r: CompileResult, layer = "c") {
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics));
  const n = r.graph.nodes.find((x) => x.layer === layer);
  return n?.algorithm;
}

describe("cost model: picks", () => {
  it("FFT for a 15x15 kernel, separable for a Gaussian blur, Winograd F(4x4) for 3x3 64->64", () => {
    expect(choice(compile(net("1, 256, 256", "conv(8, 15x15, pad: same)")))?.name).toBe("fft");
    expect(choice(compile(net("3, 512, 512", "depthwise(9x9, pad: same, weight: gaussian(sigma: 2), bias: none)")))?.name).toBe("separable");
    const w = choice(compile(net("64, 56, 56", "conv(64, 3x3, pad: same)")));
    expect(w?.name).toBe("winograd4");
    expect(w?.reason).toMatch(/^3x3 stride 1, 64->64 channels, 56x56 outputs: Winograd F\(4x4,3x3\) needs 4x fewer multiplies; estimated [\d.]+ ms vs [\d.]+ ms winograd2, [\d.]+ ms /);
  });

  it("1-D Winograd for audio1d's 16->32 channel layer (9 taps, stride 2), GEMM for its 1->16 one; never on WebGPU", () => {
    const w = choice(compile(net("16, 7996", "conv(32, 9, stride: 2) |> relu")));
    expect(w?.name).toBe("winograd1d");
    expect(w?.reason).toMatch(/^9 stride 2, 16->32 channels, 3994 outputs: 1-D Winograd F\(4,5\) on its 2 stride phases as stride-1 channels, needs 2.25x fewer multiplies; estimated [\d.]+ ms vs [\d.]+ ms gemm/);
    expect(choice(compile(net("1, 16000", "conv(16, 9, stride: 2) |> relu")))?.name).not.toBe("winograd1d");
    const webgpu = { target: "webgpu" as const };
    expect(choice(compile(net("16, 7996", "conv(32, 9, stride: 2) |> relu"), webgpu))?.name).not.toBe("winograd1d");
    const forced = compile(net("16, 7996", "conv(32, 9, stride: 2)"), { ...webgpu, algorithms: { c: "winograd1d" } });
    expect(forced.ok).toBe(false);
    expect(forced.diagnostics.map((d) => d.message).join("\n")).toContain("winograd1d");
    // A 2-D layer: refused with the reason.
    const r = compile(net("4, 20, 20", "conv(4, 3x3)"), { algorithms: { c: "winograd1d" } });
    expect(r.diagnostics.map((d) => d.message).join("\n")).toContain("1-D Winograd is for 1-D layers; this one is 2-D");
  });

  it("direct for a tiny layer, and then a following pool is fused into it", () => {
    const tiny = choice(compile(net("1, 8, 8", "conv(2, 3x3)")));
    expect(tiny?.name).toBe("direct");
    expect(tiny?.reason).toContain("a small layer");
    const pooled = choice(compile(net("1, 8, 8", "conv(2, 3x3) |> relu |> maxpool(2)")));
    // With the pool fused, direct and direct_simd remain (both pool); the small layer stays direct.
    expect(pooled?.name).toBe("direct");
    expect(pooled?.reason).toMatch(/^3x3 stride 1, 1->2 channels, 6x6 outputs: a small layer \(estimated [\d.]+ ms direct\), where the other algorithms cannot win back their setup$/);
  });

  it("GEMM for strided layers, where neither Winograd nor FFT applies", () => {
    expect(choice(compile(net("32, 56, 56", "conv(64, 3x3, pad: same, stride: 2)")))?.name).toBe("gemm");
  });

  it("symbolic sizes are costed at a nominal size, and the reason says so", () => {
    const c = choice(compile(net("16, H, W", "conv(16, 3x3, pad: same)")));
    expect(c?.reason).toContain("estimated at 64 per symbolic size");
  });

  it("WebGPU has its own cost model: Winograd, separable, GEMM and direct where each is for", () => {
    const webgpu = { target: "webgpu" as const };
    const w = choice(compile(net("64, 56, 56", "conv(64, 3x3, pad: same)"), webgpu));
    expect(w?.name).toBe("winograd4");
    expect(w?.reason).toMatch(/^3x3 stride 1, 64->64 channels, 56x56 outputs: Winograd F\(4x4,3x3\) needs 4x fewer multiplies; estimated [\d.]+ ms vs /);
    expect(choice(compile(net("3, 512, 512", "depthwise(9x9, pad: same, weight: gaussian(sigma: 2), bias: none)"), webgpu))?.name).toBe("separable");
    const g = choice(compile(net("32, 56, 56", "conv(64, 3x3, pad: same, stride: 2)"), webgpu));
    expect(g?.name).toBe("gemm");
    expect(g?.reason).toContain("implicit GEMM stages 32x32 blocks in workgroup memory");
    expect(choice(compile(net("1, 8, 8", "conv(2, 3x3)"), webgpu))?.name).toBe("direct");
    // --autotune times WASM kernels only: WebGPU keeps its model's pick.
    expect(choice(compile(net("64, 56, 56", "conv(64, 3x3, pad: same)"), { ...webgpu, autotune: true }))?.name).toBe("winograd4");
  });

  it("an algorithm whose WebGPU kernels cannot take a layer is not chosen there, and the reason says why", () => {
    // 31x31: the WebGPU FFT tile would be 62x62 points, over what its kernel takes.
    const r = compile(net("4, 96, 96", "conv(8, 31x31, pad: same)"), { target: "webgpu" });
    const c = choice(r);
    expect(c?.name).not.toBe("fft");
    expect(c?.reason).not.toContain("fft");
    const msg = (x: CompileResult) => x.diagnostics.map((d) => d.message).join("\n");
    expect(msg(compile(net("4, 96, 96", "conv(8, 31x31, pad: same)"), { algorithms: { c: "fft" }, target: "webgpu" }))).toContain(
      "fft cannot compute layer c: its FFT tiles would have 62x62 = 3844 points, over the 1024 the WebGPU FFT kernel takes",
    );
    // The same layer on WASM alone takes FFT.
    expect(compile(net("4, 96, 96", "conv(8, 31x31, pad: same)"), { algorithms: { c: "fft" } }).ok).toBe(true);
  });

  it("every estimate is positive and every cost vector matches its features", () => {
    const r = compile(net("8, 40, 40", "conv(8, 3x3, pad: same)"));
    if (!r.ok) throw new Error("compile");
    for (const name of ALGORITHMS) {
      if (name === "separable") continue;
      const s = { op: r.graph.nodes[0].op as never, c: 8, m: [40, 40], out: [40, 40], symbolic: false };
      expect(costFeatures(name, s).length).toBe(WASM_COSTS[name].length);
      expect(estimateMs(name, s)).toBeGreaterThan(0);
    }
  });
});

describe("--algorithm and its diagnostics", () => {
  it("forces an algorithm that applies", () => {
    expect(choice(compile(net("4, 20, 20", "conv(4, 3x3)"), { algorithms: { c: "winograd2" } }))).toEqual({ name: "winograd2", reason: "asked for with --algorithm" });
  });

  it("says why Winograd cannot compute a 5x5 layer, at the layer", () => {
    const r = compile(net("3, 32, 32", "conv(8, 5x5, pad: same)"), { fileName: "t.cnn", algorithms: { c: "winograd4" } });
    expect(r.ok).toBe(false);
    expect(formatDiagnostics(r.diagnostics)).toBe(
      "t.cnn:2:12: error: --algorithm c=winograd4: winograd4 cannot compute layer c: Winograd F(m x m, 3x3) needs a 3x3 kernel; this one is 5x5\n" +
        "2 |   y = x |> c: conv(8, 5x5, pad: same)\n" +
        "  |            ^~~~~~~~~~~~~~~~~~~~~~~~~~",
    );
  });

  it("says why FFT cannot compute a strided layer and separable a full-rank one; WebGPU and --target all take forced algorithms", () => {
    const msg = (r: CompileResult) => r.diagnostics.map((d) => d.message).join("\n");
    expect(msg(compile(net("3, 32, 32", "conv(8, 5x5, stride: 2)"), { algorithms: { c: "fft" } }))).toContain(
      "fft cannot compute layer c: FFT convolution computes every output position, so it needs stride 1; this layer has stride 2x2",
    );
    expect(msg(compile(net("3, 32, 32", "conv(8, 5x5)"), { algorithms: { c: "separable" } }))).toContain("is not an outer product of 1-D vectors");
    expect(choice(compile(net("3, 32, 32", "conv(8, 3x3)"), { algorithms: { c: "gemm" }, target: "webgpu" }))).toEqual({ name: "gemm", reason: "asked for with --algorithm" });
    expect(choice(compile(net("3, 32, 32", "conv(8, 3x3)"), { algorithms: { c: "winograd2" }, target: "all" }))).toEqual({ name: "winograd2", reason: "asked for with --algorithm" });
  });

  it("a forced algorithm keeps a following pool a kernel of its own (only direct computes a fused pool)", () => {
    const r = compile(net("8, 16, 16", "conv(8, 3x3, pad: same) |> maxpool(2)"), { algorithms: { c: "gemm" } });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics));
    expect(r.graph.nodes.map((n) => [n.op.kind, n.algorithm?.name])).toEqual([["conv", "gemm"], ["pool", undefined]]);
    expect(r.diagnostics.filter((d) => d.message.includes("--algorithm"))).toEqual([]);
  });
});

describe("--autotune and the manifest", () => {
  it("times the candidates, records the fastest with its times, and the bundle's manifest lists every layer's algorithm", () => {
    const r = compile(net("4, 48, 48", "conv(8, 5x5, pad: same)"), { autotune: true });
    const c = choice(r);
    expect(c?.reason).toMatch(/^autotuned: [\d.]+ ms vs [\d.]+ ms \w+, [\d.]+ ms \w+/);
    if (!r.ok) return;
    expect(r.artifacts.manifest.algorithms).toEqual({ c: { name: c?.name, reason: c?.reason } });
  });
});
