// The `.cnn` language for CodeMirror: a StreamLanguage tokenizer that follows dsl/tokens.ts
// (comments, strings, keywords, sizes like 5x5, numbers, `|>` and `->`), plus what a reader
// looks for in a network: an op being called (`conv(`), a layer's label (`conv1:` before an
// op) and the element type (`f32`). Block comments may span lines, so that is the one state
// carried from line to line.

import { HighlightStyle, StreamLanguage, type StringStream, syntaxHighlighting } from "@codemirror/language";
import type { Extension } from "@codemirror/state";
import { tags as t } from "@lezer/highlight";

const KEYWORDS = new Set(["network", "block", "return", "repeat", "from", "as", "weights", "train", "const"]);
const ATOMS = new Set(["true", "false"]);
const TYPES = new Set(["f32"]);

interface State {
  inComment: boolean;
}

function token(stream: StringStream, state: State): string | null {
  if (state.inComment) {
    if (stream.skipTo("*/")) {
      stream.pos += 2;
      state.inComment = false;
    } else stream.skipToEnd();
    return "blockComment";
  }
  if (stream.eatSpace()) return null;
  if (stream.match("//")) {
    stream.skipToEnd();
    return "lineComment";
  }
  if (stream.match("/*")) {
    state.inComment = true;
    return token(stream, state) ?? "blockComment";
  }
  if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return "string";
  if (stream.match(/^\d+(?:x\d+)+/)) return "number";
  if (stream.match(/^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/)) return "number";
  if (stream.match("|>") || stream.match("->")) return "operator";
  const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
  if (word) {
    const w = word[0];
    if (KEYWORDS.has(w)) return "keyword";
    if (ATOMS.has(w)) return "atom";
    if (TYPES.has(w)) return "typeName";
    if (stream.match(/^\s*\(/, false)) return "variableName.function";
    // `conv1: conv(...)`: a label names the layer; `pad: same` is an argument name.
    if (stream.match(/^\s*:\s*[A-Za-z_][A-Za-z0-9_]*\s*\(/, false)) return "labelName";
    if (stream.match(/^\s*:/, false)) return "propertyName";
    return "variableName";
  }
  if (stream.match(/^[-+*=:,;()[\]{}]/)) return "punctuation";
  stream.next();
  return "invalid";
}

export const cnnLanguage = StreamLanguage.define<State>({
  name: "cnn",
  startState: () => ({ inComment: false }),
  copyState: (s) => ({ ...s }),
  token,
  languageData: { commentTokens: { line: "//", block: { open: "/*", close: "*/" } } },
});

const style = HighlightStyle.define([
  { tag: t.keyword, color: "#8a2be2", fontWeight: "bold" },
  { tag: [t.lineComment, t.blockComment], color: "#6a737d", fontStyle: "italic" },
  { tag: t.string, color: "#22863a" },
  { tag: t.number, color: "#005cc5" },
  { tag: t.atom, color: "#005cc5" },
  { tag: t.typeName, color: "#b35900" },
  { tag: t.function(t.variableName), color: "#d73a49" },
  { tag: t.labelName, color: "#b31d28", fontWeight: "bold" },
  { tag: t.propertyName, color: "#6f42c1" },
  { tag: t.operator, color: "#e36209", fontWeight: "bold" },
  { tag: t.invalid, color: "#ffffff", backgroundColor: "#cb2431" },
]);

/** The language and its colours. */
export function cnn(): Extension {
  return [cnnLanguage, syntaxHighlighting(style)];
}
