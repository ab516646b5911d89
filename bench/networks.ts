// The networks of issue 6's benchmark, each written once and handed to every runtime: the
// .cnn source cnnc compiles, a runtime-neutral list of layers the peers' adapters translate
// (TensorFlow.js ops, an ONNX graph), the shapes after every layer (for the multiply-adds
// that GFLOP/s is computed from), seeded weights in cnnc's logical layout (PyTorch's:
// conv [O, C/groups, k..], dense [units, inputs]) and a seeded input. Weights come from
// cnnc's own initialisers (He-normal weights, uniform(-0.1, 0.1) biases, so that a bias
// mistake shows up in the output check), so all four runtimes compute the same function.
// `same` padding is TensorFlow's / ONNX SAME_UPPER (the odd pixel after), cnnc's definition.

import { he, initialise, uniform } from "../compiler/tensors/init.js";
import { namedKernel } from "../compiler/tensors/kernels.js";
import { Random } from "../compiler/tensors/random.js";

export type Layer =
  | {
      readonly kind: "conv";
      readonly label: string;
      readonly filters: number;
      readonly kernel: readonly number[];
      readonly stride: readonly number[];
      readonly pad: "same" | "valid";
      /** 1, or one group per input channel (depthwise, filters = channels). */
      readonly groups: 1 | "depthwise";
      readonly bias: boolean;
      /** "he": seeded weights written to the safetensors file; "gaussian": `weight: gaussian(sigma)` in the source. */
      readonly weight: { readonly kind: "he" } | { readonly kind: "gaussian"; readonly sigma: number };
    }
  | { readonly kind: "relu" }
  /** Max pooling with stride = window, no padding (cnnc's default). */
  | { readonly kind: "maxpool"; readonly window: readonly number[] }
  /** A pool with its own stride, no padding, floor mode (the `--pools` cases). */
  | { readonly kind: "pool"; readonly mode: "max" | "avg" | "lp"; readonly window: readonly number[]; readonly stride: readonly number[] }
  | { readonly kind: "flatten" }
  | { readonly kind: "dense"; readonly label: string; readonly units: number }
  /** Softmax over channels (the only use here is on a [10] vector). */
  | { readonly kind: "softmax" }
  /** Adds the network's input (a residual connection around everything before it). */
  | { readonly kind: "addInput" };

export interface NetworkSpec {
  readonly name: string;
  /** What the table's notes say the network is. */
  readonly description: string;
  readonly source: string;
  readonly input: { readonly name: string; readonly shape: readonly number[] };
  readonly output: string;
  readonly layers: readonly Layer[];
}

/** A layer with the shapes around it ([C, D1..Dd], no batch axis) and, for conv, the padding. */
export interface Step {
  readonly layer: Layer;
  readonly inShape: readonly number[];
  readonly outShape: readonly number[];
  /** conv only: [before, after] per spatial axis. */
  readonly pads: readonly (readonly [number, number])[];
  /** Multiply-adds of this layer as written (direct algorithm); 0 for layers without weights. */
  readonly macs: number;
}

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const conv = (label: string, filters: number, kernel: readonly number[], o: Partial<Extract<Layer, { kind: "conv" }>> = {}): Layer => ({
  kind: "conv",
  label,
  filters,
  kernel,
  stride: kernel.map(() => 1),
  pad: "valid",
  groups: 1,
  bias: true,
  weight: { kind: "he" },
  ...o,
});
const relu: Layer = { kind: "relu" };
const maxpool = (...window: number[]): Layer => ({ kind: "maxpool", window });

