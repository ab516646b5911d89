// TensorFlow.js on its WebAssembly backend (XNNPACK kernels, SIMD, one thread) as a peer.
// The network is rebuilt from the bench's layer list with tfjs ops in tfjs's native layout,
// NHWC (1-D as NHWC with H = 1, 3-D as NDHWC): weights are transposed to HWIO once when the
// graph is built, the input is transposed once before timing, and the output is transposed
// back only for the agreement check, so the timed region holds no layout change. Conv / depthwise / dense
// followed by ReLU use tfjs's fused ops (bias and activation inside the XNNPACK call), as a
// tfjs user would; 3-D convolution has no fused form, so bias and ReLU are separate ops.
// The threaded binary is switched off (WASM_HAS_MULTITHREAD_SUPPORT = false) and the thread
// count set to one before the backend starts, so tfjs runs tfjs-backend-wasm-simd.wasm.

import { readFileSync } from "node:fs";
import { readSafetensors } from "../../compiler/tensors/safetensors.js";
import type { NetworkSpec, Step, Tensor } from "../networks.js";
import { findNetwork, steps } from "../networks.js";
import { requirePeer } from "./resolve.js";
import type { Prepared, Runner } from "./runner.js";

// The slice of @tensorflow/tfjs-core the bench uses, typed exactly.
export interface TfTensor {
  readonly shape: number[];
  dataSync(): ArrayLike<number>;
  dispose(): void;
}

type Pad = "same" | "valid";
type Activation = "linear" | "relu";

interface TfCore {
  readonly version_core: string;
  env(): { set(flag: string, value: boolean): void; getBool(flag: string): boolean };
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  tensor(values: Float32Array, shape: readonly number[], dtype: "float32"): TfTensor;
  tidy(fn: () => TfTensor): TfTensor;
  conv3d(x: TfTensor, filter: TfTensor, strides: [number, number, number], pad: Pad): TfTensor;
  depthwiseConv2d(x: TfTensor, filter: TfTensor, strides: [number, number], pad: Pad): TfTensor;
  maxPool(x: TfTensor, filterSize: [number, number], strides: [number, number], pad: Pad): TfTensor;
  maxPool3d(x: TfTensor, filterSize: [number, number, number], strides: [number, number, number], pad: Pad): TfTensor;
  avgPool(x: TfTensor, filterSize: [number, number], strides: [number, number], pad: Pad): TfTensor;
  add(a: TfTensor, b: TfTensor): TfTensor;
  mul(a: TfTensor, b: number): TfTensor;
  square(x: TfTensor): TfTensor;
  sqrt(x: TfTensor): TfTensor;
  relu(x: TfTensor): TfTensor;
  softmax(x: TfTensor): TfTensor;
  reshape(x: TfTensor, shape: number[]): TfTensor;
  fused: {
    conv2d(args: { x: TfTensor; filter: TfTensor; strides: [number, number]; pad: Pad; bias?: TfTensor; activation?: Activation }): TfTensor;
    depthwiseConv2d(args: { x: TfTensor; filter: TfTensor; strides: [number, number]; pad: Pad; bias?: TfTensor; activation?: Activation }): TfTensor;
    matMul(args: { a: TfTensor; b: TfTensor; bias?: TfTensor; activation?: Activation }): TfTensor;
  };
}

interface TfWasm {
  readonly version_wasm: string;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return (typeof x === "object" || typeof x === "function") && x !== null;
}

let started: Promise<TfCore> | undefined;

/** Loads tfjs-core and tfjs-backend-wasm and starts the backend once per process, on one thread with SIMD. */
export function startTfjs(): Promise<TfCore> {
  started ??= (async () => {
    const core = requirePeer("@tensorflow/tfjs-core");
    const wasm = requirePeer("@tensorflow/tfjs-backend-wasm");
    if (!isObject(core) || typeof core.conv3d !== "function" || !isObject(core.fused)) throw new Error("@tensorflow/tfjs-core: unexpected exports");
    if (!isObject(wasm) || typeof wasm.setThreadsCount !== "function") throw new Error("@tensorflow/tfjs-backend-wasm: unexpected exports");
    const tf = core as unknown as TfCore;
    const backend = wasm as unknown as TfWasm;
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    backend.setThreadsCount(1);
    if (!(await tf.setBackend("wasm"))) throw new Error("tfjs: the wasm backend did not start");
    await tf.ready();
    if (tf.getBackend() !== "wasm") throw new Error(`tfjs: running on ${tf.getBackend()}, not wasm`);
    return tf;
  })();
  return started;
}

