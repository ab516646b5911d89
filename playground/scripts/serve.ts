// `npm run playground:serve`: serves playground/dist/ as plain static files on 127.0.0.1 and
// prints the URL. Nothing else: the page compiles and runs everything itself, so any static
// host serves it the same way. PORT sets the port (default 8080; 0 picks a free one).

import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { ROOT } from "./build.js";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".cnn": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

const dir = path.join(ROOT, "playground/dist");
if (!existsSync(path.join(dir, "index.html"))) {
  console.error("playground/dist is missing: run `npm run playground` first");
  process.exit(1);
}
const server = createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  const file = path.join(dir, rel.endsWith("/") ? `${rel}index.html` : rel);
  // Only files under dist/: no "..", no folders.
  if (!file.startsWith(dir + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
const port = Number(process.env.PORT ?? 8080);
server.listen(port, "127.0.0.1", () => {
  console.log(`cnnc playground: http://127.0.0.1:${(server.address() as AddressInfo).port}/  (Ctrl-C stops it)`);
});
