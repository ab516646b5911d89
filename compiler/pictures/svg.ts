// The graph picture as a standalone SVG: boxes coloured by op family (a legend says which),
// titles in bold sans-serif, details in a monospaced font (graph.ts sized the boxes for it),
// edges as smooth curves through the layout's route with their tensor sizes on a white halo.
// Every piece of user text (layer and input names) is escaped. Each box is a <g> with
// data-id, data-family and data-layers, and a <title> with the algorithm's whole reason, so
// tests and the playground can find kernels and a browser shows the reason on hover.

import type { Family, GraphPicture, PictureBox, PictureEdge } from "./graph.js";
import { BODY_SIZE, FONT_MONO, FONT_SANS, LINE_GAP, monoWidth, TITLE_SIZE, titleWidth } from "./text.js";

/** Fill and stroke per family: light fills for black text, a darker edge of the same hue. */
export const COLOURS: Readonly<Record<Family, { readonly fill: string; readonly stroke: string; readonly name: string }>> = {
  input: { fill: "#f4f4f4", stroke: "#6b6b6b", name: "input / output" },
  output: { fill: "#f4f4f4", stroke: "#6b6b6b", name: "input / output" },
  conv: { fill: "#dce8f5", stroke: "#3a6ea5", name: "convolution" },
  pool: { fill: "#dcefdc", stroke: "#3d8b3d", name: "pooling" },
  dense: { fill: "#fde4c8", stroke: "#c06c00", name: "dense" },
  norm: { fill: "#ebdff3", stroke: "#7b4a99", name: "normalisation" },
  elementwise: { fill: "#f7f1c9", stroke: "#9a8400", name: "elementwise" },
  shape: { fill: "#ececec", stroke: "#8a8a8a", name: "shape" },
};

const PAD_X = 10;
const PAD_Y = 8;
const CAPTION = 26;
const LEGEND = 30;

/** Text for XML content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

const num = (x: number) => String(Math.round(x * 10) / 10);

function box(b: PictureBox, dy: number): string {
  const c = COLOURS[b.family];
  const left = b.x - b.width / 2;
  const top = b.y - b.height / 2 + dy;
  const io = b.family === "input" || b.family === "output";
  const rx = io ? Math.min(b.height / 2, 14) : 5;
  const out: string[] = [];
  out.push(`<g class="box" data-id="${escapeXml(b.id)}" data-family="${b.family}" data-layers="${escapeXml(b.layers.join(" "))}">`);
  const tip = [b.title, ...b.ops, ...(b.algorithm ? [`${b.algorithm.name}: ${b.algorithm.reason}`] : [])].join("\n");
  out.push(`<title>${escapeXml(tip)}</title>`);
  out.push(`<rect x="${num(left)}" y="${num(top)}" width="${num(b.width)}" height="${num(b.height)}" rx="${rx}" fill="${c.fill}" stroke="${c.stroke}" stroke-width="1.2"/>`);
  let y = top + PAD_Y + TITLE_SIZE - 2;
  out.push(`<text class="title" x="${num(b.x)}" y="${num(y)}" text-anchor="middle" font-family="${FONT_SANS}" font-weight="bold" font-size="${TITLE_SIZE}">${escapeXml(b.title)}</text>`);
  if (b.lines.length) y += LINE_GAP;
  for (const line of b.lines) {
    y += BODY_SIZE + LINE_GAP;
    const x = io ? b.x : left + PAD_X;
    out.push(`<text x="${num(x)}" y="${num(y)}"${io ? ' text-anchor="middle"' : ""} font-family="${FONT_MONO}" font-size="${BODY_SIZE}" xml:space="preserve">${escapeXml(line)}</text>`);
  }
  out.push("</g>");
  return out.join("\n");
}

/** A smooth path through the route (Catmull-Rom segments as cubic Béziers). */
function curve(points: readonly { x: number; y: number }[], dy: number): string {
  const p = points.map((q) => ({ x: q.x, y: q.y + dy }));
  if (p.length === 0) return "";
  let d = `M${num(p[0].x)},${num(p[0].y)}`;
  for (let i = 0; i < p.length - 1; i++) {
    const a = p[Math.max(i - 1, 0)];
    const b = p[i];
    const c = p[i + 1];
    const e = p[Math.min(i + 2, p.length - 1)];
    const c1 = { x: b.x + (c.x - a.x) / 6, y: b.y + (c.y - a.y) / 6 };
    const c2 = { x: c.x - (e.x - b.x) / 6, y: c.y - (e.y - b.y) / 6 };
    d += ` C${num(c1.x)},${num(c1.y)} ${num(c2.x)},${num(c2.y)} ${num(c.x)},${num(c.y)}`;
  }
  return d;
}

function edge(e: PictureEdge, dy: number): string {
  const size = BODY_SIZE - 1;
  const w = monoWidth(e.label, size) + 6;
  const h = size + 4;
  return [
    `<g class="edge" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}">`,
    `<path d="${curve(e.points, dy)}" fill="none" stroke="#555" stroke-width="1.1" marker-end="url(#arrow)"/>`,
    `<rect x="${num(e.labelX - w / 2)}" y="${num(e.labelY + dy - h / 2)}" width="${num(w)}" height="${num(h)}" fill="#fff" fill-opacity="0.9"/>`,
    `<text x="${num(e.labelX)}" y="${num(e.labelY + dy + size / 2 - 1.5)}" text-anchor="middle" font-family="${FONT_MONO}" font-size="${size}" fill="#444">${escapeXml(e.label)}</text>`,
    "</g>",
  ].join("\n");
}

function legend(families: readonly Family[], y: number): { svg: string; width: number } {
  const names = [...new Set(families.map((f) => COLOURS[f].name))];
  const parts: string[] = [];
  let x = 12;
  for (const name of names) {
    const f = (Object.keys(COLOURS) as Family[]).find((k) => COLOURS[k].name === name) as Family;
    parts.push(`<rect x="${x}" y="${y}" width="14" height="12" rx="2" fill="${COLOURS[f].fill}" stroke="${COLOURS[f].stroke}"/>`);
    parts.push(`<text x="${x + 19}" y="${y + 10}" font-family="${FONT_SANS}" font-size="${BODY_SIZE}">${escapeXml(name)}</text>`);
    x += 19 + titleWidth(name, BODY_SIZE) * 0.85 + 18;
  }
  return { svg: `<g class="legend">\n${parts.join("\n")}\n</g>`, width: x };
}

/** The picture as an SVG document (UTF-8 text). */
export function renderSvg(p: GraphPicture): string {
  const present = [...new Set(p.boxes.map((b) => b.family))];
  const order = Object.keys(COLOURS) as Family[];
  present.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const leg = legend(present, CAPTION + p.height + 6);
  const caption = `network ${p.name}`;
  const width = Math.ceil(Math.max(p.width, leg.width, titleWidth(caption) + 24));
  const height = Math.ceil(CAPTION + p.height + LEGEND);
  const dx = (width - p.width) / 2;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text class="caption" x="12" y="18" font-family="${FONT_SANS}" font-weight="bold" font-size="${TITLE_SIZE + 1}">${escapeXml(caption)}</text>`,
    `<g transform="translate(${num(dx)},0)">`,
    ...p.edges.map((e) => edge(e, CAPTION)),
    ...p.boxes.map((b) => box(b, CAPTION)),
    "</g>",
    leg.svg,
    "</svg>",
    "",
  ].join("\n");
}
