import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventWriter } from "../../src/daemon/writer.ts";
import type { Candidate } from "../../src/event.ts";
import { openStore } from "../../src/store/db.ts";
import { saveEnrichment } from "../../src/store/enrichment.ts";
import { getEvent } from "../../src/store/events.ts";

// A crash stored as "running" becomes gave_up when the same unit then hits its start limit,
// and its alert goes out again saying so.

let dir: string;
let db: Database;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "lt-phase-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const UNIT = "worker.service";

function crash(timestampUs: number): Candidate {
  return {
    tier: "T2",
    severity: "high",
    rule: "segfault",
    summary: `worker crashed: segfault`,
    process: "worker",
    pid: 4215,
    unit: UNIT,
    timestampUs,
    facts: {
      kind: "crash",
      crash: { process: "worker", pid: 4215, fault: "segfault", object: "libc.so.6", address: "0", ip: null, code: null },
    },
    entries: [],
  };
}

function startLimitHit(timestampUs: number): Candidate {
  return {
    tier: "T3",
    severity: "high",
    rule: "unit-start-limit-hit",
    summary: `${UNIT}: start request repeated too quickly`,
    process: null,
    pid: null,
    unit: UNIT,
    timestampUs,
    facts: { kind: "unit", unit: UNIT, result: "start-limit-hit", exitCode: null, exitStatus: null, restartCount: null },
    entries: [],
  };
}

function outboxMessages(eventId: string): string[] {
  return (db.query("SELECT notification FROM outbox WHERE event_id = ? ORDER BY id").all(eventId) as { notification: string }[]).map(
    (r) => (JSON.parse(r.notification) as { message: string }).message,
  );
}

test("the start limit after a crash turns its phase into gave_up and re-sends its alert", () => {
  const writer = new EventWriter({
    db,
    policy: { instanceId: "box", cooldownMs: 600_000, aggregateThreshold: 3 },
    alerts: {
      tiers: new Set(["T1", "T2"]),
      toNotification: (e) => ({ title: e.summary, message: e.detail, priority: 4, tags: [], click: null }),
    },
  });
  const t0 = Date.now() * 1000;
  writer.commit([crash(t0)], null);
  const crashId = (db.query("SELECT id FROM events WHERE tier = 'T2'").get() as { id: string }).id;
  saveEnrichment(
    db,
    crashId,
    {
      completedUs: t0,
      sections: [
        { enricher: "crash", lines: ["Phase: running (42.0 s after the unit started)"], evidence: { phase: "running" }, missing: [] },
      ],
    },
    null,
  );

  writer.commit([startLimitHit(t0 + 5_000_000)], null);

  const after = getEvent(db, crashId);
  if (after.kind !== "found") throw new Error("crash event gone");
  expect(after.event.detail).toContain("Phase: gave_up (systemd stopped restarting the unit: start limit hit)");
  expect(after.event.detail).not.toContain("Phase: running");
  const record = JSON.parse(
    (db.query("SELECT enrichment_json FROM events WHERE id = ?").get(crashId) as { enrichment_json: string }).enrichment_json,
  ) as { sections: { evidence: { phase: string } }[] };
  expect(record.sections[0]?.evidence.phase).toBe("gave_up");
  const messages = outboxMessages(crashId);
  expect(messages).toHaveLength(2);
  expect(messages[1]).toContain("Phase: gave_up");

  // A second start-limit hit changes nothing more and sends nothing more.
  writer.commit([startLimitHit(t0 + 9_000_000)], null);
  expect(outboxMessages(crashId)).toHaveLength(2);
});

test("no crash of that unit within the window: nothing changes", () => {
  const writer = new EventWriter({ db, policy: { instanceId: "box", cooldownMs: 600_000, aggregateThreshold: 3 }, alerts: null });
  const t0 = Date.now() * 1000;
  writer.commit([crash(t0)], null);
  const crashId = (db.query("SELECT id FROM events WHERE tier = 'T2'").get() as { id: string }).id;
  saveEnrichment(
    db,
    crashId,
    {
      completedUs: t0,
      sections: [
        { enricher: "crash", lines: ["Phase: running (42.0 s after the unit started)"], evidence: { phase: "running" }, missing: [] },
      ],
    },
    null,
  );
  writer.commit([startLimitHit(t0 + 11 * 60 * 1_000_000)], null);
  const after = getEvent(db, crashId);
  expect(after.kind === "found" && after.event.detail).toContain("Phase: running");
});
