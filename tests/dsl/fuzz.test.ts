// The parser never throws, whatever it is given: seeded random token soup, every prefix of
// lenet, and lenet with random edits. Beyond not throwing, each result must be usable by a
// caller that looks at it anyway: diagnostics and AST spans inside the file, no "internal
// error", and an error whenever the text is not valid.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { badSpans, parseSource } from "./helpers.js";

/** mulberry32: a small seeded generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCABULARY = [
  ...["network", "block", "return", "repeat", "from", "as", "weights", "const", "true", "false"],
  ...["x", "y", "conv", "relu", "f32", "H", "pad", "same"],
  ...["1", "2.5", "1e-3", ".5", "5x5", "3x3x3", '"w.safetensors"', '"open', '"a\\q"'],
  ...["|>", "->", "-", "+", "*", "=", ":", ",", ";", "(", ")", "[", "]", "{", "}"],
  ...["@", "|", ".", "/*", "*/", "//", "\n", " ", "\t", "\u00e9"],
];

const LENET = readFileSync("examples/lenet.cnn", "utf8");

/** Parses and returns what is wrong with the outcome (empty when all is well). */
function problems(text: string): string[] {
  let r: ReturnType<typeof parseSource>;
  try {
    r = parseSource(text);
  } catch (e) {
    return [`threw ${String(e)}`];
  }
  const out = badSpans(r.program, text.length);
  for (const d of r.log.items) {
    if (!d.span || d.span.start < 0 || d.span.start > d.span.end || d.span.end > text.length) out.push(`diagnostic outside the file: ${d.message}`);
    if (d.message.startsWith("internal error")) out.push(d.message);
  }
  return out.map((p) => `${p}\n  in ${JSON.stringify(text)}`);
}

describe("the parser never throws", () => {
  it("on 400 sequences of random tokens", () => {
    const found: string[] = [];
    for (let seed = 0; seed < 400; seed++) {
      const next = random(seed);
      const words = Array.from({ length: Math.floor(next() * 60) }, () => VOCABULARY[Math.floor(next() * VOCABULARY.length)]);
      found.push(...problems(words.join(next() < 0.5 ? " " : "")));
    }
    expect(found).toEqual([]);
  });

  it("on every prefix of lenet, an error unless it ends after a whole declaration (the network, then its train block)", () => {
    const found: string[] = [];
    const code = LENET.indexOf("network");
    for (let end = 0; end <= LENET.length; end++) {
      const text = LENET.slice(0, end);
      found.push(...problems(text));
      // (Within the leading comments, a prefix may end on a lone `/`: no assertion there.)
      // Whole: every brace closed, and nothing but comments and space after the last one.
      const bare = text.replace(/\/\/[^\n]*/g, "");
      const closes = bare.split("}").length - 1;
      const whole = closes > 0 && closes === bare.split("{").length - 1 && bare.slice(bare.lastIndexOf("}") + 1).trim() === "";
      const broken = !whole;
      if (end > code && parseSource(text).log.hasErrors !== broken) found.push(`hasErrors should be ${broken} for ${JSON.stringify(text)}`);
    }
    expect(found).toEqual([]);
  });

  it("on 300 random edits of lenet (deletions, insertions, duplications)", () => {
    const found: string[] = [];
    for (let seed = 0; seed < 300; seed++) {
      const next = random(1_000_000 + seed);
      let text = LENET;
      for (let edits = 1 + Math.floor(next() * 4); edits > 0; edits--) {
        const at = Math.floor(next() * text.length);
        const kind = next();
        if (kind < 0.33) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 5));
        else if (kind < 0.66) text = text.slice(0, at) + VOCABULARY[Math.floor(next() * VOCABULARY.length)] + text.slice(at);
        else text = text.slice(0, at) + text.slice(at, at + 10) + text.slice(at);
      }
      found.push(...problems(text));
    }
    expect(found).toEqual([]);
  });

  it("on pathological nesting, long inputs and odd characters", () => {
    const texts = [
      "(".repeat(5000),
      `network n(x: f32[1]) -> y { y = ${"-".repeat(5000)}x }`,
      `network n(x: f32[1]) -> y { y = ${"f(".repeat(31)} }`,
      `network n(x: f32[1]) -> y { y = ${"repeat 1 from x as p {".repeat(30)} }`,
      `network n(x: f32[1]) -> y { y = x${" |> relu".repeat(5000)} }`,
      "\u0000\uFEFF\uD800\u2028 network",
      "network n(x: f32[1]) -> y { y = 😀 }",
    ];
    expect(texts.flatMap(problems)).toEqual([]);
  });
});
