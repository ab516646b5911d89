// The editor: CodeMirror 6 with the `.cnn` grammar (cnn-language.ts) and the compiler's
// diagnostics as lint markers. The lint source is the compile itself: CodeMirror calls it a
// moment after the last keystroke (the debounce), it sends the text to the worker, and the
// markers carry formatDiagnostic's text, the very lines `cnnc check` prints.

import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput } from "@codemirror/language";
import { type Diagnostic, forEachDiagnostic, linter, lintGutter } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import { cnn } from "./cnn-language.js";
import type { Marker } from "./protocol.js";

/** Compiles the text; resolves to its markers (the page updates its pictures on the way). */
export type CompileText = (text: string) => Promise<readonly Marker[]>;

/** How long after the last edit the source is compiled. */
export const DEBOUNCE_MS = 350;

function toDiagnostic(m: Marker, length: number): Diagnostic {
  const from = Math.min(m.from, length);
  const to = Math.min(Math.max(m.to, from), length);
  return {
    from,
    to,
    severity: m.severity,
    source: "cnnc",
    message: m.text,
    // The CLI's lines, caret included, need a fixed-width font to line up.
    renderMessage: () => {
      const pre = document.createElement("pre");
      pre.className = "cnnc-diagnostic";
      pre.textContent = m.text;
      return pre;
    },
  };
}

export function createEditor(parent: HTMLElement, text: string, compileText: CompileText): EditorView {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        cnn(),
        lintGutter(),
        linter(async (view) => (await compileText(view.state.doc.toString())).map((m) => toDiagnostic(m, view.state.doc.length)), { delay: DEBOUNCE_MS }),
        EditorView.theme({ "&": { height: "100%" }, ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" } }),
      ],
    }),
  });
}

/** Replaces the whole text (an example chosen from the menu). */
export function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, selection: { anchor: 0 } });
}

/** The markers now shown, as the lint state holds them (for tests and the status line). */
export function shownDiagnostics(view: EditorView): { from: number; to: number; severity: string; message: string }[] {
  const out: { from: number; to: number; severity: string; message: string }[] = [];
  forEachDiagnostic(view.state, (d, from, to) => out.push({ from, to, severity: d.severity, message: d.message }));
  return out;
}
