// ONNX bytes -> a plain, validated model: protobufjs decodes (schema.ts), then every tensor
// is checked against its declared shape and type before anything uses it. A bad file (not
// protobuf, not a model, truncated, a tensor shorter than its shape, external data, a size
// no browser could hold) becomes one clear message, never an exception.

import type Long from "long";
import { looksLikeOnnx } from "./front.js";
import { modelProto } from "./schema.js";

/** A decoded tensor: values widened to f64 (exact for f32 and for the int64 shapes graphs compute). */
export interface OnnxTensor {
  readonly dims: readonly number[];
  /** Float tensors stay float through folding; int tensors are shapes, indices, axes. */
  readonly type: "float" | "int";
  readonly data: Float64Array;
}

export type OnnxAttr =
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "floats"; readonly value: readonly number[] }
  | { readonly kind: "ints"; readonly value: readonly number[] }
  | { readonly kind: "tensor"; readonly value: OnnxTensor }
  | { readonly kind: "other"; readonly type: number };

export interface OnnxNode {
  readonly index: number;
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, OnnxAttr>;
}

/** A graph input or output: its shape, each axis a size, a symbol, or unknown (""). */
export interface OnnxValueInfo {
  readonly name: string;
  readonly elemType: number;
  readonly dims: readonly (number | string)[] | undefined;
}

export interface OnnxModel {
  readonly producer: string;
  readonly graphName: string;
  /** The default domain's opset ("" or "ai.onnx"). */
  readonly opset: number;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: ReadonlyMap<string, OnnxTensor>;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

export type Decoded = { readonly ok: true; readonly model: OnnxModel } | { readonly ok: false; readonly error: string };

/** The most elements one tensor may declare: 2^28 (1 GiB of f32), far beyond any conv net's layer. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

/** TensorProto.DataType values we read, with their element size in raw_data. */
const DATA_TYPES: Readonly<Record<number, { name: string; bytes: number; float: boolean }>> = {
  1: { name: "float32", bytes: 4, float: true },
  2: { name: "uint8", bytes: 1, float: false },
  3: { name: "int8", bytes: 1, float: false },
  5: { name: "int16", bytes: 2, float: false },
  6: { name: "int32", bytes: 4, float: false },
  7: { name: "int64", bytes: 8, float: false },
  9: { name: "bool", bytes: 1, float: false },
  10: { name: "float16", bytes: 2, float: true },
  11: { name: "float64", bytes: 8, float: true },
};

class DecodeError extends Error {}

type Int64 = number | Long;

function num(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}

/** Decoded protobufjs objects, as the fields schema.ts names (all optional: proto2). */
interface PTensor {
  dims?: Int64[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  name?: string;
  rawData?: Uint8Array;
  doubleData?: number[];
  externalData?: unknown[];
  dataLocation?: number;
}
interface PAttr {
  name?: string;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: PTensor;
  floats?: number[];
  ints?: Int64[];
  type?: number;
}
interface PNode {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: PAttr[];
}
interface PValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: Int64; dimParam?: string }[] } } };
}
interface PModel {
  irVersion?: Int64;
  producerName?: string;
  graph?: { node?: PNode[]; name?: string; initializer?: PTensor[]; input?: PValueInfo[]; output?: PValueInfo[] };
  opsetImport?: { domain?: string; version?: Int64 }[];
}

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const f = bits & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** One TensorProto, checked: supported type, in-file data, as many values as its shape says. */
export function decodeTensor(t: PTensor, what: string): OnnxTensor {
  const name = t.name ? `'${t.name}'` : "";
  const dims = (t.dims ?? []).map(num);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new DecodeError(`${what} ${name} has a negative or huge dimension [${dims.join(", ")}]`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > MAX_TENSOR_ELEMENTS) {
    throw new DecodeError(`${what} ${name} declares ${count} elements (shape [${dims.join(", ")}]); cnnc accepts at most ${MAX_TENSOR_ELEMENTS} per tensor`);
  }
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) {
    throw new DecodeError(`${what} ${name} keeps its data in an external file; cnnc reads self-contained models only (re-save with onnx.save_model(m, path, save_as_external_data=False))`);
  }
  const type = DATA_TYPES[t.dataType ?? 0];
  if (!type) throw new DecodeError(`${what} ${name} has data type ${t.dataType ?? 0}, which cnnc does not read (float32, float16, float64 and integer tensors only)`);
  const data = new Float64Array(count);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== count * type.bytes) {
      throw new DecodeError(`${what} ${name} has ${raw.length} bytes of raw_data, but its shape [${dims.join(", ")}] of ${type.name} needs ${count * type.bytes}`);
    }
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      const o = i * type.bytes;
      switch (t.dataType) {
        case 1: data[i] = v.getFloat32(o, true); break;
        case 2: case 9: data[i] = v.getUint8(o); break;
        case 3: data[i] = v.getInt8(o); break;
        case 5: data[i] = v.getInt16(o, true); break;
        case 6: data[i] = v.getInt32(o, true); break;
        case 7: data[i] = Number(v.getBigInt64(o, true)); break;
        case 10: data[i] = half(v.getUint16(o, true)); break;
        case 11: data[i] = v.getFloat64(o, true); break;
      }
    }
  } else {
    // Typed fields: float in float_data, int64 in int64_data, double in double_data, the rest
    // (int32, int16, int8, uint8, bool, and float16 as bits) in int32_data.
    const dt = t.dataType;
    const src: readonly (number | Int64)[] =
      dt === 1 ? (t.floatData ?? []) : dt === 7 ? (t.int64Data ?? []) : dt === 11 ? (t.doubleData ?? []) : (t.int32Data ?? []);
    if (src.length !== count) {
      throw new DecodeError(`${what} ${name} holds ${src.length} values, but its shape [${dims.join(", ")}] needs ${count}`);
    }
    for (let i = 0; i < count; i++) data[i] = dt === 10 ? half(num(src[i])) : num(src[i]);
  }
  return { dims, type: type.float ? "float" : "int", data };
}

