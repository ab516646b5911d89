// A shader program as tfjs-backend-webgpu has it: WGSL text, a cache key, its workgroup size
// and its dispatch layout (work items, one per invocation or one per workgroup, laid out by
// the runtime on a 3-D grid). A kernel family describes a step as KernelSpecs: the tensors it
// binds (the last one is written), the number of work items, the body computing item `i`,
// and, for static shapes, the element range each tensor needs for a range of items, which
// module.ts uses to split a step whose tensors exceed one binding into several dispatches
// over sub-ranges.
//
// Sizes: a static Dim becomes a WGSL literal (the shader is specialised to the shape); a
// symbolic one becomes a slot of the program's uniform block, evaluated by the runtime from
// the bound size symbols. The values that differ between the dispatches of a split step
// (first item, item count, each binding's first element) are slots too, so the parts share
// one program; an unsplit step has them as literal 0 and the total.

import type { Dim } from "../../ir/dim.js";
import { printDim } from "../../ir/dim.js";
import type { PlanWeight, Step } from "../../plan/plan.js";
import { i32Lit, PRELUDE } from "./prelude.js";

/** Which GPU buffer a tensor lives in. */
export type BufferRef =
  | { readonly kind: "activation"; readonly id: number }
  | { readonly kind: "weight"; readonly weight: PlanWeight }
  /** Several weight tensors concatenated into one buffer (fewer bindings). */
  | { readonly kind: "packed"; readonly weights: readonly PlanWeight[] };

export interface TensorUse {
  /** WGSL identifier (fixed names chosen by the family: x, w, b, y, ...). */
  readonly name: string;
  readonly buffer: BufferRef;
  readonly elements: Dim;
}

/**
 * Element range [lo, hi) of each tensor (in TensorUse order) needed for items [i0, i1), and
 * for the reduction range [r0, r1) when the kernel has a splittable reduction.
 */
export type RangeFn = (i0: number, i1: number, r0: number, r1: number) => (readonly [number, number])[];

export interface KernelSpec {
  readonly family: string;
  readonly workgroupSize: number;
  readonly itemsPer: "invocation" | "workgroup";
  readonly items: Dim;
  /** Tensors bound as storage 1..n; the last is the output. */
  readonly tensors: readonly TensorUse[];
  /** Module-scope declarations (workgroup memory), with its bytes at the preferred workgroup size. */
  readonly workgroupDecl?: string;
  readonly workgroupBytes?: number;
  /** The statements computing item `i` (an i32), in `main`. */
  readonly body: (p: Program) => string;
  /** Static shapes only: what each tensor needs for a range of items (absent: no split possible). */
  readonly ranges?: RangeFn;
  /**
   * A reduction the body sums over [reduceLo, reduceHi) that can be split into chunks
   * accumulated into the output (split-K): conv's input channels, dense's inputs.
   */
  readonly reduce?: { readonly extent: number };
  /** Tensors read through another tensor's binding (an in-place step's input, through the output's). */
  readonly aliases?: ReadonlyMap<string, string>;
  /**
   * Writes an algorithm's scratch buffer, not the step's output (one stage of a multi-kernel
   * convolution algorithm): the epilogue's residual inputs are not bound to it.
   */
  readonly intermediate?: boolean;
  /**
   * Sizes (dim()) become uniforms even when static: the program is specialised only to its
   * structure (kernel geometry, epilogue), so layers of different sizes share one pipeline.
   * For the algorithms' multi-stage kernels, whose loops are bounded by channel counts and
   * tile counts rather than unrolled over them.
   */
  readonly uniformSizes?: boolean;
}

/** Where a uniform slot's value comes from, per dispatch. */
export type SlotSource =
  | { readonly kind: "dim"; readonly dim: Dim }
  | { readonly kind: "items" }
  | { readonly kind: "item0" }
  | { readonly kind: "base"; readonly tensor: number }
  | { readonly kind: "r0" }
  | { readonly kind: "r1" }
  | { readonly kind: "first" }
  | { readonly kind: "last" };

