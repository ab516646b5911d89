// Builds ONNX ModelProto bytes in memory, field numbers from onnx/onnx.proto:
//   ModelProto      ir_version 1, graph 7, opset_import 8
//   OperatorSetId   domain 1, version 2
//   GraphProto      node 1, name 2, initializer 5, input 11, output 12
//   NodeProto       input 1, output 2, name 3, op_type 4, attribute 5
//   AttributeProto  name 1, f 2, i 3, s 4, floats 7, ints 8, type 20
//   TensorProto     dims 1, data_type 2, float_data 4, name 8
//   ValueInfoProto  name 1, type 2;  TypeProto tensor_type 1;  TypeProto.Tensor elem_type 1, shape 2
//   TensorShapeProto dim 1;  Dimension dim_value 1
// Only float32 tensors: the peer check runs everything in f32.

import { ProtoWriter } from "./proto.js";

/** IR version 9 goes with opset 19, the first with `dilations` on AveragePool. */
export const IR_VERSION = 9;
export const OPSET = 19;

const FLOAT = 1; // TensorProto.DataType.FLOAT

// AttributeProto.AttributeType
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type Attr =
  | { readonly name: string; readonly type: "int"; readonly value: number }
  | { readonly name: string; readonly type: "float"; readonly value: number }
  | { readonly name: string; readonly type: "string"; readonly value: string }
  | { readonly name: string; readonly type: "ints"; readonly value: readonly number[] }
  | { readonly name: string; readonly type: "floats"; readonly value: readonly number[] };

export const attr = {
  int: (name: string, value: number): Attr => ({ name, type: "int", value }),
  float: (name: string, value: number): Attr => ({ name, type: "float", value }),
  string: (name: string, value: string): Attr => ({ name, type: "string", value }),
  ints: (name: string, value: readonly number[]): Attr => ({ name, type: "ints", value }),
  floats: (name: string, value: readonly number[]): Attr => ({ name, type: "floats", value }),
};

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: readonly Attr[];
}

/** A graph input or output; an output may leave its shape to onnxruntime's inference. */
export interface ValueSpec {
  readonly name: string;
  readonly shape?: readonly number[];
}

export interface InitializerSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
  /** float32 unless said (int64: shapes, axes). */
  readonly type?: "float32" | "int64";
}

export interface GraphSpec {
  readonly nodes: readonly NodeSpec[];
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly initializers?: readonly InitializerSpec[];
}

function writeAttr(w: ProtoWriter, a: Attr): void {
  w.string(1, a.name);
  switch (a.type) {
    case "int":
      w.int(3, a.value).int(20, AttrType.INT);
      break;
    case "float":
      w.float(2, a.value).int(20, AttrType.FLOAT);
      break;
    case "string":
      w.string(4, a.value).int(20, AttrType.STRING);
      break;
    case "ints":
      w.packedInts(8, a.value).int(20, AttrType.INTS);
      break;
    case "floats":
      w.packedFloats(7, a.value).int(20, AttrType.FLOATS);
      break;
  }
}

function writeValueInfo(w: ProtoWriter, v: ValueSpec): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, FLOAT);
      const dims = v.shape;
      if (dims) tensor.message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => dim.int(1, d));
      });
    }),
  );
}

function writeTensor(w: ProtoWriter, t: InitializerSpec): void {
  w.packedInts(1, t.shape);
  if (t.type === "int64") {
    w.int(2, 7); // INT64
    w.packedInts(7, Array.from(t.data));
  } else {
    w.int(2, FLOAT);
    w.packedFloats(4, t.data);
  }
  w.string(8, t.name);
}

/** Serialised ModelProto for a single-graph model in the default ONNX domain. */
export function buildModel(g: GraphSpec): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, IR_VERSION);
  w.string(2, "cnnc-tests");
  w.message(7, (graph) => {
    g.nodes.forEach((n, i) =>
      graph.message(1, (node) => {
        for (const x of n.inputs) node.string(1, x);
        for (const y of n.outputs) node.string(2, y);
        node.string(3, `n${i}`);
        node.string(4, n.op);
        for (const a of n.attrs ?? []) node.message(5, (m) => writeAttr(m, a));
      }),
    );
    graph.string(2, "g");
    for (const t of g.initializers ?? []) graph.message(5, (m) => writeTensor(m, t));
    for (const v of g.inputs) graph.message(11, (m) => writeValueInfo(m, v));
    for (const v of g.outputs) graph.message(12, (m) => writeValueInfo(m, v));
  });
  w.message(8, (opset) => opset.string(1, "").int(2, OPSET));
  return w.finish();
}
