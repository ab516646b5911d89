// Where a training step keeps its per-sample values: a value lives from the step that writes it
// to the last step that reads it, and values whose lives do not meet may share a place. Each
// compiled step lists its kernels' reads and writes in the order they run (the WebGPU step's
// batched arena, grad-layout.ts; the WebAssembly step's per-sample regions with batch norm in
// training mode, grad-module.ts). A step's reads and write always meet, so no kernel reads
// what it writes. Places are found first fit, largest value first.

export interface PlanStep {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
}

/**
 * Element offsets (`at`) of the values of `steps` (and of `pinned`, live throughout: written
 * before the step or read after it), and the elements they span in all (`span`). Values for
 * which `skip` holds are placed elsewhere by the caller and left out.
 */
export function planValues(steps: readonly PlanStep[], pinned: ReadonlySet<number>, sizeOf: (v: number) => number, skip: (v: number) => boolean = () => false): { at: Map<number, number>; span: number } {
  const born = new Map<number, number>();
  const last = new Map<number, number>();
  steps.forEach((s, k) => {
    for (const v of s.reads) last.set(v, Math.max(last.get(v) ?? k, k));
    for (const v of s.writes) if (!born.has(v)) born.set(v, k);
  });
  const values = new Set([...pinned, ...born.keys(), ...last.keys()]);
  const items: { v: number; from: number; to: number; size: number }[] = [];
  for (const v of values) {
    if (skip(v)) continue;
    const from = pinned.has(v) ? -1 : (born.get(v) ?? -1);
    const to = pinned.has(v) ? steps.length : Math.max(last.get(v) ?? from, from);
    items.push({ v, from, to, size: sizeOf(v) });
  }
  items.sort((a, b) => b.size - a.size || a.from - b.from || a.v - b.v);
  const placed: { at: number; size: number; from: number; to: number }[] = [];
  const at = new Map<number, number>();
  let span = 0;
  for (const it of items) {
    // The lowest place clear of every placed value whose life meets this one's.
    const busy = placed.filter((p) => p.from <= it.to && it.from <= p.to).sort((a, b) => a.at - b.at);
    let where = 0;
    for (const p of busy) {
      if (where + it.size <= p.at) break;
      where = Math.max(where, p.at + p.size);
    }
    placed.push({ at: where, size: it.size, from: it.from, to: it.to });
    at.set(it.v, where);
    span = Math.max(span, where + it.size);
  }
  return { at, span };
}
