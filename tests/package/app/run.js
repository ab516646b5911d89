// The fixture apps' shared part: runs LeNet bundles on a fixed input and leaves the results
// (or the error) on `window.result` for the test to read, then sets `window.pageReady`.
// jobs: [{ name, load, options }], each run in turn.
export async function runLenet(jobs) {
  const data = Float32Array.from({ length: 28 * 28 }, (_, i) => Math.sin(i));
  const runs = {};
  try {
    for (const { name, load, options } of jobs) {
      const net = await load(options);
      const out = await net.run({ image: { data, shape: [1, 28, 28] } });
      runs[name] = { backend: net.backend, description: net.description, shape: out.probs.shape, data: Array.from(out.probs.data) };
      net.dispose();
    }
    const fetched = performance.getEntriesByType("resource").map((e) => e.name);
    window.result = { runs, fetched };
  } catch (e) {
    window.result = { error: String((e && e.stack) || e) };
  }
  window.pageReady = true;
}
