// The optimised plan as a picture, for the playground until a shared picture module exists:
// one box per kernel (plan step) in execution order, top to bottom, each naming its layer,
// the layers fused into it, its algorithm and its output shape; an arrow from the kernel
// that wrote each input. Laid out in one column (a plan is a list), so no layout library.
// Every text is escaped: layer names come from the user's source.

import type { Graph } from "../../compiler/ir/graph.js";
import { printShape } from "../../compiler/ir/dim.js";
import { opLabel } from "../../compiler/ir/print.js";
import type { Plan } from "../../compiler/plan/plan.js";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const BOX_W = 340;
const BOX_H = 58;
const GAP = 26;
const X = 40;

export function planSvg(plan: Plan, graph: Graph): string {
  const writer = new Map<number, number>();
  const parts: string[] = [];
  const top = (i: number) => 34 + i * (BOX_H + GAP);
  plan.inputs.forEach((io) => writer.set(io.buffer, -1));
  parts.push(`<text x="${X}" y="18" class="io" fill="#57606a">${esc(plan.inputs.map((i) => `${i.name} ${printShape(i.shape)}`).join(", "))}</text>`);
  plan.steps.forEach((step, i) => {
    const node = graph.nodes.find((n) => n.layer === step.layer);
    const fused = node?.fused?.length ? ` + ${node.fused.join(", ")}` : "";
    const algorithm = step.algorithm ? ` · ${step.algorithm.name}` : "";
    const y = top(i);
    for (const input of step.inputs) {
      const from = writer.get(input.buffer);
      const y0 = from === undefined || from < 0 ? 22 : top(from) + BOX_H;
      // A skip connection (from a kernel further up than the one above) bends out to the right.
      if (from !== undefined && from >= 0 && from < i - 1) {
        parts.push(`<path class="edge" fill="none" stroke="#57606a" d="M ${X + BOX_W} ${y0 - BOX_H / 2} C ${X + BOX_W + 40} ${y0 - BOX_H / 2}, ${X + BOX_W + 40} ${y + BOX_H / 2}, ${X + BOX_W} ${y + BOX_H / 2}" marker-end="url(#arrow)"/>`);
      } else parts.push(`<line class="edge" stroke="#57606a" x1="${X + BOX_W / 2}" y1="${y0}" x2="${X + BOX_W / 2}" y2="${y}" marker-end="url(#arrow)"/>`);
    }
    writer.set(step.output.buffer, i);
    parts.push(
      `<g class="kernel" data-layer="${esc(step.layer)}"><title>${esc(`${step.layer}: ${opLabel(step.op)}${fused}${step.algorithm ? `\n${step.algorithm.name}: ${step.algorithm.reason}` : ""}`)}</title>` +
        `<rect x="${X}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="6" fill="#ddf4ff" stroke="#0969da"/>` +
        `<text x="${X + 10}" y="${y + 22}" class="layer" font-weight="bold">${esc(step.layer + fused)}</text>` +
        `<text x="${X + 10}" y="${y + 44}" class="detail">${esc(`${opLabel(step.op)}${algorithm} → ${printShape(step.output.shape)}`)}</text></g>`,
    );
  });
  const height = top(plan.steps.length) + 10;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="plan" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12" width="${BOX_W + X * 2 + 40}" height="${height}" viewBox="0 0 ${BOX_W + X * 2 + 40} ${height}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>` +
    parts.join("") +
    `</svg>`
  );
}
