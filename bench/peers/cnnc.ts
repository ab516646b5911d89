// cnnc as the benchmark runs it: only the public API. compile(source, { weights }) with the
// network's seeded weights as a safetensors file, then load() on WebAssembly (one thread)
// and net.run(). Whatever the compiler's passes and kernels do today is what gets timed, so
// kernel work by others shows up here without touching the bench.

import { compile, formatDiagnostics } from "../../compiler/index.js";
import { writeSafetensors } from "../../compiler/tensors/safetensors.js";
import type { NetworkSpec, Tensor } from "../networks.js";
import type { Prepared, Runner } from "./runner.js";

/** The safetensors bytes cnnc reads: every weight the source does not define itself. */
export function safetensorsFor(weights: ReadonlyMap<string, Tensor & { readonly inFile?: boolean }>): Uint8Array {
  const file = new Map<string, Tensor>();
  for (const [name, t] of weights) if (t.inFile !== false) file.set(name, t);
  return writeSafetensors(file);
}

/**
 * cnnc as a browser gets it (the relaxed-SIMD build where the engine has relaxed SIMD, as
 * current browsers do; the bench turns it on in Node 20 to measure the FMA peak), or, with
 * `relaxed` false, the plain SIMD128 build (`load({ relaxedSimd: false })`).
 */
export function cnncRunner(relaxed = true): Runner {
  return {
    name: relaxed ? "cnnc" : "cnnc-simd128",
    detail: `compile() + load({ backend: "wasm"${relaxed ? "" : ", relaxedSimd: false"} }), one thread`,
    async prepare(spec: NetworkSpec, weights: ReadonlyMap<string, Tensor>, input: Float32Array): Promise<Prepared> {
      const result = compile(spec.source, { fileName: `${spec.name}.cnn`, weights: safetensorsFor(weights) });
      if (!result.ok) throw new Error(`does not compile: ${formatDiagnostics(result.diagnostics)}`);
      if (result.initialised.length > 0) throw new Error(`layers without weights from the file: ${result.initialised.join(", ")}`);
      // check "none": the peers do not scan their inputs for NaN either.
      const net = await result.load({ backend: "wasm", relaxedSimd: relaxed, check: "none" });
      const feeds = { [spec.input.name]: { data: input, shape: [1, ...spec.input.shape] } };
      const once = async (): Promise<Float32Array> => {
        const out = (await net.run(feeds))[spec.output];
        if (!out) throw new Error(`no output '${spec.output}'`);
        return out.data;
      };
      // The algorithm the compiler chose per convolution (the graph after its passes).
      const chosen = result.graph.nodes.filter((n) => n.algorithm).map((n) => `${n.layer}: ${n.algorithm?.name}`);
      return {
        note: chosen.length ? chosen.join(", ") : undefined,
        run: async () => {
          await once();
        },
        output: once,
        dispose: async () => net.dispose(),
      };
    },
  };
}
