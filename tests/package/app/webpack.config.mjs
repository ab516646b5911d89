// webpack 5: new URL("./file", import.meta.url) is an asset module out of the box, so nothing
// cnnc-specific is configured. Built with webpack's Node API here (`npx webpack --config
// webpack.config.mjs` reads the same file where webpack-cli is installed).
import { fileURLToPath } from "node:url";

export default {
  mode: "production",
  context: fileURLToPath(new URL(".", import.meta.url)),
  entry: "./main.js",
  output: { path: fileURLToPath(new URL("../webpack-out/", import.meta.url)), clean: true },
  // LeNet's weights are over webpack's 244 KB size hint.
  performance: { hints: false },
};
