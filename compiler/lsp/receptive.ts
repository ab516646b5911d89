// The receptive field line of a hover (placeholder until compiler/receptive-field.ts lands).

import type { Graph } from "../ir/graph.js";

export function describeReceptiveField(g: Graph, value: number): string | undefined {
  void g;
  void value;
  return undefined;
}
