// Text metrics for pictures drawn without a browser: boxes are sized before any renderer
// runs (the CLI has no DOM to measure with), so every line is set in a monospaced font, whose
// advance is a fixed fraction of the font size, and titles in a bold sans-serif estimated
// generously. Shared by the layout (graph.ts) and the SVG renderer (svg.ts).

export const FONT_MONO = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";
export const FONT_SANS = "'Helvetica Neue', Helvetica, Arial, 'DejaVu Sans', sans-serif";
export const TITLE_SIZE = 13;
export const BODY_SIZE = 11;
export const LINE_GAP = 4;
/** Advance of one monospaced character, in ems (0.6 in DejaVu Sans Mono, Menlo, Consolas). */
const MONO_ADVANCE = 0.602;
/** An upper estimate of a bold sans-serif character's advance, in ems. */
const SANS_BOLD_ADVANCE = 0.64;

export function monoWidth(text: string, size = BODY_SIZE): number {
  return text.length * size * MONO_ADVANCE;
}

export function titleWidth(text: string, size = TITLE_SIZE): number {
  return text.length * size * SANS_BOLD_ADVANCE;
}

/** Splits text into lines of at most `width` characters at spaces (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** `1.2 k`, `3.4 M`, `5.6 G`: a count for a picture, three significant digits. */
export function humanCount(n: number): string {
  const units = ["", " k", " M", " G", " T"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? String(Math.round(n)) : n.toPrecision(3)}${units[i]}`;
}

/** `3.1 KiB`: a byte count for a picture. */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toPrecision(3)} ${units[i]}`;
}
