import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import type { Candidate } from "../../src/event.ts";
import { openStore } from "../../src/store/db.ts";
import { CRASH_INCIDENT_WINDOW_US, commitEvent, getEvent, queryEvents, type CommitPolicy } from "../../src/store/events.ts";
import { triageFixture } from "../_fixtures.ts";

// The kernel's segfault line, systemd-coredump's entry and the unit's "Main process exited,
// code=dumped, status=11/SEGV" are three lines about one crash: one event, one alert. The
// captures are real (tests/fixtures/real/README.md §6).

const policy: CommitPolicy = { instanceId: "vm", cooldownMs: 5 * 60_000, aggregateThreshold: 3 };

let db: Database;
beforeEach(() => {
  db = openStore(":memory:");
});
afterEach(() => {
  db.close();
});

/** The T2 lines of the fixture's own crash (coredump-python.jsonl begins with the previous unit's last line). */
async function crashCandidates(fixture: string): Promise<Candidate[]> {
  const { candidates } = await triageFixture(`real/${fixture}`);
  const crashed = candidates.find((c) => c.rule === "coredump")?.unit ?? null;
  return candidates.filter((c) => c.tier === "T2" && (c.unit === null || c.unit === crashed));
}

function commitAll(candidates: readonly Candidate[]): string[] {
  return candidates.map((c) => commitEvent(db, c, policy).outcome);
}

/** The same crash lines again, as a later crash of the same unit with another pid. */
function asLaterCrash(c: Candidate, pid: number, afterUs: number): Candidate {
  return { ...c, pid: c.pid === null ? null : pid, timestampUs: c.timestampUs + afterUs, entries: [] };
}

describe("one crash, one incident", () => {
  test.each(["coredump-c-program.jsonl", "coredump-python.jsonl"])(
    "%s: segfault line, coredump entry, unit exit and result are one event",
    async (fixture) => {
      const crash = await crashCandidates(fixture);
      expect(crash.map((c) => c.rule)).toEqual(["kernel-segfault", "coredump", "unit-abnormal-exit", "unit-core-dump-result"]);
      expect(commitAll(crash)).toEqual(["new", "merged", "merged", "merged"]);
      const events = queryEvents(db, { sinceUs: 0, tiers: ["T2"], limit: 10 });
      expect(events.length).toBe(1);
      const only = events[0] as (typeof events)[number];
      expect(only.occurrences).toBe(1);
      // The segfault line named no unit: the coredump entry added it.
      expect(only.unit).toBe(crash[1]?.unit ?? "missing");
      expect(only.pid).toBe(crash[0]?.pid ?? -1);
      const stored = getEvent(db, only.id);
      if (stored.kind !== "found") throw new Error("event not found");
      expect(stored.event.lines.some((l) => l.includes("dumped core"))).toBe(true);
      expect(stored.event.lines.some((l) => l.includes("Main process exited"))).toBe(true);
      expect(stored.event.cursors.length).toBe(crash.reduce((n, c) => n + c.entries.length, 0));
    },
  );

  test("a second crash of the unit (another pid) is an occurrence, and its lines merge into it", async () => {
    const crash = await crashCandidates("coredump-c-program.jsonl");
    commitAll(crash);
    const again = crash.map((c) => asLaterCrash(c, 424242, 2_000_000));
    expect(commitAll(again)).toEqual(["occurrence", "merged", "merged", "merged"]);
    const events = queryEvents(db, { sinceUs: 0, tiers: ["T2"], limit: 10 });
    expect(events.map((e) => e.occurrences)).toEqual([2]);
  });

  test("a crash loop seen only through coredump entries still counts each crash", async () => {
    const coredump = (await crashCandidates("coredump-c-program.jsonl")).filter((c) => c.rule === "coredump");
    const first = coredump[0] as Candidate;
    const loop = [first, asLaterCrash(first, 5001, 1_000_000), asLaterCrash(first, 5002, 2_000_000)];
    expect(commitAll(loop)).toEqual(["new", "occurrence", "aggregated"]);
  });

  test("a second exit of the same unit is a new crash, not a merged line", async () => {
    const exit = (await crashCandidates("coredump-c-program.jsonl")).filter((c) => c.rule === "unit-abnormal-exit");
    const first = exit[0] as Candidate;
    expect(commitAll([first, asLaterCrash(first, 0, 1_000_000)])).toEqual(["new", "occurrence"]);
  });

  test("lines further apart than the incident window are separate crashes", async () => {
    const crash = await crashCandidates("coredump-c-program.jsonl");
    const [segfault, coredump] = crash as [Candidate, Candidate];
    commitEvent(db, segfault, policy);
    const late = { ...coredump, timestampUs: segfault.timestampUs + CRASH_INCIDENT_WINDOW_US + 1 };
    expect(commitEvent(db, late, policy).outcome).not.toBe("merged");
  });

  test("crashes of two different programs stay two events", async () => {
    const c = await crashCandidates("coredump-c-program.jsonl");
    const py = await crashCandidates("coredump-python.jsonl");
    commitAll(c);
    commitAll(py.map((x) => ({ ...x, timestampUs: (c[0] as Candidate).timestampUs + 1_000_000 })));
    expect(queryEvents(db, { sinceUs: 0, tiers: ["T2"], limit: 10 }).length).toBe(2);
  });
});

describe("crashes in a scope (a login session, a terminal): each program is its own subject", () => {
  /** The real crash's segfault line and coredump entry, as if the program had run in `scope` under another name. */
  async function inScope(scope: string, process: string, pid: number, afterUs: number): Promise<Candidate[]> {
    const crash = (await crashCandidates("coredump-c-program.jsonl")).filter((c) => c.rule === "kernel-segfault" || c.rule === "coredump");
    return crash.map((c) => ({
      ...asLaterCrash(c, pid, afterUs),
      pid,
      process,
      unit: c.unit === null ? null : scope,
    }));
  }

  test("two programs crashing in one session are two events; each one's lines join its own", async () => {
    expect(commitAll(await inScope("session-3.scope", "firefox", 7001, 0))).toEqual(["new", "merged"]);
    expect(commitAll(await inScope("session-3.scope", "thunderbird", 7002, 1_000_000))).toEqual(["new", "merged"]);
    const events = queryEvents(db, { sinceUs: 0, tiers: ["T2"], limit: 10 });
    expect(events.map((e) => e.process).sort()).toEqual(["firefox", "thunderbird"]);
    expect(events.map((e) => e.occurrences)).toEqual([1, 1]);
  });

  test("the same program crashing again in the session is an occurrence, as in a service", async () => {
    commitAll(await inScope("session-3.scope", "firefox", 7001, 0));
    expect(commitAll(await inScope("session-3.scope", "firefox", 7003, 2_000_000))).toEqual(["occurrence", "merged"]);
    expect(queryEvents(db, { sinceUs: 0, tiers: ["T2"], limit: 10 }).map((e) => e.occurrences)).toEqual([2]);
  });
});