const lane = ["x", "y", "z", "w"];

/** Builds one program's WGSL: uniform slots are created on demand. */
export class Program {
  private readonly slots: SlotSource[] = [];
  private readonly slotNames = new Map<string, string>();

  constructor(
    readonly spec: KernelSpec,
    /** Split: item range and binding bases come from the uniform block. */
    readonly split: boolean,
  ) {}

  private slot(key: string, source: SlotSource): string {
    const have = this.slotNames.get(key);
    if (have) return have;
    const name = `u_${this.slots.length}`;
    this.slots.push(source);
    this.slotNames.set(key, name);
    return name;
  }

  /** A size as a WGSL i32 expression: a literal when static, a uniform slot otherwise. */
  dim(d: Dim): string {
    if (typeof d === "number") {
      if (!this.spec.uniformSizes) return i32Lit(d);
      // A slot per use, not per value: the code must not depend on which sizes happen to be equal.
      return this.slot(`static:${this.slots.length}`, { kind: "dim", dim: d });
    }
    return this.slot(`dim:${printDim(d)}:${JSON.stringify(d)}`, { kind: "dim", dim: d });
  }

  /** The number of work items of this dispatch. */
  items(): string {
    return this.split ? this.slot("items", { kind: "items" }) : this.dim(this.spec.items);
  }

  item0(): string {
    return this.split ? this.slot("item0", { kind: "item0" }) : "0";
  }

  /** The reduction range this dispatch sums over. */
  reduceLo(): string {
    return this.split ? this.slot("r0", { kind: "r0" }) : "0";
  }

  reduceHi(): string {
    return this.split ? this.slot("r1", { kind: "r1" }) : String(this.spec.reduce?.extent ?? 0);
  }

  /**
   * Stores `value` (the item's sum over this dispatch's reduction range) at `index` of the
   * output through `finish` (bias and epilogue): directly when unsplit; when split, adding
   * what the earlier chunks stored, and finishing only in the last chunk.
   */
  accumulate(index: string, value: string, finish: (v: string) => string, store: (v: string) => string): string {
    if (!this.split) return finish(value);
    const first = this.slot("first", { kind: "first" });
    const last = this.slot("last", { kind: "last" });
    return [
      `var total = ${value};`,
      `if (${first} == 0) {`,
      `  total = total + ${this.at("y", index)};`,
      `}`,
      `if (${last} != 0) {`,
      indent(finish("total")),
      `} else {`,
      `  ${store("total")}`,
      `}`,
    ].join("\n");
  }

  private base(tensor: number): string {
    return this.split ? this.slot(`base:${tensor}`, { kind: "base", tensor }) : "0";
  }

  /** `name[index]` for tensor `name`, relative to its binding's first element. */
  at(name: string, index: string): string {
    const bound = this.spec.aliases?.get(name) ?? name;
    const k = this.spec.tensors.findIndex((t) => t.name === bound);
    if (k < 0) throw new Error(`internal error: ${this.spec.family} has no tensor ${name}`);
    const base = this.base(k);
    return base === "0" ? `${bound}[${index}]` : `${bound}[(${index}) - ${base}]`;
  }

  get slotSources(): readonly SlotSource[] {
    return this.slots;
  }

