// A fuzz worker: a child process that runs the cases its parent sends (class drawn, input
// made and run here, from (seed, index) alone) and answers each. It is a process of its own
// so that a case which hangs or exhausts memory is killed and reported, not the fuzzer.

import { CLASSES, classOf } from "./classes.js";
import { caseRng } from "./random.js";

export interface CaseRequest {
  readonly seed: number;
  readonly index: number;
  /** Draw from these classes only (`--only`). */
  readonly only?: readonly string[];
}

export interface CaseReply {
  readonly index: number;
  readonly cls: string;
  readonly outcome: "ok" | "diagnostic";
  readonly problems: string[];
  readonly ms: number;
}

process.on("message", (m: CaseRequest) => {
  void (async () => {
    const r = caseRng(m.seed, m.index);
    const cls = classOf(r, m.only ? CLASSES.filter((c) => m.only?.includes(c.name)) : CLASSES);
    const start = Date.now();
    let reply: CaseReply;
    try {
      const input = cls.make(r);
      const res = await cls.run(input);
      reply = { index: m.index, cls: cls.name, outcome: res.outcome, problems: res.problems, ms: Date.now() - start };
    } catch (e) {
      reply = { index: m.index, cls: cls.name, outcome: "diagnostic", problems: [`the case threw ${(e as Error).stack ?? String(e)}`], ms: Date.now() - start };
    }
    process.send?.(reply);
  })();
});