/** What the notes say about the tfjs setup (after startTfjs). */
export async function tfjsDetail(): Promise<string> {
  const tf = await startTfjs();
  const wasm = requirePeer("@tensorflow/tfjs-backend-wasm") as TfWasm;
  const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
  const threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? "threaded binary" : "non-threaded binary";
  return `@tensorflow/tfjs-backend-wasm ${wasm.version_wasm} (XNNPACK, SIMD ${simd ? "on" : "OFF"}, ${threads}, ${wasm.getThreadsCount()} thread)`;
}

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** [C, S1..Sd] (channels first) -> [S1..Sd, C] (channels last), the data only. */
export function toChannelsLast(data: Float32Array, shape: readonly number[]): Float32Array {
  const c = shape[0];
  const s = product(shape.slice(1));
  const out = new Float32Array(data.length);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < s; i++) out[i * c + ch] = data[ch * s + i];
  return out;
}

/** [S1..Sd, C] -> [C, S1..Sd]. */
export function toChannelsFirst(data: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const c = shape[0];
  const s = product(shape.slice(1));
  const out = new Float32Array(c * s);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < s; i++) out[ch * s + i] = data[i * c + ch];
  return out;
}

/** tfjs's batched NHWC shape for a logical [C, S..] shape (1-D as H = 1). */
export function tfShape(shape: readonly number[]): number[] {
  const spatial = shape.slice(1);
  if (spatial.length === 0) return [1, shape[0]];
  return [1, ...(spatial.length === 1 ? [1, spatial[0]] : spatial), shape[0]];
}

/** [O, I, k1..kd] -> [k1..kd, I, O] (HWIO / DHWIO); 1-D kernels get a leading 1 (H). */
function kernelToTf(t: Tensor): { data: Float32Array; shape: number[] } {
  const [o, i, ...k] = t.shape;
  const ks = product(k);
  const data = new Float32Array(t.data.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let p = 0; p < ks; p++) data[(p * i + b) * o + a] = t.data[(a * i + b) * ks + p];
  return { data, shape: [...(k.length === 1 ? [1] : []), ...k, i, o] };
}

function pair(xs: readonly number[]): [number, number] {
  return xs.length === 1 ? [1, xs[0]] : [xs[0], xs[1]];
}

function triple(xs: readonly number[]): [number, number, number] {
  return [xs[0], xs[1], xs[2]];
}

type Op = (x: TfTensor, input: TfTensor) => TfTensor;

