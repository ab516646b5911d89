// `npm run fuzz -- --count N --seed S [--jobs J] [--timeout S] [--memory MB] [--replay I] [--only C,D]`:
// runs N seeded cases (fuzz/classes.ts: mutated examples through compile() and the CLI,
// mutated .safetensors and .npy files, weights paths; fuzz/classes-files.ts: ONNX models,
// images, datasets; fuzz/classes-train.ts: training steps, WebAssembly against the reference)
// on J worker processes, each case
// under a time and a memory limit. A case fails on an exception, a hang, a crash, an exit
// code other than 0/1 or a message with NaN/undefined; the fuzzer prints progress on
// stderr, then the counts by input class and outcome, and exits 1 if any case failed.

import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CLASSES, classOf } from "./classes.js";
import { caseRng } from "./random.js";
import type { CaseReply } from "./worker.js";

type Outcome = "ok" | "diagnostic" | "failed" | "hang" | "crash" | "memory";

interface Failure {
  readonly index: number;
  readonly cls: string;
  readonly outcome: Outcome;
  readonly problems: string[];
}

const OPTIONS = {
  count: { type: "string", default: "1000" },
  seed: { type: "string", default: "1" },
  jobs: { type: "string", default: "2" },
  timeout: { type: "string", default: "60" },
  memory: { type: "string", default: "3072" },
  replay: { type: "string" },
  only: { type: "string" },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

const USAGE = "usage: npm run fuzz -- [--count N] [--seed S] [--jobs J] [--timeout SECONDS] [--memory MB] [--replay I,J] [--only CLASS,CLASS] [--quiet]\n";

/** The options, or the usage (on stdout for --help, else on stderr with exit 2). */
function args() {
  let parsed;
  try {
    parsed = parseArgs({ options: OPTIONS });
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const numbers = ["count", "seed", "jobs", "timeout", "memory"] as const;
  const bad = numbers.find((k) => !(Number(parsed.values[k]) >= 0));
  if (bad) {
    process.stderr.write(`fuzz: --${bad} takes a number, not ${parsed.values[bad]}\n${USAGE}`);
    process.exit(2);
  }
  return parsed;
}

const { values } = args();
const count = Number(values.count);
// --only onnx,image: cases drawn from those classes alone (replays must name the same ones).
const only = values.only?.split(",").filter((c) => c !== "");
const unknown = (only ?? []).filter((c) => !CLASSES.some((k) => k.name === c));
if (unknown.length) {
  process.stderr.write(`fuzz: unknown class ${unknown.join(", ")}; the classes are ${CLASSES.map((c) => c.name).join(", ")}\n`);
  process.exit(2);
}
const classes = only ? CLASSES.filter((c) => only.includes(c.name)) : CLASSES;
const seed = Number(values.seed);
const jobs = Math.max(1, Number(values.jobs));
const timeoutMs = 1000 * Number(values.timeout);
const memoryBytes = 2 ** 20 * Number(values.memory);
const indices = values.replay !== undefined ? values.replay.split(",").map(Number) : Array.from({ length: count }, (_, i) => i);

const WORKER = fileURLToPath(new URL("./worker.js", import.meta.url));
const counts = new Map<string, Map<Outcome, number>>();
const failures: Failure[] = [];
const started = Date.now();
let next = 0;
let done = 0;

const slowest: { index: number; cls: string; ms: number }[] = [];
const msByClass = new Map<string, number>();

function record(cls: string, outcome: Outcome): void {
  const m = counts.get(cls) ?? new Map<Outcome, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  counts.set(cls, m);
}

/** The class of a case, without running it (for a case whose worker died). */
const classOfCase = (index: number) => classOf(caseRng(seed, index), classes).name;

/** Resident memory of a process (Linux), in bytes; 0 where it cannot be read. */
function rss(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? 1024 * Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function progress(): void {
  if (values.quiet) return;
  const s = ((Date.now() - started) / 1000).toFixed(0);
  process.stderr.write(`\rfuzz: ${done}/${indices.length} cases, ${failures.length} failed, ${s} s `);
}

/** One worker process: runs cases one at a time until none are left. */
function slot(): Promise<void> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    let current: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    let watch: NodeJS.Timeout | undefined;
    let killedFor: Outcome | undefined;

    const finish = (cls: string, outcome: Outcome, problems: string[]) => {
      if (timer) clearTimeout(timer);
      record(cls, outcome);
      if (problems.length || (outcome !== "ok" && outcome !== "diagnostic")) {
        failures.push({ index: current ?? -1, cls, outcome, problems });
        // Said at once as well as in the summary: a long run's failures are known before it ends.
        process.stderr.write(`\nfuzz: case ${current ?? -1} (${cls}) ${outcome}: ${problems.join("; ").slice(0, 300)}\n`);
      }
      current = undefined;
      done++;
      if (done % 25 === 0) progress();
    };
    const send = () => {
      if (next >= indices.length) {
        if (watch) clearInterval(watch);
        child.removeAllListeners("exit");
        child.kill();
        resolve();
        return;
      }
      current = indices[next++];
      const index = current;
      timer = setTimeout(() => {
        killedFor = "hang";
        child.kill("SIGKILL");
      }, timeoutMs);
      child.send({ seed, index, only });
    };
    const start = () => {
      killedFor = undefined;
      child = fork(WORKER, [], { execArgv: [`--max-old-space-size=${Math.floor(memoryBytes / 2 ** 20)}`, "--stack-size=984"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString("utf8")).slice(-2000);
      });
      child.on("message", (m: CaseReply) => {
        msByClass.set(m.cls, (msByClass.get(m.cls) ?? 0) + m.ms);
        slowest.push({ index: m.index, cls: m.cls, ms: m.ms });
        slowest.sort((a, b) => b.ms - a.ms).splice(5);
        finish(m.cls, m.problems.length ? "failed" : m.outcome, m.problems);
        send();
      });
      child.on("exit", (code, signal) => {
        if (watch) clearInterval(watch);
        if (current !== undefined) {
          const why = killedFor ?? (stderr.includes("heap out of memory") ? "memory" : "crash");
          const detail = why === "hang" ? `no answer in ${timeoutMs / 1000} s` : why === "memory" ? `more than ${Math.round(memoryBytes / 2 ** 20)} MB` : `exit ${code ?? signal}: ${stderr.slice(-500)}`;
          finish(classOfCase(current), why, [detail]);
        }
        start();
        send();
      });
      watch = setInterval(() => {
        if (current !== undefined && rss(child.pid) > memoryBytes) {
          killedFor = "memory";
          child.kill("SIGKILL");
        }
      }, 250);
    };
    start();
    send();
  });
}

