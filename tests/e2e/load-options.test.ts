// load()'s file options on a written bundle, in Node: `files` (bytes, Responses, URLs),
// `baseUrl` with a custom `fetch` (a CDN, a cache), and that only the files the chosen backend
// needs are read: one WebAssembly module, no WGSL for WebAssembly.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBundle } from "../../compiler/bundle.js";
import { compile } from "../../compiler/index.js";
import type { LoadOptions } from "../../runtime/load.js";
import type { Network } from "../../runtime/session.js";
import { hasRelaxedSimd } from "../../runtime/wasm.js";

let dir = "";
let load: (options?: LoadOptions) => Promise<Network>;
const data = Float32Array.from({ length: 784 }, (_, i) => Math.cos(i));
let expected: Float32Array;

beforeAll(async () => {
  const r = compile(readFileSync("examples/lenet.cnn", "utf8"), { fileName: "lenet.cnn", target: "all" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  dir = mkdtempSync(path.join(tmpdir(), "cnnc-load-options-"));
  writeBundle(dir, r.artifacts);
  ({ load } = (await import(pathToFileURL(path.join(dir, "index.js")).href)) as { load: typeof load });
  const net = await load({ backend: "wasm" });
  expected = (await net.run({ image: { data, shape: [1, 28, 28] } })).probs.data;
  net.dispose();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fetch that serves the bundle folder under https://cdn.example/m/ and records what was asked. */
function cdn(asked: string[]) {
  return async (url: string) => {
    asked.push(url);
    const name = url.replace("https://cdn.example/m/", "");
    try {
      return new Response(readFileSync(path.join(dir, name)));
    } catch {
      return new Response(null, { status: 404, statusText: "Not Found" });
    }
  };
}

async function probs(net: Network): Promise<Float32Array> {
  const out = (await net.run({ image: { data, shape: [1, 28, 28] } })).probs.data;
  net.dispose();
  return out;
}

describe("load() file options", () => {
  it("baseUrl and a custom fetch: WebAssembly reads the weights, the tables and one module, no WGSL", async () => {
    const asked: string[] = [];
    const net = await load({ backend: "wasm", baseUrl: "https://cdn.example/m", fetch: cdn(asked) });
    expect(await probs(net)).toEqual(expected);
    const module = hasRelaxedSimd() ? "model.relaxed.wasm" : "model.wasm";
    expect(asked.map((u) => u.replace("https://cdn.example/m/", "")).sort()).toEqual([module, "tables.bin", "weights.bin"].sort());
  });

  it("relaxedSimd: false reads the plain module", async () => {
    const asked: string[] = [];
    await probs(await load({ backend: "wasm", relaxedSimd: false, baseUrl: "https://cdn.example/m/", fetch: cdn(asked) }));
    expect(asked.filter((u) => u.endsWith(".wasm"))).toEqual(["https://cdn.example/m/model.wasm"]);
  });

  it("files: bytes, a Response and a URL; the rest through fetch", async () => {
    const asked: string[] = [];
    const files = {
      "weights.bin": readFileSync(path.join(dir, "weights.bin")),
      "tables.bin": new Response(readFileSync(path.join(dir, "tables.bin"))),
      "model.wasm": new URL("https://cdn.example/m/model.wasm"),
    };
    const net = await load({ backend: "wasm", relaxedSimd: false, files, fetch: cdn(asked) });
    expect(await probs(net)).toEqual(expected);
    expect(asked).toEqual(["https://cdn.example/m/model.wasm"]);
  });

  it("a failed fetch says which URL", async () => {
    const fetch = async () => new Response(null, { status: 404, statusText: "Not Found" });
    await expect(load({ backend: "wasm", baseUrl: "https://cdn.example/none/", fetch })).rejects.toThrow("cannot fetch https://cdn.example/none/weights.bin: 404 Not Found");
  });
});
