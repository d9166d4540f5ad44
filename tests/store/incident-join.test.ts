import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import type { Candidate } from "../../src/event.ts";
import { Triage } from "../../src/classify/triage.ts";
import { MESSAGE_ID } from "../../src/classify/systemd-ids.ts";
import { journalRecordToEntry } from "../../src/parse/journal-json.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent, queryEvents, type CommitPolicy } from "../../src/store/events.ts";
import { ALL_GROUPS, triageFixture } from "../_fixtures.ts";

// Every line that proves an OOM kill or a unit failure is an event on its own, and the lines
// of one incident (same pid, cgroup or unit, close together) are one event: one alert.
// Kernel lines as mm/oom_kill.c prints them on 6.1 (the shapes of the captures in
// tests/fixtures/public/oom-memcg-v2-kernel6.dmesg.txt); systemd lines as systemd 252 logs them.

const policy: CommitPolicy = { instanceId: "vm", cooldownMs: 5 * 60_000, aggregateThreshold: 3 };
const T0 = 1_780_000_000_000_000;

let db: Database;
beforeEach(() => {
  db = openStore(":memory:");
});
afterEach(() => {
  db.close();
});

type Line = { message: string; kernel?: boolean; fields?: Record<string, string>; atS: number };

function classify(lines: readonly Line[]): Candidate[] {
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
  const out: Candidate[] = [];
  lines.forEach((l, i) => {
    const record = {
      __CURSOR: `c${i}`,
      __REALTIME_TIMESTAMP: String(T0 + l.atS * 1_000_000),
      __MONOTONIC_TIMESTAMP: String(1_000_000_000 + l.atS * 1_000_000),
      MESSAGE: l.message,
      ...(l.kernel
        ? { _TRANSPORT: "kernel", PRIORITY: "3" }
        : { _TRANSPORT: "journal", SYSLOG_IDENTIFIER: "systemd", _PID: "1", PRIORITY: "4" }),
      ...l.fields,
    };
    const entry = journalRecordToEntry(record);
    if (!entry) throw new Error("bad record");
    out.push(...triage.push(entry, T0));
  });
  out.push(...triage.flush(T0));
  return out;
}

const outcomes = (cs: readonly Candidate[]) => cs.map((c) => commitEvent(db, c, policy).outcome);

const SUMMARY = {
  message:
    "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/stress.service,task_memcg=/system.slice/stress.service,task=stress,pid=4215,uid=0",
  kernel: true,
  atS: 0,
};
const KILLED = {
  message:
    "Memory cgroup out of memory: Killed process 4215 (stress) total-vm:80000kB, anon-rss:63000kB, file-rss:4000kB, shmem-rss:0kB, UID:0 pgtables:180kB oom_score_adj:0",
  kernel: true,
  atS: 0,
};
const REAPED = {
  message: "oom_reaper: reaped process 4215 (stress), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
  kernel: true,
  atS: 0.2,
};
const NOTICE = {
  message: "stress.service: A process of this unit has been killed by the OOM killer.",
  fields: { MESSAGE_ID: MESSAGE_ID.unitOutOfMemory, UNIT: "stress.service" },
  atS: 0.3,
};
const RESULT = {
  message: "stress.service: Failed with result 'oom-kill'.",
  fields: { MESSAGE_ID: MESSAGE_ID.unitFailureResult, UNIT: "stress.service", UNIT_RESULT: "oom-kill" },
  atS: 0.3,
};

describe("an OOM kill's lines", () => {
  test.each([
    ["the oom-kill: summary line", SUMMARY, "kernel-oom-kill-summary"],
    ["the Killed process line", KILLED, "kernel-oom-kill-line"],
    ["the reaper's line", REAPED, "oom-reaper"],
    ["the unit's OOM notice", NOTICE, "unit-oom-notice"],
    ["the unit's 'oom-kill' result", RESULT, "unit-oom-result"],
  ])("%s alone is one T1 event", (_title, line, rule) => {
    const cs = classify([line]);
    expect(cs.map((c) => [c.tier, c.rule])).toEqual([["T1", rule]]);
    expect(outcomes(cs)).toEqual(["new"]);
  });

  test("all five together are one event: the first alerts, the others merge", () => {
    const cs = classify([SUMMARY, KILLED, REAPED, NOTICE, RESULT]);
    expect(cs.every((c) => c.tier === "T1")).toBe(true);
    expect(outcomes(cs)).toEqual(["new", "merged", "merged", "merged", "merged"]);
    const events = queryEvents(db, { sinceUs: 0, limit: 10 });
    expect(events.length).toBe(1);
    expect(events[0]?.occurrences).toBe(1);
    expect(events[0]?.unit).toBe("stress.service");
  });

  test("a second kill in the same unit (another pid) is an occurrence, not a merge", () => {
    const first = classify([SUMMARY, REAPED, NOTICE]);
    const again = classify([
      { ...SUMMARY, message: SUMMARY.message.replace("pid=4215", "pid=4300"), atS: 10 },
      { ...NOTICE, atS: 10.1 },
    ]);
    expect(outcomes([...first, ...again])).toEqual(["new", "merged", "merged", "occurrence", "merged"]);
  });
});