await Promise.all(Array.from({ length: Math.min(jobs, indices.length) }, slot));
progress();
if (!values.quiet) process.stderr.write("\n");

const OUTCOMES: Outcome[] = ["ok", "diagnostic", "failed", "hang", "crash", "memory"];
const rows = [["class", ...OUTCOMES, "total", "seconds"]];
const total = new Map<Outcome, number>();
for (const c of CLASSES) {
  const m = counts.get(c.name) ?? new Map<Outcome, number>();
  const n = OUTCOMES.reduce((s, o) => s + (m.get(o) ?? 0), 0);
  OUTCOMES.forEach((o) => total.set(o, (total.get(o) ?? 0) + (m.get(o) ?? 0)));
  rows.push([c.name, ...OUTCOMES.map((o) => String(m.get(o) ?? 0)), String(n), ((msByClass.get(c.name) ?? 0) / 1000).toFixed(0)]);
}
rows.push(["all", ...OUTCOMES.map((o) => String(total.get(o) ?? 0)), String(done), ([...msByClass.values()].reduce((a, b) => a + b, 0) / 1000).toFixed(0)]);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const seconds = ((Date.now() - started) / 1000).toFixed(0);
process.stdout.write(`fuzz: seed ${seed}, ${done} cases in ${seconds} s on ${jobs} worker${jobs === 1 ? "" : "s"}\n`);
for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")}\n`);
process.stdout.write(`slowest: ${slowest.map((s) => `${s.index} (${s.cls}) ${(s.ms / 1000).toFixed(1)} s`).join(", ")}\n`);
for (const f of failures.slice(0, 50)) {
  process.stdout.write(`\nFAILED case ${f.index} (${f.cls}, ${f.outcome}); replay: npm run fuzz -- --seed ${seed} --replay ${f.index}\n`);
  for (const p of f.problems) process.stdout.write(`  ${p.slice(0, 1500).replace(/\n/g, "\n  ")}\n`);
}
process.exitCode = failures.length ? 1 : 0;
