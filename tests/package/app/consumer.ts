// A strict TypeScript consumer of the generated index.d.ts: typed by the network's input and
// output names, with shapes as tuple types. Compiled with skipLibCheck: false.
import { load, type LenetOutputs } from "./lenet/index.js";

export async function classify(pixels: Float32Array): Promise<number> {
  const net = await load({ backend: "wasm", baseUrl: "/models/lenet/", fetch: (url) => fetch(url) });
  const out: LenetOutputs = await net.run({ image: { data: pixels, shape: [1, 28, 28] } });
  const [batch, classes]: readonly [number, 10] = out.probs.shape;
  // @ts-expect-error: LeNet takes one channel
  await net.run({ image: { data: pixels, shape: [3, 28, 28] } });
  // @ts-expect-error: there is no input named "img"
  await net.run({ img: { data: pixels, shape: [1, 28, 28] } });
  net.dispose();
  // The global fetch fits `fetch`; `files` takes bytes, Responses and URLs.
  const other = await load({ fetch, files: { "weights.bin": new Uint8Array(4), "tables.bin": await fetch("/t.bin"), "model.wasm": new URL("https://cdn.example.com/model.wasm") } });
  other.dispose();
  return batch * classes;
}
