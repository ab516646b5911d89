// What the browser tests share: a static file server on 127.0.0.1 (a random port) and a
// headless Chromium with WebGPU on SwiftShader, driven by playwright-core. In CI a missing
// browser fails the tests; locally they are skipped without one.

import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CNNC_CHROMIUM ?? "/usr/bin/chromium";
export const haveBrowser = existsSync(CHROMIUM);

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".wgsl": "text/plain",
  ".bin": "application/octet-stream",
  ".ts": "text/plain",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".cnn": "text/plain",
};

/** Where a request's path goes: a file under the root, with extra headers; undefined is a 404. */
export type Route = (pathname: string) => { readonly file: string; readonly headers?: Readonly<Record<string, string>> } | undefined;

/** By default a path is the file it names, and "/" is index.html. */
const byPath: Route = (rel) => ({ file: rel === "/" ? "index.html" : rel });

export function serve(root: string, route: Route = byPath): Promise<Server> {
  const s = createServer((req, res) => {
    const to = route(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const file = to && path.join(root, to.file);
    if (!to || !file || !file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", ...to.headers });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve(s)));
}

export interface BrowserSession {
  readonly server: Server;
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/** Serves `dir` (its index.html sets `window.pageReady`), opens it in Chromium, waits until ready. */
export async function openPage(dir: string): Promise<BrowserSession> {
  const server = await serve(dir);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const profile = path.join(dir, "profile");
  mkdirSync(profile, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--use-angle=swiftshader",
      "--enable-unsafe-swiftshader",
      "--disable-gpu-sandbox",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const close = async () => {
    await context.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  try {
    await page.waitForFunction(() => (window as unknown as { pageReady?: boolean }).pageReady === true, undefined, { timeout: 30_000 });
  } catch {
    await close();
    throw new Error(`the page did not load: ${errors.join("; ")}`);
  }
  return { server, context, page, close };
}
