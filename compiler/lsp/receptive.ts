// The receptive-field line of a hover: which input pixels one element of a value can depend on
// (compiler/receptive-field.ts computes it for every value of a graph, figure 9.4), printed as
// `explain` prints it: size per axis and the jump (stride) between neighbouring elements, in
// pixels of the network's input. Fields are computed once per graph and kept with it.

import type { Graph } from "../ir/graph.js";
import { printField, type ReceptiveField, receptiveFields } from "../receptive-field.js";

const cache = new WeakMap<Graph, ReceptiveField[]>();

export function describeReceptiveField(g: Graph, value: number): string | undefined {
  let fields = cache.get(g);
  if (!fields) {
    fields = receptiveFields(g);
    cache.set(g, fields);
  }
  const f = fields[value];
  if (!f || f.axes.length === 0) return undefined;
  const text = printField(f);
  return text === "whole" ? "receptive field: the whole input" : `receptive field: ${text} input pixels`;
}
