// Reads a `train` declaration (docs/training.md) into a training configuration. Each
// statement sets one setting; values are a name, a number, a list of names, or a call with
// named arguments (`sgd(lr: 0.05, momentum: 0.9)`). Every mistake is a diagnostic at the
// setting or argument it concerns, with the accepted names suggested.

import type { Arg, Expr, TrainDecl } from "../../dsl/ast.js";
import type { DiagnosticLog } from "../diagnostics.js";
import type { SourceFile, Span } from "../source.js";
import { didYouMean } from "../suggest.js";
import type { LossName } from "./autodiff.js";
import { DEFAULT_OPTIMISER, type OptimiserConfig, type Schedule } from "./optim.js";

export interface TrainConfig {
  readonly loss: LossName;
  /** The trained output; undefined for a network's only output. */
  readonly output?: string;
  readonly optimiser: OptimiserConfig;
  /** A cosine schedule without `steps:` spans the whole run: filled in when the run's length is known. */
  readonly cosineOverRun: boolean;
  readonly frozen: ReadonlySet<string>;
  readonly batch: number;
  readonly epochs: number;
  readonly seed: number;
  /** Batch norm normalises by each batch's statistics and updates the running ones (`batchnorm = batch`, the default), or keeps the running ones fixed (`batchnorm = running`). */
  readonly batchStatistics: boolean;
}

export const DEFAULT_TRAIN: TrainConfig = {
  loss: "cross_entropy",
  optimiser: DEFAULT_OPTIMISER,
  cosineOverRun: false,
  frozen: new Set(),
  batch: 64,
  epochs: 1,
  seed: 0,
  batchStatistics: true,
};

const SETTINGS = ["loss", "optimizer", "schedule", "clip", "frozen", "batch", "epochs", "seed", "batchnorm"];
const LOSSES: readonly LossName[] = ["cross_entropy", "mse", "l1"];
const OPTIMISERS = ["sgd", "adam", "adamw"] as const;
const OPT_ARGS: Readonly<Record<(typeof OPTIMISERS)[number], readonly string[]>> = {
  sgd: ["lr", "momentum", "nesterov", "weight_decay"],
  adam: ["lr", "beta1", "beta2", "eps", "weight_decay"],
  adamw: ["lr", "beta1", "beta2", "eps", "weight_decay"],
};