export const NETWORKS: readonly NetworkSpec[] = [
  {
    name: "lenet",
    description: "1x28x28, conv 6@5x5 same + relu + maxpool 2, conv 16@5x5 + relu + maxpool 2, dense 120, 84, 10, softmax",
    source: `network lenet(image: f32[1, 28, 28]) -> probs {
  c1 = image |> conv1: conv(6, 5x5, pad: same) |> relu |> maxpool(2x2, stride: 2)
  c2 = c1 |> conv2: conv(16, 5x5) |> relu |> maxpool(2x2, stride: 2)
  probs = c2 |> flatten |> fc1: dense(120) |> relu |> fc2: dense(84) |> relu
             |> fc3: dense(10) |> softmax
}
`,
    input: { name: "image", shape: [1, 28, 28] },
    output: "probs",
    layers: [
      conv("conv1", 6, [5, 5], { pad: "same" }),
      relu,
      maxpool(2, 2),
      conv("conv2", 16, [5, 5]),
      relu,
      maxpool(2, 2),
      { kind: "flatten" },
      { kind: "dense", label: "fc1", units: 120 },
      relu,
      { kind: "dense", label: "fc2", units: 84 },
      relu,
      { kind: "dense", label: "fc3", units: 10 },
      { kind: "softmax" },
    ],
  },
  {
    name: "vgg_block",
    description: "3x224x224, conv 64@3x3 same + relu, conv 64@3x3 same + relu, maxpool 2",
    source: `network vgg_block(image: f32[3, 224, 224]) -> y {
  y = image |> conv1: conv(64, 3x3, pad: same) |> relu |> conv2: conv(64, 3x3, pad: same) |> relu |> maxpool(2x2)
}
`,
    input: { name: "image", shape: [3, 224, 224] },
    output: "y",
    layers: [conv("conv1", 64, [3, 3], { pad: "same" }), relu, conv("conv2", 64, [3, 3], { pad: "same" }), relu, maxpool(2, 2)],
  },
  {
    name: "resnet_block",
    description: "64x56x56, conv 64@3x3 same + relu, conv 64@3x3 same, + input, relu",
    source: `network resnet_block(x: f32[64, 56, 56]) -> y {
  h = x |> conv1: conv(64, 3x3, pad: same) |> relu |> conv2: conv(64, 3x3, pad: same)
  y = x + h |> relu
}
`,
    input: { name: "x", shape: [64, 56, 56] },
    output: "y",
    layers: [conv("conv1", 64, [3, 3], { pad: "same" }), relu, conv("conv2", 64, [3, 3], { pad: "same" }), { kind: "addInput" }, relu],
  },
  {
    name: "mobilenet_block",
    description: "32x112x112, depthwise 3x3 same + relu, pointwise 64 + relu",
    source: `network mobilenet_block(x: f32[32, 112, 112]) -> y {
  y = x |> dw: depthwise(3x3, pad: same) |> relu |> pw: conv(64, 1x1) |> relu
}
`,
    input: { name: "x", shape: [32, 112, 112] },
    output: "y",
    layers: [conv("dw", 32, [3, 3], { pad: "same", groups: "depthwise" }), relu, conv("pw", 64, [1, 1]), relu],
  },
  {
    name: "bigkernel",
    description: "1x256x256, conv 8@15x15 same",
    source: `network bigkernel(image: f32[1, 256, 256]) -> y {
  y = image |> conv1: conv(8, 15x15, pad: same)
}
`,
    input: { name: "image", shape: [1, 256, 256] },
    output: "y",
    layers: [conv("conv1", 8, [15, 15], { pad: "same" })],
  },
  {
    name: "separable_blur",
    description: "3x512x512, depthwise 9x9 Gaussian (sigma 2, rank 1), same, no bias",
    source: `network separable_blur(image: f32[3, 512, 512]) -> y {
  y = image |> blur: depthwise(9x9, pad: same, weight: gaussian(sigma: 2), bias: none)
}
`,
    input: { name: "image", shape: [3, 512, 512] },
    output: "y",
    layers: [conv("blur", 3, [9, 9], { pad: "same", groups: "depthwise", bias: false, weight: { kind: "gaussian", sigma: 2 } })],
  },
  {
    name: "audio1d",
    description: "1x16000, conv1d 16@9 stride 2 + relu, conv1d 32@9 stride 2 + relu, maxpool 4",
    source: `network audio1d(wave: f32[1, 16000]) -> y {
  y = wave |> conv1: conv(16, 9, stride: 2) |> relu |> conv2: conv(32, 9, stride: 2) |> relu |> maxpool(4)
}
`,
    input: { name: "wave", shape: [1, 16000] },
    output: "y",
    layers: [conv("conv1", 16, [9], { stride: [2] }), relu, conv("conv2", 32, [9], { stride: [2] }), relu, maxpool(4)],
  },
  {
    name: "volume3d",
    description: "1x32x64x64, conv3d 8@3x3x3 same + relu, maxpool3d 2",
    source: `network volume3d(scan: f32[1, 32, 64, 64]) -> y {
  y = scan |> conv1: conv(8, 3x3x3, pad: same) |> relu |> maxpool(2x2x2)
}
`,
    input: { name: "scan", shape: [1, 32, 64, 64] },
    output: "y",
    layers: [conv("conv1", 8, [3, 3, 3], { pad: "same" }), relu, maxpool(2, 2, 2)],
  },
  {
    name: "conv_stride2",
    description: "3x224x224, conv 32@3x3 stride 2 same + relu",
    source: `network conv_stride2(image: f32[3, 224, 224]) -> y {
  y = image |> conv1: conv(32, 3x3, stride: 2, pad: same) |> relu
}
`,
    input: { name: "image", shape: [3, 224, 224] },
    output: "y",
    layers: [conv("conv1", 32, [3, 3], { stride: [2, 2], pad: "same" }), relu],
  },
];