function decodeAttr(a: PAttr, node: string): OnnxAttr {
  switch (a.type ?? 0) {
    case 1: return { kind: "float", value: a.f ?? 0 };
    case 2: return { kind: "int", value: num(a.i) };
    case 3: return { kind: "string", value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case 4: return { kind: "tensor", value: decodeTensor(a.t ?? {}, `the tensor of node '${node}'`) };
    case 6: return { kind: "floats", value: a.floats ?? [] };
    case 7: return { kind: "ints", value: (a.ints ?? []).map(num) };
    default: return { kind: "other", type: a.type ?? 0 };
  }
}

function valueInfo(v: PValueInfo): OnnxValueInfo {
  const tt = v.type?.tensorType;
  const dims = tt?.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? num(d.dimValue) : ""));
  return { name: v.name ?? "", elemType: tt?.elemType ?? 0, dims };
}

export function decodeModel(bytes: Uint8Array): Decoded {
  if (!looksLikeOnnx(bytes)) {
    return { ok: false, error: "not an ONNX model: an ONNX file starts with its protobuf fields (ir_version), not with these bytes" };
  }
  let m: PModel;
  try {
    m = modelProto().toObject(modelProto().decode(bytes), { defaults: false }) as PModel;
  } catch (e) {
    return { ok: false, error: `not a readable ONNX model (truncated or corrupt protobuf: ${(e as Error).message})` };
  }
  try {
    const g = m.graph;
    if (!g || !g.node) return { ok: false, error: "not an ONNX model: the file has no graph" };
    const opsets = m.opsetImport ?? [];
    const def = opsets.find((o) => !o.domain || o.domain === "ai.onnx");
    if (!def) return { ok: false, error: "the model imports no version of the default ONNX operator set (opset_import)" };
    const initializers = new Map<string, OnnxTensor>();
    for (const t of g.initializer ?? []) initializers.set(t.name ?? "", decodeTensor(t, "initializer"));
    const nodes: OnnxNode[] = g.node.map((n, index) => {
      const name = n.name || `${n.opType ?? "node"}_${index}`;
      const attrs = new Map<string, OnnxAttr>();
      for (const a of n.attribute ?? []) attrs.set(a.name ?? "", decodeAttr(a, name));
      return { index, name, opType: n.opType ?? "", domain: n.domain ?? "", inputs: n.input ?? [], outputs: n.output ?? [], attrs };
    });
    return {
      ok: true,
      model: {
        producer: m.producerName ?? "",
        graphName: g.name ?? "",
        opset: num(def.version),
        nodes,
        initializers,
        inputs: (g.input ?? []).map(valueInfo).filter((v) => !initializers.has(v.name)),
        outputs: (g.output ?? []).map(valueInfo),
      },
    };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}
