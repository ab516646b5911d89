// Runs the compiled network on WebGPU and on WebAssembly side by side, in the page (WebGPU
// lives here; the worker only compiles). Each backend loads the worker's files once per
// compile; a run times itself: one warm-up, then runs until about 200 ms or 20 runs have
// passed, and the median counts. A backend that cannot load (no WebGPU adapter) says why.

import { networkFromArtifacts } from "../../runtime/load.js";
import type { Network, Outputs, TensorData } from "../../runtime/session.js";
import type { Compiled } from "./protocol.js";

export const BACKENDS = ["webgpu", "wasm"] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendRun {
  readonly backend: BackendName;
  /** What the runtime says it runs on ("WebAssembly SIMD128, relaxed SIMD ..."). */
  readonly description?: string;
  readonly medianMs?: number;
  readonly runs?: number;
  readonly outputs?: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: number[] }>>;
  /** Why it could not run: "WebGPU unavailable: ...". */
  readonly error?: string;
}

type Loaded = { readonly network: Network } | { readonly error: string };

export class Runner {
  private loaded = new Map<BackendName, Promise<Loaded>>();

  /** Loads both backends for a newly compiled network, disposing the previous ones. */
  async use(network: NonNullable<Compiled["network"]>): Promise<void> {
    await this.dispose();
    for (const backend of BACKENDS) {
      this.loaded.set(
        backend,
        networkFromArtifacts(network.manifest, network.files, { backend }).then(
          (n): Loaded => ({ network: n }),
          (e: Error): Loaded => ({ error: backend === "webgpu" ? `WebGPU unavailable: ${e.message}` : e.message }),
        ),
      );
    }
  }

  async run(backend: BackendName, inputs: Readonly<Record<string, TensorData>>): Promise<BackendRun> {
    const loaded = await this.loaded.get(backend);
    if (!loaded) return { backend, error: "nothing compiled yet" };
    if ("error" in loaded) return { backend, error: loaded.error };
    const net = loaded.network;
    try {
      let out: Outputs = await net.run(inputs);
      const times: number[] = [];
      const start = performance.now();
      while (times.length < 20 && (times.length < 3 || performance.now() - start < 200)) {
        const t = performance.now();
        out = await net.run(inputs);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const outputs = Object.fromEntries(Object.entries(out).map(([n, t]) => [n, { shape: t.shape, data: Array.from(t.data) }]));
      return { backend, description: net.description, medianMs: times[times.length >> 1], runs: times.length, outputs };
    } catch (e) {
      return { backend, error: (e as Error).message };
    }
  }

  async dispose(): Promise<void> {
    const old = [...this.loaded.values()];
    this.loaded.clear();
    for (const l of await Promise.all(old)) if ("network" in l) l.network.dispose();
  }
}
