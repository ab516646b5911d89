// The fixture apps' shared part: runs the LeNet bundle on a fixed input and leaves the result
// (or the error) on `window.result` for the test to read, then sets `window.pageReady`.
export async function runLenet(load, options) {
  const data = Float32Array.from({ length: 28 * 28 }, (_, i) => Math.sin(i));
  try {
    const net = await load({ backend: "wasm", ...options });
    const out = await net.run({ image: { data, shape: [1, 28, 28] } });
    const fetched = performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname);
    window.result = { description: net.description, shape: out.probs.shape, data: Array.from(out.probs.data), fetched };
    net.dispose();
  } catch (e) {
    window.result = { error: String((e && e.stack) || e) };
  }
  window.pageReady = true;
}