/**
 * The `--pools` cases (issue 14): one pool over a ResNet-sized activation, where every runtime
 * moves the same bytes, so the times say how close each pool kernel gets to memory speed.
 */
export const POOL_NETWORKS: readonly NetworkSpec[] = (
  [
    ["avgpool_3x3s2", "avg", "avgpool(3x3, stride: 2)"],
    ["maxpool_3x3s2", "max", "maxpool(3x3, stride: 2)"],
    ["lppool2_3x3s2", "lp", "lppool(3x3, stride: 2, p: 2)"],
  ] as const
).map(([name, mode, call]) => ({
  name,
  description: `64x56x56, ${call}`,
  source: `network ${name}(x: f32[64, 56, 56]) -> y {
  y = x |> ${call}
}
`,
  input: { name: "x", shape: [64, 56, 56] },
  output: "y",
  layers: [{ kind: "pool", mode, window: [3, 3], stride: [2, 2] }],
}));

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** The layers with their shapes, padding and multiply-adds. */
export function steps(spec: NetworkSpec): Step[] {
  const out: Step[] = [];
  let shape: readonly number[] = spec.input.shape;
  for (const layer of spec.layers) {
    let next: readonly number[] = shape;
    let pads: (readonly [number, number])[] = [];
    let macs = 0;
    switch (layer.kind) {
      case "conv": {
        const spatial = shape.slice(1);
        const outSpatial: number[] = [];
        spatial.forEach((n, i) => {
          const k = layer.kernel[i];
          const s = layer.stride[i];
          if (layer.pad === "same") {
            const o = Math.ceil(n / s);
            const total = Math.max((o - 1) * s + k - n, 0);
            pads.push([Math.floor(total / 2), total - Math.floor(total / 2)]);
            outSpatial.push(o);
          } else {
            pads.push([0, 0]);
            outSpatial.push(Math.floor((n - k) / s) + 1);
          }
        });
        const perOutput = (layer.groups === "depthwise" ? 1 : shape[0]) * product(layer.kernel);
        next = [layer.filters, ...outSpatial];
        macs = product(next) * perOutput;
        break;
      }
      case "maxpool":
        next = [shape[0], ...shape.slice(1).map((n, i) => Math.floor(n / layer.window[i]))];
        break;
      case "pool":
        next = [shape[0], ...shape.slice(1).map((n, i) => Math.floor((n - layer.window[i]) / layer.stride[i]) + 1)];
        break;
      case "flatten":
        next = [product(shape)];
        break;
      case "dense":
        next = [layer.units];
        macs = product(shape) * layer.units;
        break;
      case "relu":
      case "softmax":
      case "addInput":
        break;
      default: {
        const never: never = layer;
        throw new Error(`unknown layer ${JSON.stringify(never)}`);
      }
    }
    out.push({ layer, inShape: shape, outShape: next, pads, macs });
    shape = next;
  }
  return out;
}

