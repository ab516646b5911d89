// Behaviour unchanged through issue 9 (targets as objects): the same algorithm and reason for
// every convolution of every example and bench network, on every target, and the same bytes
// in every artifact, as recorded in picks.json (see picks.ts).

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FIXTURE, picksOf, sources, VARIANTS, type Picks } from "./picks.js";

const write = process.env.CNNC_WRITE_PICKS === "1";
const recorded: Record<string, Picks> = existsSync(FIXTURE) ? (JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, Picks>) : {};
const fresh: Record<string, Picks> = {};

describe("targets: picks and artifacts unchanged", () => {
  for (const s of sources()) {
    it(s.name, () => {
      for (const v of VARIANTS) {
        const key = `${s.name} ${v.key}`;
        fresh[key] = picksOf(s.source, s.fileName, v.options);
        if (!write) expect(fresh[key], key).toEqual(recorded[key]);
      }
    });
  }
  if (write) it("writes picks.json", () => writeFileSync(FIXTURE, JSON.stringify(fresh, null, 1) + "\n"));
});
