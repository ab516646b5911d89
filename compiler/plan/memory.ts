// Liveness-based memory planning for the activation arena. Each buffer lives from the step
// that writes it (inputs: before the first step) to the last step that reads it (outputs:
// to the end). Buffers are packed into slots greedily in execution order: a buffer takes a
// slot whose occupant is dead, growing the slot to max(old, new) — symbolic sizes become a
// `max` expression, evaluated when the sizes are bound. An elementwise step may write its
// output over the input it is the last reader of (in place), since each element is read
// before it is written at the same index.

import * as D from "../ir/dim.js";
import type { Dim } from "../ir/dim.js";
import type { Op } from "../ir/ops.js";
import type { PlanBuffer } from "./plan.js";

export interface MemoryStep {
  readonly op: Op;
  readonly inputs: readonly number[];
  readonly output: number;
  /** The output has the same shape as input 0 (so an elementwise op may run in place). */
  readonly sameShape: boolean;
}

export interface MemoryPlan {
  readonly buffers: PlanBuffer[];
  readonly arenaElements: Dim;
  /** The arena without reuse (every buffer its own place), for explain. */
  readonly unplannedElements: Dim;
}

export function alignedElements(d: Dim): Dim {
  return D.mul(D.ceildiv(d, 4), 4);
}

const IN_PLACE = new Set<Op["kind"]>(["activation", "softmax", "log_softmax", "add", "mul", "batchnorm"]);

/** Whether size a is known to be at least b (then a slot of size a holds b without growing). */
const atLeast = D.knownAtLeast;

export function planMemory(
  sizes: readonly Dim[],
  steps: readonly MemoryStep[],
  inputs: readonly number[],
  outputs: readonly number[],
  reuse: boolean,
): MemoryPlan {
  const n = sizes.length;
  const aligned = sizes.map(alignedElements);
  const unplanned = aligned.reduce<Dim>((a, s) => D.add(a, s), 0);
  if (!reuse) {
    let at: Dim = 0;
    const buffers = sizes.map((elements, id) => {
      const b = { id, elements, offset: at };
      at = D.add(at, aligned[id]);
      return b;
    });
    return { buffers, arenaElements: at, unplannedElements: unplanned };
  }
  const lastUse = new Array<number>(n).fill(-1);
  steps.forEach((s, i) => s.inputs.forEach((b) => (lastUse[b] = Math.max(lastUse[b], i))));
  for (const o of outputs) lastUse[o] = Infinity;
  const slotOf = new Array<number>(n).fill(-1);
  const slots: { size: Dim; freeAfter: number }[] = [];
  const place = (b: number, step: number, inPlaceOf?: number) => {
    if (inPlaceOf !== undefined) {
      const s = slots[slotOf[inPlaceOf]];
      s.size = atLeast(s.size, aligned[b]) ? s.size : D.max(s.size, aligned[b]);
      s.freeAfter = lastUse[b];
      slotOf[b] = slotOf[inPlaceOf];
      return;
    }
    let best = -1;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i].freeAfter >= step) continue;
      if (best < 0 || (atLeast(slots[i].size, aligned[b]) && !atLeast(slots[best].size, aligned[b]))) best = i;
    }
    if (best < 0) {
      slots.push({ size: aligned[b], freeAfter: lastUse[b] });
      slotOf[b] = slots.length - 1;
      return;
    }
    const s = slots[best];
    s.size = atLeast(s.size, aligned[b]) ? s.size : D.max(s.size, aligned[b]);
    s.freeAfter = lastUse[b];
    slotOf[b] = best;
  };
  for (const b of inputs) place(b, -1);
  steps.forEach((s, i) => {
    if (slotOf[s.output] >= 0) return; // a view's buffer, already placed
    const x = s.inputs[0];
    const inPlace = IN_PLACE.has(s.op.kind) && s.sameShape && x !== undefined && lastUse[x] === i && !inputs.includes(x);
    place(s.output, i, inPlace ? x : undefined);
  });
  const offsets: Dim[] = [];
  let at: Dim = 0;
  for (const s of slots) {
    offsets.push(at);
    at = D.add(at, s.size);
  }
  const buffers = sizes.map((elements, id) => ({ id, elements, offset: slotOf[id] >= 0 ? offsets[slotOf[id]] : 0 }));
  return { buffers, arenaElements: at, unplannedElements: unplanned };
}
