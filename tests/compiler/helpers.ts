// Shared test helpers: compile a source and list its diagnostics as headlines.
import { analyse } from "../../compiler/index.js";
import { formatDiagnostic, headline } from "../../compiler/diagnostics.js";

export function headlines(source: string, fileName = "t.cnn"): string[] {
  return analyse(source, { fileName }).log.items.map(headline);
}

export function formatted(source: string, fileName = "t.cnn"): string[] {
  return analyse(source, { fileName }).log.items.map(formatDiagnostic);
}

/** A one-network source with a 2-D single-image input and the given body. */
export function net(body: string, input = "f32[1, 28, 28]"): string {
  return `network n(x: ${input}) -> y {\n${body}\n}\n`;
}
