// What a kernel emitter is handed for one step: the function under construction, views of
// the step's tensors at their addresses in the module's memory, the math imports, and the
// step's epilogue (applied to every value before it is stored, so that fusion costs no
// extra pass over memory). `finish(value, index)` takes the index of the value's element
// because a fused residual add reads its operand there; a step with a fused pool finishes
// each pre-pool value at its pre-pool index, and the pooled one with `finishPooled`.

import * as D from "../../ir/dim.js";
import type { Epilogue, Plan, PlanWeight, Step, StepTensor } from "../../plan/plan.js";
import { type Expr, type Fn, type Int, View } from "./builder.js";
import { applyEpilogue } from "./activation.js";
import { dim, dims } from "./dims.js";
import type { MathImports } from "./math.js";

/** Where things live in the module's memory (bytes). */
export interface Layout {
  /** Compile-time tables (gauss pooling weights) start here, past the unused low 1 KiB. */
  readonly tablesOffset: number;
  readonly weightsOffset: number;
  readonly arenaBase: number;
}

/** Byte address of a plan buffer: arenaBase + 4 * offset. */
export function bufferAddress(layout: Layout, offset: D.Dim): D.Dim {
  return D.add(layout.arenaBase, D.mul(4, offset));
}

export class KernelContext {
  constructor(
    readonly fn: Fn,
    readonly step: Step,
    private readonly plan: Plan,
    private readonly layout: Layout,
    readonly math: MathImports,
    /** Byte address of this step's compile-time table, if it has one. */
    readonly table: number | undefined,
  ) {}

  input(i: number): View {
    return this.tensor(this.step.inputs[i]);
  }

  output(): View {
    return this.tensor(this.step.output);
  }

  private tensor(t: StepTensor): View {
    const buffer = this.plan.buffers.find((b) => b.id === t.buffer);
    if (!buffer) throw new Error(`internal error: step ${this.step.id} uses buffer ${t.buffer}, which the plan does not have`);
    const base = this.fn.atEntry(`buffer${buffer.id}`, () => dim(this.fn, bufferAddress(this.layout, buffer.offset)));
    return new View(this.fn, base, dims(this.fn, t.shape));
  }

  private weightView(w: PlanWeight): View {
    return new View(this.fn, this.fn.const(this.layout.weightsOffset + 4 * w.offset), [this.fn.const(w.length)]);
  }

  /** The step's weight, flat. */
  weight(): View {
    if (!this.step.weight) throw new Error(`internal error: layer ${this.step.layer} has no weight in the plan`);
    return this.weightView(this.step.weight);
  }

  /** The step's bias, flat, if its op has one. */
  bias(kind: "channel" | "location" | "tiled" | "none"): View | undefined {
    if (kind === "none") return undefined;
    if (!this.step.bias) throw new Error(`internal error: layer ${this.step.layer} has a ${kind} bias but none in the plan`);
    return this.weightView(this.step.bias);
  }

  /** A batchnorm step's running mean or variance, flat. */
  statistic(which: "mean" | "variance"): View {
    const w = this.step[which];
    if (!w) throw new Error(`internal error: layer ${this.step.layer} has no running ${which} in the plan`);
    return this.weightView(w);
  }

  get epilogue(): readonly Epilogue[] {
    return this.step.epilogue;
  }

  /** The step's epilogue applied to `value` (f64), the value of element `index` (pre-pool with a fused pool). */
  finish(value: Expr, index: Int): Expr {
    return applyEpilogue(this.fn, this.math, this.step.epilogue, value, (input) => this.input(input).load(index));
  }

  /** The activations after a fused pool, applied to a pooled value (f64). */
  finishPooled(value: Expr): Expr {
    const pool = this.step.pool;
    if (!pool) return value;
    return applyEpilogue(this.fn, this.math, pool.epilogue, value, () => {
      throw new Error(`internal error: layer ${this.step.layer} adds a residual after its fused pool`);
    });
  }
}
