// Where a bundle's files (weights.bin, model.wasm, tables.bin, wgsl/*.wgsl) come from when a
// network loads: bytes the caller already holds (`files`), a URL (the generated index.js's
// literal `new URL("./file", import.meta.url)`, which bundlers rewrite to the emitted asset,
// or `baseUrl` + name), fetched with the caller's `fetch` or the global one. A file: URL (Node)
// is read with node:fs through a computed, bundler-ignored import, so nothing on the browser
// path names a `node:` module.

/** What `fetch` resolves to, as much of it as the runtime reads (a Response fits). */
export interface ResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A URL object (URL in browsers and Node), spelt structurally so that the types need no DOM or Node declarations. */
export interface UrlLike {
  readonly href: string;
}

/** One file given up front: its bytes, a Response to read them from, or its URL (as a bundler's file loader gives it), fetched only if needed. */
export type FileSource = Uint8Array | ArrayBuffer | ResponseLike | UrlLike | string;

/** How the loader fetches a URL: the global fetch by default; pass your own for a CDN, a cache, auth headers. */
export type FetchLike = (url: string) => Promise<ResponseLike>;

export interface FileOptions {
  /** Where the bundle's files are (a folder URL ending in "/"); default: beside the bundle's index.js. */
  readonly baseUrl?: string | UrlLike;
  /** Files already in hand, by their name in the bundle ("model.wasm", "weights.bin", "wgsl/0-conv.wgsl"); the others are fetched. */
  readonly files?: Readonly<Record<string, FileSource>>;
  /** Fetches every file not in `files` (default: globalThis.fetch; file: URLs in Node are read from disk). */
  readonly fetch?: FetchLike;
}

/** A file's URL as the generated index.js spells it (a literal, for bundlers), by name. */
export type FileUrls = Readonly<Record<string, () => UrlLike | string>>;

const href = (u: UrlLike | string): string => (typeof u === "string" ? u : u.href);

function isUrl(s: unknown): s is UrlLike {
  return typeof s === "object" && s !== null && typeof (s as UrlLike).href === "string";
}

function isResponse(s: FileSource): s is ResponseLike {
  return typeof (s as ResponseLike).arrayBuffer === "function" && !(s instanceof Uint8Array);
}

async function fromResponse(res: ResponseLike, where: string): Promise<Uint8Array> {
  if (!res.ok) throw new Error(`cannot fetch ${where}: ${res.status} ${res.statusText ?? ""}`.trimEnd());
  return new Uint8Array(await res.arrayBuffer());
}

/** Node only: a file: URL's bytes. The specifiers are computed so that bundlers for the web neither resolve nor warn. */
async function readFileUrl(url: URL): Promise<Uint8Array> {
  const fsName = "node:fs/promises";
  const urlName = "node:url";
  const fs = (await import(/* webpackIgnore: true */ /* @vite-ignore */ fsName)) as { readFile(path: string): Promise<Uint8Array> };
  const { fileURLToPath } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ urlName)) as { fileURLToPath(u: URL): string };
  return new Uint8Array(await fs.readFile(fileURLToPath(url)));
}

/** Reads bundle file `name`: from `options.files`, else from `baseUrl` + name, else from the bundle's own URL for it. */
export async function readFile(name: string, urls: FileUrls | UrlLike, options: FileOptions): Promise<Uint8Array> {
  const given = options.files?.[name];
  if (given !== undefined) {
    if (given instanceof Uint8Array) return given;
    if (given instanceof ArrayBuffer) return new Uint8Array(given);
    if (typeof given === "string" || isUrl(given)) return fetchUrl(new URL(href(given), pageUrl()), options);
    if (isResponse(given)) return fromResponse(given, name);
    throw new Error(`files[${JSON.stringify(name)}] must be a Uint8Array, an ArrayBuffer, a Response or a URL`);
  }
  return fetchUrl(fileUrl(name, urls, options), options);
}

/** The page's URL in a browser (root-relative URLs resolve against it), undefined elsewhere. */
function pageUrl(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

async function fetchUrl(url: URL, options: FileOptions): Promise<Uint8Array> {
  if (url.protocol === "file:" && !options.fetch) return readFileUrl(url);
  const fetchIt: FetchLike | undefined = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (!fetchIt) throw new Error(`no fetch() to load ${url.href} with; pass load({ fetch }) or load({ files })`);
  return fromResponse(await fetchIt(url.href), url.href);
}

function fileUrl(name: string, urls: FileUrls | UrlLike, options: FileOptions): URL {
  const loc = pageUrl();
  if (options.baseUrl !== undefined) {
    const base = href(options.baseUrl);
    return new URL(name, new URL(base.endsWith("/") ? base : `${base}/`, loc));
  }
  if (isUrl(urls)) return new URL(name, urls.href);
  const of = urls[name];
  if (!of) throw new Error(`the bundle has no file ${JSON.stringify(name)}`);
  // A bundler may have rewritten the URL to a root-relative string: resolve it against the page.
  return new URL(href(of()), loc);
}
