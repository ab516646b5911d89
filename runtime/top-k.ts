// The k best classes of a classifier's output: `topK(output, k, labels?)` per sample, highest
// score first, so a page or a script shows "7 (0.98)" without writing its own argmax.

import type { TensorData } from "./session.js";

export interface Ranked {
  /** The class's index along the output's last axis. */
  readonly index: number;
  readonly score: number;
  /** labels[index], when labels were given and have one. */
  readonly label?: string;
}

/**
 * Per sample (the first axis, when the output has two or more), the k highest scores of the
 * last axis, best first (ties: the lower index first). A one-axis output is one sample.
 */
export function topK(output: TensorData, k = 5, labels?: readonly string[]): Ranked[][] {
  const classes = output.shape.length > 0 ? output.shape[output.shape.length - 1] : output.data.length;
  if (classes <= 0) return [];
  const samples = Math.floor(output.data.length / classes);
  const n = Math.max(0, Math.min(Math.floor(k), classes));
  const result: Ranked[][] = [];
  for (let s = 0; s < samples; s++) {
    const row = output.data.subarray(s * classes, (s + 1) * classes);
    const order = Array.from({ length: classes }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
    result.push(order.slice(0, n).map((index) => (labels?.[index] !== undefined ? { index, score: row[index], label: labels[index] } : { index, score: row[index] })));
  }
  return result;
}

/** Labels from a text file's contents: one a line, blank lines at the end dropped. */
export function parseLabels(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  return lines.map((l) => l.trim());
}
