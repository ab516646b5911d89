// chevrotain's values, from its single-file bundle (lib/chevrotain.min.mjs) instead of its
// package entry: the entry is hundreds of small modules (lodash-es among them) whose loading
// took about 0.4 s of CPU on every `cnnc check`; the bundle, the same code, takes a few ms.
// The package's exports map hides the file, so it is found beside the resolved entry
// (lib/src/api.js), falling back to the entry if a future version moves it. Types still come
// from "chevrotain" itself (`import type`).

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

type Chevrotain = typeof import("chevrotain");

async function loadChevrotain(): Promise<Chevrotain> {
  const entry = createRequire(import.meta.url).resolve("chevrotain");
  const bundle = path.join(path.dirname(entry), "..", "chevrotain.min.mjs");
  if (existsSync(bundle)) return (await import(pathToFileURL(bundle).href)) as Chevrotain;
  return import("chevrotain");
}

const chevrotain = await loadChevrotain();

export const { createToken, createTokenInstance, CstParser, EOF, Lexer } = chevrotain;
