// The graph picture as Graphviz DOT, for people who lay out with `dot` or edit the picture:
// the same boxes (colours, titles, detail lines, left-justified) and labelled edges as the
// SVG; Graphviz places them itself, so the layout's coordinates are not written. Every string
// is quoted and escaped, and node ids are the model's ids, quoted.

import type { GraphPicture } from "./graph.js";
import { COLOURS } from "./svg.js";
import { FONT_MONO } from "./text.js";

/** A DOT double-quoted string's content: backslashes and quotes escaped, no raw newlines. */
export function escapeDot(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, " ");
}

/** The picture as a DOT digraph. */
export function renderDot(p: GraphPicture): string {
  const out: string[] = [];
  out.push(`digraph "${escapeDot(p.name)}" {`);
  out.push(`  graph [rankdir=TB, nodesep=0.4, ranksep=0.35, label="network ${escapeDot(p.name)}", labelloc=t, fontname="Helvetica-Bold"];`);
  out.push(`  node [shape=box, style="rounded,filled", fontname="${escapeDot(FONT_MONO.split(",")[0].replace(/'/g, ""))}", fontsize=10];`);
  out.push(`  edge [fontname="${escapeDot(FONT_MONO.split(",")[0].replace(/'/g, ""))}", fontsize=9, color="#555555", fontcolor="#444444"];`);
  for (const b of p.boxes) {
    const c = COLOURS[b.family];
    // `\l` ends a left-justified line; the title is centred (`\n`).
    const label = `${escapeDot(b.title)}\\n${b.lines.map((l) => `${escapeDot(l)}\\l`).join("")}`;
    const tip = b.algorithm ? `, tooltip="${escapeDot(`${b.algorithm.name}: ${b.algorithm.reason}`)}"` : "";
    out.push(`  "${escapeDot(b.id)}" [label="${label}", fillcolor="${c.fill}", color="${c.stroke}"${tip}];`);
  }
  for (const e of p.edges) out.push(`  "${escapeDot(e.from)}" -> "${escapeDot(e.to)}" [label="${escapeDot(e.label)}"];`);
  out.push("}");
  return `${out.join("\n")}\n`;
}
