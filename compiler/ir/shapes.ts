// The shape rule of every op: input shapes (one sample, [C, D1..Dd], sizes possibly
// symbolic) to the output shape, or a message saying why the op is undefined on them. The
// lowering turns a message into a diagnostic at the layer's span; sizes that can only be
// checked once symbols are bound become runtime checks (`positive`).

import * as D from "./dim.js";
import type { Dim } from "./dim.js";
import { assertNever, effectiveKernel, type Op, windowGeometry } from "./ops.js";

export type ShapeResult =
  | { readonly ok: true; readonly shape: Dim[]; readonly positive: { dim: Dim; message: string }[] }
  | { readonly ok: false; readonly message: string };

const fail = (message: string): ShapeResult => ({ ok: false, message });

export const fmtSize = (xs: readonly Dim[]): string => xs.map(D.printDim).join("x");

function windowed(
  what: string,
  x: readonly Dim[],
  window: readonly number[],
  stride: readonly number[],
  dilation: readonly number[],
  op: Parameters<typeof windowGeometry>[4],
  ceil: boolean,
): { spatial: Dim[]; positive: { dim: Dim; message: string }[] } | string {
  const spatial = x.slice(1);
  if (window.length !== spatial.length) {
    return `${what} ${window.join("x")} has ${window.length} axes but the input has ${spatial.length} spatial axes`;
  }
  const g = windowGeometry(spatial, window, stride, dilation, op, ceil);
  const positive: { dim: Dim; message: string }[] = [];
  const keff = window.map((k, i) => effectiveKernel(k, dilation[i]));
  const padded = spatial.map((m, i) => D.add(D.add(m, g.padBefore[i]), g.padAfter[i]));
  for (let i = 0; i < spatial.length; i++) {
    const tooBig = `${what} ${keff.join("x")} is larger than the padded input ${fmtSize(padded)}`;
    const o = g.out[i];
    if (typeof o === "number") {
      if (o < 1 || (typeof padded[i] === "number" && (padded[i] as number) < keff[i])) return tooBig;
    } else positive.push({ dim: o, message: tooBig });
  }
  return { spatial: g.out, positive };
}

