import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Classifier } from "../../src/classify/classifier.ts";
import { MESSAGE_ID } from "../../src/classify/systemd-ids.ts";
import { Triage } from "../../src/classify/triage.ts";
import { journalMatches } from "../../src/sources/journal.ts";
import { fixturePath, triageFixture, triageText } from "../_fixtures.ts";

// A unit started again ends its incident: the classifier tells the incident step of each start
// job done ("Started X.", "Started X - Description.", a oneshot's "Finished X."), by MESSAGE_ID,
// from both managers and older systemd alike, except the restarts Restart= scheduled itself
// (those are the failure going on). A start is never an event of its own.

const ALL = new Set(["core", "gpu", "raid", "file_sharing", "containers", "coredumps", "memory_pressure"] as const);

function linesOf(name: string): Record<string, string>[] {
  return readFileSync(fixturePath(name), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, string>);
}

const jsonl = (entries: Record<string, string>[]) => `${entries.map((e) => JSON.stringify(e)).join("\n")}\n`;

test("a user unit's Started line (systemd 252, USER_UNIT=, JOB_RESULT=done) is a start, and no event", async () => {
  const run = await triageFixture("real/unit-sigsegv.jsonl");
  expect(run.starts.map((s) => s.unit)).toEqual(["lt-segv.service"]);
  const started = linesOf("real/unit-sigsegv.jsonl").find((l) => l["MESSAGE_ID"] === MESSAGE_ID.unitStarted)!;
  expect(run.starts[0]!.atUs).toBe(Number(started["__REALTIME_TIMESTAMP"]));
  expect(run.candidates.some((c) => c.entries.some((e) => e.messageId === MESSAGE_ID.unitStarted))).toBe(false);
});

test("starts Restart= scheduled are not starts; after the start limit, the next start (by hand) is", async () => {
  const lines = linesOf("real/unit-fail-restart-limit.jsonl");
  const started = lines.filter((l) => l["MESSAGE_ID"] === MESSAGE_ID.unitStarted);
  expect(started.length).toBeGreaterThan(1);
  const last = lines.at(-1)!;
  const byHand = {
    ...started[0]!,
    __REALTIME_TIMESTAMP: String(Number(last["__REALTIME_TIMESTAMP"]) + 30_000_000),
    __CURSOR: `${started[0]!["__CURSOR"]}-by-hand`,
  };
  const run = await triageText(jsonl([...lines, byHand]));
  // The first start (before any failure) and the one by hand; none of the scheduled restarts.
  expect(run.starts.map((s) => s.atUs)).toEqual([Number(started[0]!["__REALTIME_TIMESTAMP"]), Number(byHand.__REALTIME_TIMESTAMP)]);
});

test("a Restart=always loop's starts are all Restart='s own", async () => {
  const run = await triageFixture("real/unit-restart-always-loop.jsonl");
  const lines = linesOf("real/unit-restart-always-loop.jsonl");
  const firstScheduled = lines.findIndex((l) => l["MESSAGE_ID"] === MESSAGE_ID.unitRestartScheduled);
  const freshStarts = lines.slice(0, firstScheduled).filter((l) => l["MESSAGE_ID"] === MESSAGE_ID.unitStarted).length;
  const allStarts = lines.filter((l) => l["MESSAGE_ID"] === MESSAGE_ID.unitStarted).length;
  expect(allStarts).toBe(5);
  expect(run.starts).toHaveLength(freshStarts);
  expect(freshStarts).toBeLessThan(allStarts);
});

test("a oneshot's 'Finished X.' is a start job done too", async () => {
  const run = await triageFixture("real/unit-success.jsonl");
  expect(run.starts.map((s) => s.unit)).toEqual(["lt-ok.service"]);
});

test("systemd 219's shape: 'Started X.' from PID 1 with UNIT= and RESULT=done (no JOB_RESULT=)", async () => {
  const base = {
    __CURSOR: "s=1;i=1;b=1;m=1;t=1;x=1",
    __REALTIME_TIMESTAMP: "1795373500000000",
    _BOOT_ID: "fbab4f0ccbf945e1805b9ef1c3915417",
    PRIORITY: "6",
    SYSLOG_FACILITY: "3",
    SYSLOG_IDENTIFIER: "systemd",
    _PID: "1",
    _COMM: "systemd",
    _TRANSPORT: "journal",
  };
  const run = await triageText(
    jsonl([
      { ...base, MESSAGE_ID: MESSAGE_ID.unitStarted, MESSAGE: "Started Nightly backup.", UNIT: "backup.service", RESULT: "done" },
      {
        ...base,
        __CURSOR: "s=1;i=2;b=1;m=2;t=2;x=2",
        __REALTIME_TIMESTAMP: "1795373600000000",
        MESSAGE_ID: MESSAGE_ID.unitStarted,
        MESSAGE: "Started User Manager for UID 1000.",
        UNIT: "user@1000.service",
      },
    ]),
  );
  expect(run.starts).toEqual([
    { unit: "backup.service", atUs: 1795373500000000 },
    { unit: "user@1000.service", atUs: 1795373600000000 },
  ]);
  expect(run.candidates).toEqual([]);
});

test("the journal's server-side filter keeps every Started line, by MESSAGE_ID, whatever rules are off", () => {
  const classifier = new Classifier({ enabledGroups: ALL, disabled: ["unit-start-loop", "unit-restart-scheduled", "unit-restart-loop"] });
  const matches = journalMatches(classifier.rawPrefilter) ?? [];
  expect(matches).toContain(`MESSAGE_ID=${MESSAGE_ID.unitStarted}`);
  expect(matches).toContain(`MESSAGE_ID=${MESSAGE_ID.unitRestartScheduled}`);
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL, disabled: ["unit-start-loop"] });
  const raw = readFileSync(fixturePath("real/unit-sigsegv.jsonl"), "utf8")
    .split("\n")
    .find((l) => l.includes(MESSAGE_ID.unitStarted))!;
  expect(triage.wantsRawLine(raw)).toBe(true);
});