export function outputShape(spec: NetworkSpec): readonly number[] {
  const s = steps(spec);
  return s.length ? s[s.length - 1].outShape : spec.input.shape;
}

/** Multiply-adds of one inference as written (what GFLOP/s = 2 x MACs / time counts). */
export function macs(spec: NetworkSpec): number {
  return steps(spec).reduce((a, s) => a + s.macs, 0);
}

/** Seeds that depend only on the network and the layer's position, so every run builds the same weights. */
function seedOf(spec: NetworkSpec, index: number): number {
  let h = 0x811c9dc5;
  for (const c of spec.name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return (h + 1000 * index) >>> 0;
}

/**
 * Every weight of the network by its cnnc name (`label.weight`, `label.bias`), in the logical
 * layout. `inFile` is false for weights the source defines itself (a named kernel): those are
 * not written to the safetensors file, but the peers need them.
 */
export function weights(spec: NetworkSpec): Map<string, Tensor & { readonly inFile: boolean }> {
  const out = new Map<string, Tensor & { readonly inFile: boolean }>();
  steps(spec).forEach((s, i) => {
    const layer = s.layer;
    if (layer.kind === "conv") {
      const cin = layer.groups === "depthwise" ? 1 : s.inShape[0];
      const shape = [layer.filters, cin, ...layer.kernel];
      const receptive = product(layer.kernel);
      if (layer.weight.kind === "he") {
        out.set(`${layer.label}.weight`, { shape, data: initialise(he(seedOf(spec, i)), shape, cin * receptive, layer.filters * receptive), inFile: true });
      } else {
        const k = namedKernel("gaussian", { sigma: layer.weight.sigma }, layer.kernel);
        if (!k.ok) throw new Error(`${spec.name}: ${k.error}`);
        const data = new Float32Array(product(shape));
        for (let f = 0; f < layer.filters; f++) data.set(k.value, f * receptive);
        out.set(`${layer.label}.weight`, { shape, data, inFile: false });
      }
      if (layer.bias) out.set(`${layer.label}.bias`, { shape: [layer.filters], data: initialise(uniform(-0.1, 0.1, seedOf(spec, i) + 1), [layer.filters], 0, 0), inFile: true });
    } else if (layer.kind === "dense") {
      const inputs = product(s.inShape);
      const shape = [layer.units, inputs];
      out.set(`${layer.label}.weight`, { shape, data: initialise(he(seedOf(spec, i)), shape, inputs, layer.units), inFile: true });
      out.set(`${layer.label}.bias`, { shape: [layer.units], data: initialise(uniform(-0.1, 0.1, seedOf(spec, i) + 1), [layer.units], 0, 0), inFile: true });
    }
  });
  return out;
}

/** The input, [C, D1..Dd] (no batch axis), uniform in [-1, 1) from a fixed seed. */
export function input(spec: NetworkSpec): Float32Array {
  const r = new Random(seedOf(spec, 999));
  const data = new Float32Array(product(spec.input.shape));
  for (let i = 0; i < data.length; i++) data[i] = 2 * r.uniform() - 1;
  return data;
}

export function findNetwork(name: string): NetworkSpec | undefined {
  return NETWORKS.find((n) => n.name === name) ?? POOL_NETWORKS.find((n) => n.name === name);
}