export function inferShape(op: Op, inputs: readonly (readonly Dim[])[]): ShapeResult {
  const x = inputs[0];
  switch (op.kind) {
    case "conv": {
      const c = x[0];
      if (typeof c === "number" && c % op.groups !== 0)
        return fail(`input channels (${c}) are not divisible by groups (${op.groups})`);
      if (op.filters % op.groups !== 0)
        return fail(`filters (${op.filters}) are not divisible by groups (${op.groups})`);
      const w = windowed("kernel", x, op.kernel, op.stride, op.dilation, op.pad, false);
      if (typeof w === "string") return fail(w);
      return { ok: true, shape: [op.filters, ...w.spatial], positive: w.positive };
    }
    case "local":
    case "tiled": {
      const w = windowed("kernel", x, op.kernel, op.stride, op.dilation, op.pad, false);
      if (typeof w === "string") return fail(w);
      if (op.kind === "local" && !D.allStatic(w.spatial))
        return fail(`local needs a fixed input size (it has a kernel per output position), but its input has the symbolic size ${D.printShape(x)}`);
      if (op.kind === "tiled" && op.tiles.length !== x.length - 1)
        return fail(`tiles ${op.tiles.join("x")} has ${op.tiles.length} axes but the input has ${x.length - 1} spatial axes`);
      return { ok: true, shape: [op.filters, ...w.spatial], positive: w.positive };
    }
    case "deconv": {
      const c = x[0];
      if (typeof c === "number" && c % op.groups !== 0)
        return fail(`input channels (${c}) are not divisible by groups (${op.groups})`);
      if (op.filters % op.groups !== 0)
        return fail(`filters (${op.filters}) are not divisible by groups (${op.groups})`);
      const spatial = x.slice(1);
      if (op.out.length !== spatial.length)
        return fail(`the size it returns has ${op.out.length} axes but the input has ${spatial.length} spatial axes`);
      // The forward convolution must map the returned size back onto the input's size.
      const fwd = windowed("kernel", [op.filters, ...op.out], op.kernel, op.stride, op.dilation, op.pad, false);
      const forward = typeof fwd === "string" ? undefined : fwd.spatial;
      const positive: { dim: Dim; message: string }[] = [];
      const msg = `no convolution with kernel ${op.kernel.join("x")} and stride ${op.stride.join("x")} maps size ${fmtSize(op.out)} to the input's ${fmtSize(spatial)}${forward ? ` (it gives ${fmtSize(forward)})` : ""}`;
      if (typeof fwd === "string" || !forward) return fail(msg);
      for (let i = 0; i < spatial.length; i++) {
        const a = forward[i];
        const b = spatial[i];
        if (typeof a === "number" && typeof b === "number") {
          if (a !== b) return fail(msg);
        } else if (!D.dimEquals(a, b)) positive.push({ dim: D.min(D.add(D.sub(a, b), 1), D.add(D.sub(b, a), 1)), message: msg });
      }
      return { ok: true, shape: [op.filters, ...op.out], positive: [...fwd.positive, ...positive] };
    }
    case "batchnorm":
      return { ok: true, shape: [...x], positive: [] };
    case "maxout": {
      const c = x[0];
      if (typeof c !== "number" || c % op.k !== 0) return fail(`maxout(${op.k}) needs a channel count divisible by ${op.k}, got ${D.printDim(c)}`);
      return { ok: true, shape: [c / op.k, ...x.slice(1)], positive: [] };
    }
    case "pool": {
      if (op.pad.kind === "explicit") {
        for (let i = 0; i < op.window.length; i++) {
          const half = Math.floor(effectiveKernel(op.window[i], op.dilation[i]) / 2);
          if (op.pad.before[i] > half || op.pad.after[i] > half)
            return fail(`pooling padding must be at most half the window (${half}) on every axis`);
        }
      }
      const w = windowed("window", x, op.window, op.stride, op.dilation, op.pad, op.ceil);
      if (typeof w === "string") return fail(w);
      return { ok: true, shape: [x[0], ...w.spatial], positive: w.positive };
    }
    case "adaptive_pool": {
      if (op.out.length !== x.length - 1)
        return fail(`out ${op.out.join("x")} has ${op.out.length} axes but the input has ${x.length - 1} spatial axes`);
      const positive: { dim: Dim; message: string }[] = [];
      for (let i = 0; i < op.out.length; i++) {
        const m = x[i + 1];
        const msg = `adaptive pooling to ${op.out.join("x")} needs an input of at least that size, got ${fmtSize(x.slice(1))}`;
        if (typeof m === "number") {
          if (m < op.out[i]) return fail(msg);
        } else positive.push({ dim: D.add(D.sub(m, op.out[i]), 1), message: msg });
      }
      return { ok: true, shape: [x[0], ...op.out], positive };
    }
    case "dense": {
      if (!D.allStatic(x))
        return fail(`dense needs a fixed input size, but its input has the symbolic size ${D.printShape(x)}; use adaptive pooling (out:) before it`);
      return { ok: true, shape: [op.units], positive: [] };
    }
    case "activation":
    case "softmax":
    case "log_softmax":
      return { ok: true, shape: [...x], positive: [] };
    case "flatten":
      return { ok: true, shape: [D.product(x)], positive: [] };
    case "reshape": {
      const n = D.product(x);
      const m = op.shape.reduce((p, v) => p * v, 1);
      if (typeof n !== "number") return fail(`reshape needs a fixed input size, but its input has the symbolic size ${D.printShape(x)}`);
      if (n !== m) return fail(`cannot reshape ${n} elements ${D.printShape(x)} to [${op.shape.join(", ")}] (${m} elements)`);
      return { ok: true, shape: [...op.shape], positive: [] };
    }
    case "add":
    case "mul": {
      const [a, b] = inputs;
      const rank = Math.max(a.length, b.length);
      const shape: Dim[] = [];
      const verb = op.kind === "add" ? "add" : "multiply";
      for (let i = 0; i < rank; i++) {
        const da = a[i] ?? 1;
        const db = b[i] ?? 1;
        if (D.dimEquals(da, db) || db === 1) shape.push(da);
        else if (da === 1) shape.push(db);
        else return fail(`cannot ${verb} tensors of shapes ${D.printShape(a)} and ${D.printShape(b)}`);
      }
      return { ok: true, shape, positive: [] };
    }
    case "resize": {
      const x = inputs[0];
      const spatial = x.slice(1);
      if (spatial.length !== op.out.length) return fail(`resize gives ${op.out.length} sizes but the value has ${spatial.length} spatial axes (${D.printShape(x)})`);
      if (!D.allStatic(spatial)) return fail(`resize needs fixed spatial sizes, not ${D.printShape(x)}`);
      if (spatial.some((m) => m === 0)) return fail("resize of an empty axis");
      return { ok: true, shape: [x[0], ...op.out], positive: [] };
    }
    case "matmul": {
      const [a, b] = inputs;
      const r = a.length;
      const same = (p: Dim, q: Dim): boolean => D.printDim(p) === D.printDim(q);
      if (inputs.length !== 2 || (r !== 2 && r !== 3) || b.length !== r) return fail(`matmul takes two values of 2 or 3 axes each, [M, K] and [K, N] or [B, M, K] and [B, K, N], not ${D.printShape(a)} and ${D.printShape(b ?? [])}`);
      if (!same(a[r - 1], b[r - 2])) return fail(`matmul: ${D.printShape(a)} has ${D.printDim(a[r - 1])} columns but ${D.printShape(b)} has ${D.printDim(b[r - 2])} rows`);
      if (r === 3 && !same(a[0], b[0])) return fail(`matmul: the leading axes of ${D.printShape(a)} and ${D.printShape(b)} differ`);
      return { ok: true, shape: [...a.slice(0, r - 1), b[r - 1]], positive: [] };
    }
    case "transpose": {
      const x = inputs[0];
      const ok = op.perm.length === x.length && [...op.perm].sort((a, b) => a - b).every((p, i) => p === i);
      if (!ok) return fail(`transpose([${op.perm.join(", ")}]) is not a permutation of the ${x.length} axes of ${D.printShape(x)}`);
      return { ok: true, shape: op.perm.map((p) => x[p]), positive: [] };
    }
    case "pad": {
      const x = inputs[0];
      const spatial = x.slice(1);
      if (spatial.length !== op.before.length) return fail(`pad gives ${op.before.length} spatial axes but the value has ${spatial.length} (${D.printShape(x)})`);
      for (let a = 0; a < spatial.length; a++) {
        const m = spatial[a];
        if (op.mode === "reflect" && typeof m === "number" && (op.before[a] >= m || op.after[a] >= m)) {
          return fail(`reflect padding of ${Math.max(op.before[a], op.after[a])} on spatial axis ${a + 1} needs the axis longer than that, but it has ${m}`);
        }
        if (op.mode !== "constant" && m === 0) return fail(`${op.mode} padding of an empty axis`);
      }
      return { ok: true, shape: [x[0], ...spatial.map((m, a) => D.add(D.add(m, op.before[a]), op.after[a]))], positive: [] };
    }
    case "slice": {
      const x = inputs[0];
      const m = x[op.axis];
      if (op.axis >= x.length) return fail(`slice: axis ${op.axis} is past the value's ${x.length} axes (${D.printShape(x)})`);
      if (typeof m !== "number") return fail(`slice needs a fixed size on axis ${op.axis}, not ${D.printDim(m)}`);
      if (op.end > m) return fail(`slice: end ${op.end} is past the size ${m} of axis ${op.axis}`);
      const shape = [...x];
      shape[op.axis] = Math.ceil((op.end - op.start) / op.step);
      return { ok: true, shape, positive: [] };
    }
    case "concat": {
      const first = inputs[0];
      let channels: Dim = 0;
      for (const s of inputs) {
        if (s.length !== first.length || s.slice(1).some((d, i) => !D.dimEquals(d, first[i + 1])))
          return fail(`cannot concatenate tensors of shapes ${inputs.map((t) => D.printShape(t)).join(" and ")}: spatial sizes differ`);
        channels = D.add(channels, s[0]);
      }
      return { ok: true, shape: [channels, ...first.slice(1)], positive: [] };
    }
    default:
      return assertNever(op);
  }
}