export function readTrainConfig(decl: TrainDecl, file: SourceFile, log: DiagnosticLog): TrainConfig {
  const err = (message: string, span: Span): void => log.error(message, file, span);
  let c: { -readonly [K in keyof TrainConfig]: TrainConfig[K] } = { ...DEFAULT_TRAIN };
  let opt: { -readonly [K in keyof OptimiserConfig]: OptimiserConfig[K] } = { ...DEFAULT_OPTIMISER };
  const seen = new Set<string>();

  /** A call's (or bare name's) callee and named arguments, checked against `allowed`. */
  const call = (e: Expr, what: string, choices: readonly string[]): { name: string; args: Map<string, Arg>; positional: Arg[] } | undefined => {
    const name = e.kind === "name" ? e.name.name : e.kind === "call" ? e.callee.name : undefined;
    if (name === undefined || !choices.includes(name)) {
      err(`${what} must be one of ${choices.join(", ")}${name ? didYouMean(name, choices) : ""}`, e.span);
      return undefined;
    }
    const args = new Map<string, Arg>();
    const positional: Arg[] = [];
    for (const a of e.kind === "call" ? e.args : []) {
      if (a.name) args.set(a.name.name, a);
      else positional.push(a);
    }
    return { name, args, positional };
  };
  const number = (e: Expr, what: string, check: (v: number) => boolean, rule: string): number | undefined => {
    const v = e.kind === "number" ? e.value : e.kind === "neg" && e.operand.kind === "number" ? -e.operand.value : undefined;
    if (v === undefined || !check(v)) {
      err(`${what} must be ${rule}`, e.span);
      return undefined;
    }
    return v;
  };
  const positive = (v: number): boolean => v > 0 && Number.isFinite(v);
  const unit = (v: number): boolean => v >= 0 && v < 1;
  const count = (v: number): boolean => Number.isInteger(v) && v > 0;
  const onlyArgs = (args: Map<string, Arg>, allowed: readonly string[], owner: string): void => {
    for (const [k, a] of args) if (!allowed.includes(k)) err(`${owner} has no argument '${k}'${didYouMean(k, allowed)} (it takes ${allowed.join(", ")})`, a.span);
  };

  for (const s of decl.body) {
    if (s.kind !== "assign") {
      err("a train declaration holds settings (`name = value`), not weights files", s.span);
      continue;
    }
    const key = s.target.name;
    const e = s.value;
    if (!SETTINGS.includes(key)) {
      err(`unknown training setting '${key}'${didYouMean(key, SETTINGS)} (settings: ${SETTINGS.join(", ")})`, s.target.span);
      continue;
    }
    if (seen.has(key)) err(`setting '${key}' is given twice`, s.target.span);
    seen.add(key);
    switch (key) {
      case "loss": {
        const r = call(e, "the loss", LOSSES);
        if (!r) break;
        c = { ...c, loss: r.name as LossName };
        onlyArgs(r.args, [], `loss ${r.name}`);
        if (r.positional.length > 1) err(`${r.name} takes one argument, the output it trains`, e.span);
        const out = r.positional[0]?.value;
        if (out && out.kind !== "name") err(`the argument of ${r.name} is the name of a network output`, out.span);
        else if (out) c = { ...c, output: out.name.name };
        break;
      }
      case "optimizer": {
        const r = call(e, "the optimizer", OPTIMISERS);
        if (!r) break;
        const kind = r.name as OptimiserConfig["kind"];
        opt = { ...opt, kind };
        onlyArgs(r.args, OPT_ARGS[kind], kind);
        for (const [k, a] of r.args) {
          if (!OPT_ARGS[kind].includes(k)) continue;
          if (k === "nesterov") {
            if (a.value.kind !== "bool") err("nesterov must be true or false", a.value.span);
            else opt = { ...opt, nesterov: a.value.value };
            continue;
          }
          const rule = k === "lr" || k === "eps" ? ["a positive number", positive] : k === "weight_decay" ? ["a number >= 0", (v: number) => v >= 0] : ["in [0, 1)", unit];
          const v = number(a.value, `${kind}'s ${k}`, rule[1] as (v: number) => boolean, rule[0] as string);
          if (v === undefined) continue;
          const field = ({ lr: "lr", momentum: "momentum", beta1: "beta1", beta2: "beta2", eps: "eps", weight_decay: "weightDecay" } as const)[k as "lr"];
          opt = { ...opt, [field]: v };
        }
        if (opt.nesterov && !(opt.momentum > 0)) err("nesterov needs a momentum above 0", e.span);
        break;
      }
      case "schedule": {
        const r = call(e, "the schedule", ["constant", "step", "cosine"]);
        if (!r) break;
        let sched: Schedule = { kind: "constant" };
        if (r.name === "step") {
          onlyArgs(r.args, ["every", "gamma"], "step");
          const every = r.args.get("every");
          if (!every) err("step needs every: (steps between decays)", e.span);
          const ev = every ? number(every.value, "every", count, "a positive integer (steps)") : undefined;
          const g = r.args.get("gamma");
          const gamma = g ? number(g.value, "gamma", positive, "a positive number") : 0.1;
          if (ev !== undefined && gamma !== undefined) sched = { kind: "step", every: ev, gamma };
        } else if (r.name === "cosine") {
          onlyArgs(r.args, ["steps", "min"], "cosine");
          const st = r.args.get("steps");
          const mn = r.args.get("min");
          const total = st ? number(st.value, "steps", count, "a positive integer") : 0;
          const min = mn ? number(mn.value, "min", (v) => v >= 0, "a number >= 0") : 0;
          sched = { kind: "cosine", total: total ?? 0, min: min ?? 0 };
          c = { ...c, cosineOverRun: !st };
        }
        opt = { ...opt, schedule: sched };
        break;
      }
      case "clip": {
        const v = number(e, "clip", positive, "a positive number (the largest global gradient norm)");
        if (v !== undefined) opt = { ...opt, clip: v };
        break;
      }
      case "frozen": {
        const items = e.kind === "list" ? e.items : [e];
        const names = new Set<string>();
        for (const it of items) {
          if (it.kind === "name") names.add(it.name.name);
          else err("frozen lists layer names: frozen = [conv1, conv2]", it.span);
        }
        c = { ...c, frozen: names };
        break;
      }
      case "batchnorm": {
        const r = call(e, "batchnorm", ["batch", "running"]);
        if (r) c = { ...c, batchStatistics: r.name === "batch" };
        break;
      }
      case "batch":
      case "epochs":
      case "seed": {
        const v = number(e, key, key === "seed" ? (x) => Number.isInteger(x) && x >= 0 : count, key === "seed" ? "an integer >= 0" : "a positive integer");
        if (v !== undefined) c = { ...c, [key]: v };
        break;
      }
    }
  }
  return { ...c, optimiser: opt };
}