const EXITED = {
  message: "web.service: Main process exited, code=exited, status=203/EXEC",
  fields: { MESSAGE_ID: MESSAGE_ID.unitProcessExit, UNIT: "web.service", EXIT_CODE: "exited", EXIT_STATUS: "203" },
  atS: 0,
};
const FAILED = {
  message: "web.service: Failed with result 'exit-code'.",
  fields: { MESSAGE_ID: MESSAGE_ID.unitFailureResult, UNIT: "web.service", UNIT_RESULT: "exit-code" },
  atS: 0.01,
};
const START_FAILED = {
  message: "Failed to start web.service - Web.",
  fields: { MESSAGE_ID: MESSAGE_ID.unitStartFailed, UNIT: "web.service", JOB_RESULT: "failed" },
  atS: 0.02,
};

describe("a unit failure's lines", () => {
  test("the exit alone is one T3 event that says the status in words", () => {
    const cs = classify([EXITED]);
    expect(cs.map((c) => c.rule)).toEqual(["unit-exit-failed"]);
    expect(cs[0]?.summary).toContain("203/EXEC");
    expect(outcomes(cs)).toEqual(["new"]);
  });

  test("exit, result and failed start job are one event; the next failure is an occurrence", () => {
    const cs = classify([EXITED, FAILED, START_FAILED, { ...EXITED, atS: 5 }, { ...FAILED, atS: 5.01 }]);
    expect(outcomes(cs)).toEqual(["new", "merged", "merged", "occurrence", "merged"]);
    expect(queryEvents(db, { sinceUs: 0, limit: 10 }).map((e) => e.occurrences)).toEqual([2]);
  });

  test("a start timeout, the stop timeout 90 s later and the result are one event", () => {
    const cs = classify([
      { message: "web.service: start operation timed out. Terminating.", fields: { UNIT: "web.service" }, atS: 0 },
      { message: "web.service: State 'stop-sigterm' timed out. Killing.", fields: { UNIT: "web.service" }, atS: 90 },
      {
        message: "web.service: Main process exited, code=killed, status=9/KILL",
        fields: { MESSAGE_ID: MESSAGE_ID.unitProcessExit, UNIT: "web.service", EXIT_CODE: "killed", EXIT_STATUS: "9" },
        atS: 90,
      },
      {
        message: "web.service: Failed with result 'timeout'.",
        fields: { MESSAGE_ID: MESSAGE_ID.unitFailureResult, UNIT: "web.service", UNIT_RESULT: "timeout" },
        atS: 90,
      },
    ]);
    expect(cs.map((c) => c.rule)).toEqual(["unit-timeout", "unit-timeout", "unit-exit-failed", "unit-failed"]);
    expect(outcomes(cs)).toEqual(["new", "merged", "merged", "merged"]);
    expect(queryEvents(db, { sinceUs: 0, limit: 10 }).length).toBe(1);
  });

  test("RHEL 7 (systemd 219) text: lowercase exit, failed start, entered failed state, 'X failed.' are one event", () => {
    const cs = classify([
      {
        message: "httpd.service: main process exited, code=exited, status=1/FAILURE",
        fields: { UNIT: "httpd.service", EXIT_CODE: "exited", EXIT_STATUS: "1" },
        atS: 0,
      },
      {
        message: "Failed to start The Apache HTTP Server.",
        fields: { MESSAGE_ID: MESSAGE_ID.unitStartFailed, UNIT: "httpd.service", RESULT: "failed" },
        atS: 0.1,
      },
      { message: "Unit httpd.service entered failed state.", fields: { UNIT: "httpd.service" }, atS: 0.1 },
      { message: "httpd.service failed.", fields: { UNIT: "httpd.service" }, atS: 0.1 },
    ]);
    expect(cs.map((c) => c.rule)).toEqual(["unit-exit-failed-text", "unit-start-failed", "unit-entered-failed", "unit-entered-failed"]);
    expect(outcomes(cs)).toEqual(["new", "merged", "merged", "merged"]);
  });
});

describe("a real OOM kill of a unit on cgroup v1", () => {
  // tests/fixtures/real/unit-oom-killed-user-service.jsonl: the kernel report, then the unit's
  // "Main process exited, code=killed, status=9/KILL" and "Failed with result 'signal'" (on
  // cgroup v1 systemd does not know it was the OOM killer).
  test("the kill is one T1 event; the unit's failure is one T3 event of its own (the unit enricher names the kill in it)", async () => {
    const { candidates } = await triageFixture("real/unit-oom-killed-user-service.jsonl");
    expect(candidates.map((c) => c.rule)).toEqual(["kernel-memcg-oom-kill", "unit-exit-failed", "unit-failed"]);
    expect(candidates.map((c) => commitEvent(db, c, policy).outcome)).toEqual(["new", "new", "merged"]);
    const events = queryEvents(db, { sinceUs: 0, limit: 10 });
    expect(events.map((e) => [e.tier, e.unit]).sort()).toEqual([
      ["T1", "lt-cap-oomsvc2.service"],
      ["T3", "lt-cap-oomsvc2.service"],
    ]);
  });
});
