// A compile's progress, told to an optional callback (CompileOptions.onProgress) by the
// pipeline's stages as each starts and, in emit, before each kernel: enough for the CLI to draw
// a bar for a big network (cli-text.ts's Progress) without the stages knowing of any terminal.

/** The pipeline's stages, in the order they run; emit and binaryen run once per build. */
export type CompileStage = "analyse" | "optimise" | "emit" | "binaryen";

export interface CompileProgress {
  readonly stage: CompileStage;
  /** The build a stage of emit works on: "wasm", "wasm relaxed" (the relaxed-SIMD module) or "webgpu". */
  readonly part?: string;
  /** Items of this stage (of this part) done so far, of `total`: kernels in emit; 0 of 1 for a stage of one piece. */
  readonly done: number;
  readonly total: number;
  /** The layer whose kernel is emitted next (emit). */
  readonly layer?: string;
}

export type OnProgress = (p: CompileProgress) => void;
