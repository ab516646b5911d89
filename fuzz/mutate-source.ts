// Mutations of .cnn programs: the examples, edited the way a user (or an attacker) might get
// them wrong. Numbers become extreme or fractional, names become JavaScript's own property
// names, stages are stacked or cut, lines duplicated, and bytes spliced in. Each mutation
// works on tokens (words, numbers, punctuation), so most results still parse and reach the
// later phases, where the hard cases are.

import { int, pick, type Rng } from "./random.js";

const NUMBERS = ["0", "-1", "1", "2.5", "0.5", "1e308", "1e999", "2147483648", "2147483647", "4294967296", "99999999999", "65536", "100000", "1001", "3", "7", "64"];
const NAMES = ["__proto__", "constructor", "toString", "H", "W", "x", "relu", "conv", "same", "valid", "undefined", "NaN"];
const STAGES = [
  "|> relu", "|> maxpool(2x2)", "|> avgpool(2x2, stride: 2)", "|> conv(4, 3x3, pad: same)", "|> depthwise(3x3)",
  "|> batchnorm", "|> softmax", "|> flatten |> dense(10)", "|> upsample(2)", "|> maxpool(65536x65536)",
  "|> avgpool(out: 10000000000)", "|> conv(32, 1001, pad: same)", "|> depthwise(3x3, multiplier: 100000000)",
  "|> dense(10000000)", "|> conv(1, 1x2)", "|> conv(2, 3x3, dilation: 1000000)", "|> global_avgpool",
];
const JUNK = ["(", ")", "[", "]", "{", "}", ",", ":", "x", "|>", "+", "*", "-", "\"", "\u0000", "\u00e9", "/*", "\n", "@"];

/** Tokens with the whitespace between them kept, so that joining them gives back the text. */
function tokens(text: string): string[] {
  return text.match(/\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:x\d+)*|\|>|->|"[^"\n]*"|\/\/[^\n]*|./g) ?? [];
}

const isNumber = (t: string) => /^\d/.test(t);
const isName = (t: string) => /^[A-Za-z_]/.test(t);

/** One mutation of the token list, in place. */
function mutateOnce(r: Rng, ts: string[]): void {
  const at = (pred: (t: string) => boolean): number | undefined => {
    const idx = ts.flatMap((t, i) => (pred(t) ? [i] : []));
    return idx.length ? pick(r, idx) : undefined;
  };
  switch (int(r, 9)) {
    case 0:
    case 1: {
      const i = at(isNumber);
      if (i !== undefined) ts[i] = r() < 0.3 && ts[i].includes("x") ? ts[i].split("x").map(() => pick(r, NUMBERS)).join("x") : pick(r, NUMBERS);
      return;
    }
    case 2: {
      const i = at(isName);
      if (i !== undefined) ts[i] = pick(r, NAMES);
      return;
    }
    case 3: {
      // A stage added after a pipe or before the end of a line.
      const i = at((t) => t === "|>" || t.includes("\n"));
      if (i !== undefined) ts.splice(i, 0, ` ${pick(r, STAGES)} `);
      return;
    }
    case 4: {
      const i = int(r, ts.length);
      ts.splice(i, 1 + int(r, 3));
      return;
    }
    case 5: {
      const i = int(r, ts.length);
      ts.splice(i, 0, pick(r, JUNK));
      return;
    }
    case 6: {
      // A line duplicated: names bound twice, layers twice.
      const text = ts.join("");
      const lines = text.split("\n");
      const l = int(r, lines.length);
      lines.splice(l, 0, lines[l]);
      ts.splice(0, ts.length, ...tokens(lines.join("\n")));
      return;
    }
    case 7: {
      // A long chain: stacked pools on symbolic sizes, or many cheap stages.
      const i = at((t) => t === "|>");
      const stage = pick(r, ["|> maxpool(2x2) ", "|> relu ", "|> avgpool(2x2) "]);
      if (i !== undefined) ts.splice(i, 0, stage.repeat(1 + int(r, 24)));
      return;
    }
    default: {
      // An input dimension replaced: sizes turned symbolic or enormous.
      const i = at((t) => t === "f32");
      if (i === undefined) return;
      const close = ts.indexOf("]", i);
      const dims = Array.from({ length: 2 + int(r, 3) }, (_, k) => (k > 0 && r() < 0.4 ? pick(r, ["H", "W", "D", "__proto__"]) : pick(r, NUMBERS)));
      ts.splice(i, close - i + 1, `f32[${dims.join(", ")}]`);
    }
  }
}

export function mutateSource(r: Rng, text: string): string {
  const ts = tokens(text);
  const n = 1 + int(r, 3);
  for (let k = 0; k < n; k++) mutateOnce(r, ts);
  return ts.join("");
}
