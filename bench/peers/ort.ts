// ONNX Runtime as two peers: onnxruntime-web (its WebAssembly build: MLAS kernels, SIMD, one
// thread, the same code a browser runs) and onnxruntime-node (native CPU kernels, one intra-op
// and one inter-op thread) as the native reference. Both run the same ONNX model, built from
// the bench's layer list with the tests' protobuf writer (tests/onnx/model.ts), in ONNX's
// native NCHW layout with explicit pads, so no layout change is timed. Sessions use ORT's
// full graph optimisation (Conv+Relu fusion and the like), as a user of ORT would get.

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { attr, buildModel, type InitializerSpec, type NodeSpec } from "../../tests/onnx/model.js";
import type { NetworkSpec, Tensor } from "../networks.js";
import { steps } from "../networks.js";
import { peerDir, requirePeer } from "./resolve.js";
import type { Prepared, Runner } from "./runner.js";

// The slice of onnxruntime-common's API the bench uses, typed exactly.
export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
}

export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtSessionOptions {
  executionProviders: string[];
  graphOptimizationLevel: "disabled" | "basic" | "extended" | "all";
  executionMode: "sequential" | "parallel";
  intraOpNumThreads: number;
  interOpNumThreads: number;
}

export interface Ort {
  InferenceSession: { create(model: Uint8Array | string, options: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: {
    versions?: Record<string, string>;
    wasm?: { numThreads?: number; simd?: boolean; proxy?: boolean; wasmPaths?: string };
  };
}

export type OrtFlavour = "web" | "node";

export const ORT_PACKAGE: Readonly<Record<OrtFlavour, string>> = { web: "onnxruntime-web", node: "onnxruntime-node" };

function asOrt(m: unknown, name: string): Ort {
  const o = m as Partial<Ort> | null;
  if (!o || typeof o.InferenceSession?.create !== "function" || typeof o.Tensor !== "function") throw new Error(`${name}: unexpected exports`);
  return o as Ort;
}

const loaded = new Map<OrtFlavour, Ort>();

/** Loads one ORT flavour; the web one is set to one thread, SIMD, no proxy worker, its .wasm from the package's dist/. */
export function loadOrt(flavour: OrtFlavour, nativeFirst = true): Ort {
  const have = loaded.get(flavour);
  if (have) return have;
  const name = ORT_PACKAGE[flavour];
  if (flavour === "web" && nativeFirst && !loaded.has("node")) {
    // Both packages register their backends in one shared onnxruntime-common, and the first
    // to register a name keeps it even against a higher priority (onnxruntime-common 1.23):
    // loaded first, onnxruntime-web would own "cpu", and onnxruntime-node sessions would
    // silently run on WebAssembly. So the native one registers first whenever it is there
    // (not in a cold-start child, which loads one flavour only).
    try {
      loadOrt("node");
    } catch {
      // onnxruntime-node missing: onnxruntime-web alone is fine.
    }
  }
  const ort = asOrt(requirePeer(name), name);
  if (flavour === "web") {
    const wasm = ort.env.wasm;
    if (!wasm) throw new Error("onnxruntime-web: no env.wasm");
    wasm.numThreads = 1;
    wasm.proxy = false;
    wasm.simd = true; // the only build since 1.19; kept for older versions
    wasm.wasmPaths = pathToFileURL(path.join(peerDir(name), "dist") + path.sep).href;
  }
  loaded.set(flavour, ort);
  return ort;
}

export function sessionOptions(flavour: OrtFlavour): OrtSessionOptions {
  return {
    executionProviders: [flavour === "web" ? "wasm" : "cpu"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  };
}

/** The network as a serialised ONNX model: input "input" [1, C, D..], output "output". */
export function onnxModel(spec: NetworkSpec, weights: ReadonlyMap<string, Tensor>): Uint8Array {
  const nodes: NodeSpec[] = [];
  const initializers: InitializerSpec[] = [];
  let x = "input";
  let n = 0;
  const next = (): string => `t${n++}`;
  const need = (name: string): Tensor => {
    const t = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    initializers.push({ name, shape: t.shape, data: t.data });
    return t;
  };
  const list = steps(spec);
  for (const step of list) {
    const layer = step.layer;
    const y = next();
    switch (layer.kind) {
      case "conv": {
        need(`${layer.label}.weight`);
        const inputs = [x, `${layer.label}.weight`];
        if (layer.bias) {
          need(`${layer.label}.bias`);
          inputs.push(`${layer.label}.bias`);
        }
        nodes.push({
          op: "Conv",
          inputs,
          outputs: [y],
          attrs: [
            attr.ints("kernel_shape", layer.kernel),
            attr.ints("strides", layer.stride),
            attr.ints("pads", [...step.pads.map((p) => p[0]), ...step.pads.map((p) => p[1])]),
            attr.ints("dilations", layer.kernel.map(() => 1)),
            attr.int("group", layer.groups === "depthwise" ? step.inShape[0] : 1),
          ],
        });
        break;
      }
      case "relu":
        nodes.push({ op: "Relu", inputs: [x], outputs: [y] });
        break;
      case "maxpool":
        nodes.push({ op: "MaxPool", inputs: [x], outputs: [y], attrs: [attr.ints("kernel_shape", layer.window), attr.ints("strides", layer.window)] });
        break;
      case "pool": {
        const op = layer.mode === "max" ? "MaxPool" : layer.mode === "avg" ? "AveragePool" : "LpPool";
        const attrs = [attr.ints("kernel_shape", layer.window), attr.ints("strides", layer.stride)];
        nodes.push({ op, inputs: [x], outputs: [y], attrs: layer.mode === "lp" ? [...attrs, attr.int("p", 2)] : attrs });
        break;
      }
      case "flatten":
        nodes.push({ op: "Flatten", inputs: [x], outputs: [y], attrs: [attr.int("axis", 1)] });
        break;
      case "dense":
        need(`${layer.label}.weight`);
        need(`${layer.label}.bias`);
        nodes.push({ op: "Gemm", inputs: [x, `${layer.label}.weight`, `${layer.label}.bias`], outputs: [y], attrs: [attr.int("transB", 1)] });
        break;
      case "softmax":
        nodes.push({ op: "Softmax", inputs: [x], outputs: [y], attrs: [attr.int("axis", 1)] });
        break;
      case "addInput":
        nodes.push({ op: "Add", inputs: [x, "input"], outputs: [y] });
        break;
      default: {
        const never: never = layer;
        throw new Error(`unknown layer ${JSON.stringify(never)}`);
      }
    }
    x = y;
  }
  nodes.push({ op: "Identity", inputs: [x], outputs: ["output"] });
  const out = list.at(-1)?.outShape ?? spec.input.shape;
  return buildModel({
    nodes,
    inputs: [{ name: "input", shape: [1, ...spec.input.shape] }],
    outputs: [{ name: "output", shape: [1, ...out] }],
    initializers,
  });
}

export function ortRunner(flavour: OrtFlavour): Runner {
  const ort = loadOrt(flavour);
  const name = ORT_PACKAGE[flavour];
  const version = ort.env.versions?.[flavour] ?? ort.env.versions?.common ?? "?";
  return {
    name: flavour === "web" ? "ort-web" : "ort-node",
    detail:
      flavour === "web"
        ? `${name} ${version} (wasm EP, MLAS, SIMD, numThreads 1, graph optimisation all)`
        : `${name} ${version} (native CPU EP, intra-op 1 / inter-op 1 threads, graph optimisation all)`,
    async prepare(spec: NetworkSpec, weights: ReadonlyMap<string, Tensor>, input: Float32Array): Promise<Prepared> {
      const session = await ort.InferenceSession.create(onnxModel(spec, weights), sessionOptions(flavour));
      const dims = [1, ...spec.input.shape];
      const infer = async (): Promise<Float32Array> => {
        const out = (await session.run({ input: new ort.Tensor("float32", input, dims) })).output;
        if (!out || !(out.data instanceof Float32Array)) throw new Error("no float32 output");
        return out.data;
      };
      return {
        run: async () => {
          await infer();
        },
        output: infer,
        dispose: () => session.release(),
      };
    },
  };
}

/** One inference in a fresh process, for the cold-start measurement: load ORT, create the session from the file, run. */
export async function coldRunOrt(flavour: OrtFlavour, modelFile: string, input: Float32Array, dims: readonly number[]): Promise<Float32Array> {
  const ort = loadOrt(flavour, false);
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(modelFile)), sessionOptions(flavour));
  const out = (await session.run({ input: new ort.Tensor("float32", input, dims) })).output;
  if (!out || !(out.data instanceof Float32Array)) throw new Error("no float32 output");
  return out.data;
}
