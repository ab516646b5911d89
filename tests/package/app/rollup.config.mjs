// Rollup: @web/rollup-plugin-import-meta-assets emits each new URL("./file", import.meta.url)
// asset (hashed, under assets/) and rewrites the URL.
import { fileURLToPath } from "node:url";
import { importMetaAssets } from "@web/rollup-plugin-import-meta-assets";

export default {
  input: fileURLToPath(new URL("./main.js", import.meta.url)),
  output: { dir: fileURLToPath(new URL("../rollup-out/", import.meta.url)), format: "es" },
  plugins: [importMetaAssets()],
};
