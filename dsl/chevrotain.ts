// chevrotain's values, from its single-file bundle (lib/chevrotain.min.mjs) instead of its
// package entry: the entry is hundreds of small modules (lodash-es among them) whose loading
// took about 0.4 s of CPU on every `cnnc check`; the bundle, the same code, takes a few ms.
// The package's exports map hides the file, so it is found beside the resolved entry
// (lib/src/api.js), falling back to the entry if a future version moves it. Types still come
// from "chevrotain" itself (`import type`). Outside Node (the browser entry) there is no file
// to look beside, so the package entry is imported and the web bundler picks the file.

type Chevrotain = typeof import("chevrotain");

/** Node: the single-file bundle where it is. Browsers (and a moved bundle): the package entry, which a web bundler resolves (the playground's build points it at the same single file). */
async function loadChevrotain(): Promise<Chevrotain> {
  if (typeof process !== "undefined" && process.versions?.node) {
    // Computed specifiers, so that a bundler for the web neither resolves nor carries node:
    // modules (the browser entry, compiler/browser.ts, reaches this file).
    const [moduleName, fsName, pathName, urlName] = ["node:module", "node:fs", "node:path", "node:url"];
    const { createRequire } = (await import(/* @vite-ignore */ moduleName)) as typeof import("node:module");
    const { existsSync } = (await import(/* @vite-ignore */ fsName)) as typeof import("node:fs");
    const path = (await import(/* @vite-ignore */ pathName)) as typeof import("node:path");
    const { pathToFileURL } = (await import(/* @vite-ignore */ urlName)) as typeof import("node:url");
    const entry = createRequire(import.meta.url).resolve("chevrotain");
    const bundle = path.join(path.dirname(entry), "..", "chevrotain.min.mjs");
    if (existsSync(bundle)) return (await import(/* @vite-ignore */ pathToFileURL(bundle).href)) as Chevrotain;
  }
  return import("chevrotain");
}

const chevrotain = await loadChevrotain();

export const { createToken, createTokenInstance, CstParser, EOF, Lexer } = chevrotain;