  /** The whole WGSL source. */
  build(): string {
    const spec = this.spec;
    // The body first: it creates the slots the header declares.
    const body = spec.body(this);
    const first = this.item0();
    const count = this.items();
    const header: string[] = [];
    header.push(`// cnnc program: ${spec.family}`, PRELUDE);
    header.push(`override WG: u32 = ${spec.workgroupSize}u;`);
    if (this.slots.length > 0) {
      header.push(`@group(0) @binding(0) var<uniform> u: array<vec4<i32>, ${Math.ceil(this.slots.length / 4)}>;`);
    }
    spec.tensors.forEach((t, k) => {
      const last = k === spec.tensors.length - 1;
      header.push(`@group(0) @binding(${k + 1}) var<storage, ${last ? "read_write" : "read"}> ${t.name}: array<f32>;`);
    });
    if (spec.workgroupDecl) header.push(spec.workgroupDecl);
    const lets = this.slots.map((_, s) => `  let u_${s} = u[${Math.floor(s / 4)}].${lane[s % 4]};`);
    const item =
      spec.itemsPer === "invocation" ? "i32(group_index(wid, nwg) * WG + lid)" : "i32(group_index(wid, nwg))";
    return `${header.join("\n")}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${lets.join("\n")}
  let item = ${item};
  if (item >= ${count}) {
    return;
  }
  let i = ${first === "0" ? "item" : `${first} + item`};
${indent(body)}
}
`;
  }
}

export function indent(code: string, by = "  "): string {
  return code
    .split("\n")
    .map((l) => (l.length ? by + l : l))
    .join("\n");
}

/** Row-major strides of a static shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let step = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    s[a] = step;
    step *= shape[a];
  }
  return s;
}

/**
 * The items [i0, i1) of a row-major `shape` as a box of inclusive index intervals per axis,
 * conservatively: axes before the first one where i0 and i1-1 differ are fixed, that axis
 * spans both, later axes are whole.
 */
export function boxOf(shape: readonly number[], i0: number, i1: number): { lo: number[]; hi: number[] } {
  const st = stridesOf(shape);
  const a = shape.map((d, k) => Math.floor(i0 / st[k]) % d);
  const b = shape.map((d, k) => Math.floor((i1 - 1) / st[k]) % d);
  const t = a.findIndex((v, k) => v !== b[k]);
  const lo = a.map((v, k) => (t < 0 || k <= t ? v : 0));
  const hi = b.map((v, k) => (t < 0 || k <= t ? v : shape[k] - 1));
  return { lo, hi };
}

/** [flat(lo), flat(hi) + 1): every element of the box lies in it. */
export function hull(shape: readonly number[], lo: readonly number[], hi: readonly number[]): [number, number] {
  const st = stridesOf(shape);
  const flat = (ix: readonly number[]) => ix.reduce((s, v, k) => s + Math.min(Math.max(v, 0), shape[k] - 1) * st[k], 0);
  const l = flat(lo);
  return [l, Math.max(flat(hi) + 1, l + 1)];
}

/** Static dims (for range functions), or undefined when any is symbolic. */
export function staticShape(ds: readonly Dim[]): number[] | undefined {
  return ds.every((d) => typeof d === "number") ? (ds as number[]) : undefined;
}

/** What a kernel family is handed for one step: its tensors, resolved to GPU buffers. */
export interface StepContext {
  readonly step: Step;
  /** Input k, bound under `name`. */
  input(k: number, name: string): TensorUse;
  /** The output, bound as `y`. */
  output(): TensorUse;
  weight(name: string): TensorUse;
  /** The bias, if the step has one. */
  bias(name: string): TensorUse | undefined;
  /** The given weights of the step, concatenated into one buffer. */
  packed(name: string, weights: readonly (PlanWeight | undefined)[]): TensorUse;
  /**
   * Scratch buffer number `role` of a convolution algorithm (transformed weights, inputs,
   * products), of at least `elements`: steps run one after another, so every step shares the
   * buffer of a role, grown to the largest.
   */
  scratch(name: string, role: number, elements: Dim): TensorUse;
}

/** x[i] -> y[offset + i], for static sizes. */
export function elementwiseRanges(x: Dim, y: Dim, offset: Dim): RangeFn | undefined {
  if (typeof x !== "number" || typeof y !== "number" || typeof offset !== "number") return undefined;
  return (i0, i1) => [
    [i0, i1],
    [offset + i0, offset + i1],
  ];
}
