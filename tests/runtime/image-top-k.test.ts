// fromPixels (layout, bilinear resize, normalisations) and topK, without a canvas.
import { describe, expect, it } from "vitest";
import { fromPixels } from "../../runtime/image.js";
import { parseLabels, topK } from "../../runtime/top-k.js";

describe("fromPixels", () => {
  const rgba = new Uint8Array([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255]); // 2x2: red, green / blue, white

  it("lays out RGB channels first, rows top to bottom, in [0, 1]", () => {
    const t = fromPixels(rgba, 2, 2, { channels: 3 });
    expect(t.shape).toEqual([1, 3, 2, 2]);
    expect(Array.from(t.data)).toEqual([1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1]);
  });

  it("gives luma for one channel, and the stated normalisations", () => {
    const grey = fromPixels(rgba, 2, 2, { channels: 1, normalize: "none" });
    expect(Array.from(grey.data).map((v) => Number(v.toFixed(3)))).toEqual([76.245, 149.685, 29.07, 255]);
    const net = fromPixels(rgba, 2, 2, { channels: 3, normalize: "imagenet" });
    expect(net.data[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(net.data[4]).toBeCloseTo((0 - 0.456) / 0.224, 5);
  });

  it("resizes bilinearly with pixel centres aligned", () => {
    const row = new Uint8Array([0, 0, 0, 255, 200, 200, 200, 255]); // 2x1: 0, 200
    const t = fromPixels(row, 2, 1, { channels: 1, width: 4, height: 1, normalize: "none" });
    expect(Array.from(t.data).map((v) => Number(v.toFixed(3)))).toEqual([0, 50, 150, 200]);
    const same = fromPixels(rgba, 2, 2, { channels: 3, width: 2, height: 2 });
    expect(Array.from(same.data)).toEqual(Array.from(fromPixels(rgba, 2, 2, { channels: 3 }).data));
  });
});

describe("topK", () => {
  it("ranks per sample, best first, with labels", () => {
    const out = { data: new Float32Array([0.1, 0.7, 0.2, 0.5, 0.1, 0.4]), shape: [2, 3] };
    expect(topK(out, 2, ["a", "b", "c"])).toEqual([
      [
        { index: 1, score: expect.closeTo(0.7, 6), label: "b" },
        { index: 2, score: expect.closeTo(0.2, 6), label: "c" },
      ],
      [
        { index: 0, score: expect.closeTo(0.5, 6), label: "a" },
        { index: 2, score: expect.closeTo(0.4, 6), label: "c" },
      ],
    ]);
    expect(topK(out, 10)[0]).toHaveLength(3);
    expect(parseLabels("cat\r\ndog\n\n")).toEqual(["cat", "dog"]);
  });
});