/** The network as tfjs ops on NHWC tensors, plus the weight tensors it holds (kept until dispose). */
export function buildTfjs(tf: TfCore, spec: NetworkSpec, weights: ReadonlyMap<string, Tensor>): { ops: Op[]; held: TfTensor[] } {
  const held: TfTensor[] = [];
  const keep = (data: Float32Array, shape: readonly number[]): TfTensor => {
    const t = tf.tensor(data, shape, "float32");
    held.push(t);
    return t;
  };
  const need = (name: string): Tensor => {
    const t = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    return t;
  };
  const list = steps(spec);
  const ops: Op[] = [];
  /** The logical [C, S..] shape that a pending flatten came from (NHWC order differs from cnnc's CHW). */
  let flattenedFrom: readonly number[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const step: Step = list[i];
    const layer = step.layer;
    const fuseRelu = list[i + 1]?.layer.kind === "relu" && (layer.kind === "conv" || layer.kind === "dense");
    const activation: Activation = fuseRelu ? "relu" : "linear";
    if (fuseRelu) i++;
    switch (layer.kind) {
      case "conv": {
        const w = need(`${layer.label}.weight`);
        const b = layer.bias ? need(`${layer.label}.bias`) : undefined;
        const k = kernelToTf(w);
        const d = layer.kernel.length;
        if (layer.groups === "depthwise") {
          if (d === 3) throw new Error("3-D depthwise convolution is not in tfjs");
          // [C, 1, k..] -> [k.., C, 1]: kernelToTf gives [k.., 1, C]; same bytes, tfjs wants [k.., C, 1].
          const filter = keep(k.data, [...k.shape.slice(0, -2), k.shape[k.shape.length - 1], 1]);
          const bias = b ? keep(b.data, b.shape) : undefined;
          const strides = pair(layer.stride);
          const pad = layer.pad;
          ops.push((x) =>
            bias || fuseRelu ? tf.fused.depthwiseConv2d({ x, filter, strides, pad, bias, activation }) : tf.depthwiseConv2d(x, filter, strides, pad),
          );
        } else if (d === 3) {
          const filter = keep(k.data, k.shape);
          const bias = b ? keep(b.data, b.shape) : undefined;
          const strides = triple(layer.stride);
          const pad = layer.pad;
          ops.push((x) => {
            let y = tf.conv3d(x, filter, strides, pad);
            if (bias) y = tf.add(y, bias);
            return fuseRelu ? tf.relu(y) : y;
          });
        } else {
          const filter = keep(k.data, k.shape);
          const bias = b ? keep(b.data, b.shape) : undefined;
          const strides = pair(layer.stride);
          const pad = layer.pad;
          ops.push((x) => tf.fused.conv2d({ x, filter, strides, pad, bias, activation }));
        }
        break;
      }
      case "dense": {
        const w = need(`${layer.label}.weight`);
        const b = need(`${layer.label}.bias`);
        const [units, inputs] = w.shape;
        // cnnc flattens [C, S..] channel-major; tfjs flattened [S.., C]: permute the columns to match.
        const from = flattenedFrom;
        const c = from ? from[0] : inputs;
        const s = inputs / c;
        const wt = new Float32Array(inputs * units); // [inputs (tfjs order), units]
        for (let u = 0; u < units; u++) {
          for (let ch = 0; ch < c; ch++) for (let p = 0; p < s; p++) wt[(p * c + ch) * units + u] = w.data[u * inputs + ch * s + p];
        }
        flattenedFrom = undefined;
        const weight = keep(wt, [inputs, units]);
        const bias = keep(b.data, b.shape);
        ops.push((x) => tf.fused.matMul({ a: x, b: weight, bias, activation }));
        break;
      }
      case "relu":
        ops.push((x) => tf.relu(x));
        break;
      case "maxpool": {
        const w = layer.window;
        if (w.length === 3) ops.push((x) => tf.maxPool3d(x, triple(w), triple(w), "valid"));
        else ops.push((x) => tf.maxPool(x, pair(w), pair(w), "valid"));
        break;
      }
      case "pool": {
        if (layer.window.length !== 2) throw new Error("tfjs: the pool cases are 2-D");
        const [w, st] = [pair(layer.window), pair(layer.stride)];
        const n = product(layer.window);
        if (layer.mode === "max") ops.push((x) => tf.maxPool(x, w, st, "valid"));
        else if (layer.mode === "avg") ops.push((x) => tf.avgPool(x, w, st, "valid"));
        // TensorFlow.js has no Lp pool: sqrt(n * avg(x^2)), as a model would write it.
        else ops.push((x) => tf.sqrt(tf.mul(tf.avgPool(tf.square(x), w, st, "valid"), n)));
        break;
      }
      case "flatten":
        flattenedFrom = step.inShape;
        ops.push((x) => tf.reshape(x, [1, product(step.inShape)]));
        break;
      case "softmax":
        ops.push((x) => tf.softmax(x));
        break;
      case "addInput":
        ops.push((x, input) => tf.add(x, input));
        break;
      default: {
        const never: never = layer;
        throw new Error(`unknown layer ${JSON.stringify(never)}`);
      }
    }
  }
  return { ops, held };
}

export async function tfjsRunner(): Promise<Runner> {
  const tf = await startTfjs();
  return {
    name: "tfjs-wasm",
    detail: await tfjsDetail(),
    async prepare(spec: NetworkSpec, weights: ReadonlyMap<string, Tensor>, input: Float32Array): Promise<Prepared> {
      const { ops, held } = buildTfjs(tf, spec, weights);
      const inShape = tfShape(spec.input.shape);
      const outLogical = steps(spec).at(-1)?.outShape ?? spec.input.shape;
      const nhwc = toChannelsLast(input, spec.input.shape);
      const infer = (): ArrayLike<number> => {
        const y = tf.tidy(() => {
          const x = tf.tensor(nhwc, inShape, "float32");
          return ops.reduce((h, op) => op(h, x), x);
        });
        const data = y.dataSync();
        y.dispose();
        return data;
      };
      return {
        run: async () => {
          infer();
        },
        output: async () => toChannelsFirst(infer(), outLogical),
        dispose: async () => {
          for (const t of held) t.dispose();
        },
      };
    },
  };
}

/** One inference in a fresh process, for the cold-start measurement: load tfjs, read the weights, build, run. */
export async function coldRunTfjs(network: string, weightsFile: string, input: Float32Array): Promise<Float32Array> {
  const spec = findNetwork(network);
  if (!spec) throw new Error(`unknown network ${network}`);
  const file = readSafetensors(new Uint8Array(readFileSync(weightsFile)), weightsFile);
  if (!file.ok) throw new Error(file.error);
  const tf = await startTfjs();
  const { ops } = buildTfjs(tf, spec, file.value);
  const nhwc = toChannelsLast(input, spec.input.shape);
  const y = tf.tidy(() => {
    const x = tf.tensor(nhwc, tfShape(spec.input.shape), "float32");
    return ops.reduce((h, op) => op(h, x), x);
  });
  const data = Float32Array.from(y.dataSync());
  y.dispose();
  return data;
}
