#!/usr/bin/env node
// The `cnnc` command: runs the compiled CLI (build it with `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = new URL("../dist/compiler/cli.js", import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write("cnnc: the compiler is not built; run `npm run build` in the cnnc folder\n");
  process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
