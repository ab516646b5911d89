// The training state file every trainer saves and resumes from (saveState / restoreState):
// safetensors, float32, holding each weight under its name, each optimiser slot k of weight
// NAME as `__optimiser__.NAME.K` (momentum; Adam's two moments) and the step count as
// `__step__`. One definition, so a state saved by one backend resumes on another.

import { readSafetensors, writeSafetensors } from "../tensors/safetensors.js";
import { TrainError } from "./autodiff.js";

export interface StateWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const slotName = (weight: string, k: number) => `__optimiser__.${weight}.${k}`;

/** Weights, their slots (slots[k] for slot k; none before the first step) and the step count. */
export function writeTrainingState(weights: Iterable<StateWeight>, slots: Iterable<readonly [weight: string, slots: readonly Float32Array[]]>, step: number): Uint8Array {
  const m = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const w of weights) m.set(w.name, { shape: w.shape, data: w.data });
  for (const [name, each] of slots) each.forEach((data, k) => m.set(slotName(name, k), { shape: [data.length], data }));
  m.set("__step__", { shape: [1], data: Float32Array.of(step) });
  return writeSafetensors(m);
}

export interface TrainingStateFile {
  /** A weight's values; a TrainError when it is missing or has another size. */
  weight(name: string, length: number): Float32Array;
  /** Slot k of a weight, or undefined when the file has none (saved before the first step); a TrainError for another size. */
  slot(name: string, k: number, length: number): Float32Array | undefined;
  /** Every slot in the file, by weight name. */
  slots(): Map<string, Float32Array[]>;
  readonly step: number;
}

export function readTrainingState(bytes: Uint8Array): TrainingStateFile {
  const r = readSafetensors(bytes, "training state");
  if (!r.ok) throw new TrainError(r.error);
  const tensors = r.value;
  const get = (name: string, n: number): Float32Array => {
    const t = tensors.get(name);
    if (!t || t.data.length !== n) throw new TrainError(`training state: ${name} is missing or has the wrong size`);
    return t.data;
  };
  return {
    weight: get,
    slot(name, k, length) {
      const t = tensors.get(slotName(name, k));
      if (t && t.data.length !== length) throw new TrainError(`training state: ${slotName(name, k)} has the wrong size`);
      return t?.data;
    },
    slots() {
      const out = new Map<string, Float32Array[]>();
      for (const [name, t] of tensors) {
        const m = /^__optimiser__\.(.*)\.(\d+)$/.exec(name);
        if (!m) continue;
        const each = out.get(m[1]) ?? [];
        each[Number(m[2])] = t.data;
        out.set(m[1], each);
      }
      return out;
    },
    step: get("__step__", 1)[0],
  };
}
