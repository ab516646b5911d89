// The WebGPU training step's kernel templates and the addressing they share (grad-layout.ts).
// Every kernel binds the same three things: the uniform block U (batch count, capacity and
// the optimiser's per-step numbers), the arena A (f32, read-write) and the tables T (i32,
// read-only). Two shapes of kernel:
//   items:  one invocation per output element, over the whole batch (`b` the sample, `e` the
//           element within it) or over a fixed tensor (`e` only);
//   groups: one 64-wide workgroup per output element, its invocations splitting a long sum
//           (over the batch and the positions: a weight's gradient) and adding the partial
//           sums in workgroup memory, so the kernel gradient needs no atomics.
// Only numbers the compiler computed reach the WGSL text: no names, no user text.

import type { Weight } from "../../ir/graph.js";
import { PRELUDE } from "./prelude.js";
import type { GradLayout } from "./grad-layout.js";
import { TrainError } from "../../train/autodiff.js";

export const WG = 64;

export interface WgslKernel {
  /** For error messages and GPU labels: the op kind, never a user's name. */
  readonly label: string;
  readonly code: string;
  readonly grid: "items" | "groups";
  /** Items (or groups) per sample when batched, else in all. */
  readonly count: number;
  readonly batched: boolean;
}

/** A u32 literal (checked: a compiler-computed count or offset). */
export function u(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 4294967295) throw new Error(`internal error: ${n} is not a u32 and cannot be a WGSL constant`);
  return `${n}u`;
}

const HEADER = `${PRELUDE}
struct Params { nb: u32, cap: u32, first: u32, pad0: u32, lr: f32, scale: f32, bc1: f32, bc2: f32 }
@group(0) @binding(0) var<uniform> U: Params;
@group(0) @binding(1) var<storage, read_write> A: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<i32>;
fn not_finite(v: f32) -> bool {
  // On the bits: a compiler may assume no NaN in float comparisons.
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}
fn is_nan(v: f32) -> bool {
  // WGSL's max of a NaN is unspecified: a NaN is kept by hand, as the reference's max keeps it.
  return not_finite(v) && (bitcast<u32>(v) & 0x007fffffu) != 0u;
}
`;

const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32)`;

/**
 * The most i32s the tables may take (512 MiB): they are one storage buffer, and devices bind
 * at most 128 MiB to 4 GiB; past this the step is refused with a TrainError, not built.
 */
const MOST_TABLE = 2 ** 27;

export class GradContext {
  // Kept as the tables themselves, joined once: a plain array of every entry would pass V8's
  // largest array (2^27 elements), which kills the process instead of throwing.
  private readonly tableChunks: Int32Array[] = [];
  private tableLength = 0;
  private readonly tableAt = new Map<string, number>();

  constructor(
    readonly layout: GradLayout,
    /** The most i32s the tables may take (MOST_TABLE; tests pass less). */
    private readonly mostTable = MOST_TABLE,
  ) {}

  /** Arena index of element i of sample b of value v (b is ignored for a fixed value). */
  at(v: number, b: string, i: string): string {
    const fixed = this.layout.fixed.get(v);
    if (fixed !== undefined) return `(${u(fixed)} + (${i}))`;
    const pre = this.layout.pre.get(v);
    if (pre === undefined) throw new Error(`internal error: value ${v} has no place in the training arena`);
    return `(${u(this.layout.batchedBase)} + U.cap * ${u(pre)} + (${b}) * ${u(this.size(v))} + (${i}))`;
  }

  size(v: number): number {
    return this.layout.sizes.get(v) as number;
  }

  w(weight: Weight, i: string): string {
    return `(${u(this.layout.weights.get(weight) as number)} + (${i}))`;
  }

  /** A compile-time i32 table's offset in T (shared by key). */
  table(key: string, data: () => Int32Array): number {
    const hit = this.tableAt.get(key);
    if (hit !== undefined) return hit;
    const d = data();
    if (this.tableLength + d.length > this.mostTable) {
      const mib = Math.ceil((4 * (this.tableLength + d.length)) / 2 ** 20);
      throw new TrainError(`the WebGPU training step's index tables (the window ops' taps) would take at least ${mib} MiB, more than the ${Math.floor((4 * this.mostTable) / 2 ** 20)} MiB of one storage buffer; train at a smaller size, or on WebAssembly`);
    }
    const at = this.tableLength;
    this.tableChunks.push(d);
    this.tableLength += d.length;
    this.tableAt.set(key, at);
    return at;
  }

  tables(): Int32Array {
    const out = new Int32Array(Math.max(1, this.tableLength));
    let at = 0;
    for (const c of this.tableChunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** One invocation per element: `body` sees `e` (and `b` when batched). */
export function items(label: string, count: number, batched: boolean, body: string): WgslKernel {
  const total = batched ? `U.nb * ${u(count)}` : u(count);
  const index = batched ? `let b = idx / ${u(count)};\n  let e = idx % ${u(count)};` : "let e = idx;";
  const code = `${HEADER}
${ENTRY} {
  let idx = group_index(wid, nwg) * ${u(WG)} + lid;
  if (idx >= ${total}) { return; }
  ${index}
${body}
}
`;
  return { label, code, grid: "items", count, batched };
}

/**
 * One workgroup per output element e (of `count`, fixed): `setup` names what e selects, the
 * invocations add `term` (statements adding to `acc`, for sample b < U.nb and position
 * j < inner) over their share of (b, j), and the sum is stored at arena index `out`. With
 * `inner` at least the workgroup's width, the invocations split j within each sample (no
 * division); else they split the flattened (b, j).
 */
export function groups(label: string, count: number, inner: number, setup: string, term: string, out: string): WgslKernel {
  const loop =
    inner >= WG
      ? `  for (var b = 0u; b < U.nb; b++) {
  for (var j = lid; j < ${u(inner)}; j += ${u(WG)}) {
${term}
  }
  }`
      : `  for (var r = lid; r < U.nb * ${u(inner)}; r += ${u(WG)}) {
    let b = r / ${u(inner)};
    let j = r % ${u(inner)};
${term}
  }`;
  const code = `${HEADER}
var<workgroup> part: array<f32, ${WG}>;
${ENTRY} {
  let e = group_index(wid, nwg);
  if (e >= ${u(count)}) { return; }
${setup}
  var acc = 0.0;
${loop}
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${u(WG / 2)}; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { A[${out}] = part[0]; }
}
`;
  return { label, code, grid: "groups", count, batched: false };
}

/** A single workgroup running `body` (which may use workgroup memory declared in `decls`). */
export function single(label: string, decls: string, body: string): WgslKernel {
  const code = `${HEADER}
${decls}
${ENTRY} {
${body}
}
`;
  return { label, code, grid: "groups", count: 1, batched: false };
}
