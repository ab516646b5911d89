// Gradients of whole example networks against central finite differences, on a few random
// coordinates of every trained tensor: LeNet (conv, pools, dense, the fused softmax +
// cross-entropy), the residual network (blocks, residual adds, batch norm, adaptive pool), the
// labeller (per-pixel cross-entropy through `repeat`, whose shared weights' gradient is the sum
// over the steps) and the autoencoder (strided convs and deconvs under mse).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { analyse } from "../../compiler/index.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { autodiff } from "../../compiler/train/autodiff.js";
import { specialise } from "../../compiler/train/specialise.js";
import { checkGradients, classes, rng } from "./helpers.js";

function example(name: string, sizes: Record<string, number> = {}): Graph {
  const a = analyse(readFileSync(`examples/${name}.cnn`, "utf8"), { fileName: `examples/${name}.cnn` });
  if (!a.graph) throw new Error(a.log.items.map((d) => d.message).join("\n"));
  return specialise(a.graph, sizes);
}

describe("whole-network gradients against finite differences", () => {
  it("lenet, cross-entropy on the softmax's logits", () => {
    const tg = checkGradients(example("lenet"), rng(1), { loss: "cross_entropy", graphWeights: true, inputRange: [0, 1], coordinates: 4, target: classes(10) });
    expect(tg.lossKind).toBe("softmax_cross_entropy");
    // Every conv and dense layer trains: 5 weights and 5 biases.
    expect(tg.gradients.length).toBe(10);
  });

  it("residual network", () => {
    checkGradients(example("residual", { H: 6, W: 6 }), rng(2), { loss: "cross_entropy", graphWeights: true, coordinates: 3, target: classes(10) });
  });

  it("labeller: per-pixel cross-entropy through repeat, shared weights summed over the steps", () => {
    const g = example("labeler", { H: 5, W: 4 });
    const tg = checkGradients(g, rng(3), { loss: "cross_entropy", graphWeights: true, coordinates: 4, target: classes(4) });
    expect(tg.targetShape).toEqual([5, 4]);
    // u, v and w are each one set of weights however many steps use them.
    const names = tg.gradients.map((x) => x.weight.name);
    expect(new Set(names).size).toBe(names.length);
    expect(tg.nodes.some((n) => n.op.kind === "accumulate" && n.layer.startsWith("u"))).toBe(true);
  });

  it("autoencoder, mse", () => {
    checkGradients(example("autoencoder", { H: 8, W: 8 }), rng(4), { loss: "mse", graphWeights: true, inputRange: [0, 1], coordinates: 4 });
  });

  it("keeps only the activations the backward pass reads", () => {
    const g = example("lenet");
    const tg = autodiff(g, { loss: "cross_entropy" });
    const saved = new Set(tg.saved);
    // Only values a gradient op reads are kept: not the probabilities (the loss reads the logits).
    expect(saved.has(g.outputs[0].value)).toBe(false);
    expect(saved.has(g.inputs[0].value)).toBe(true); // conv1's kernel gradient reads the image
    expect(tg.saved.length).toBeLessThan(g.values.length);
    // With conv1 frozen, nothing flows into it: the image is no longer kept.
    const frozen = autodiff(g, { loss: "cross_entropy", frozen: new Set(["conv1"]) });
    expect(frozen.saved.includes(g.inputs[0].value)).toBe(false);
    expect(frozen.nodes.some((n) => n.layer === "conv1")).toBe(false);
  });
});
