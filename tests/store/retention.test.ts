import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { commitEvent } from "../../src/store/events.ts";
import { enqueueAlert, markSent, nextPending } from "../../src/store/outbox.ts";
import { applyRetention } from "../../src/store/retention.ts";
import type { Candidate } from "../../src/event.ts";

let dir: string;
let db: Database;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-retention-"));
  path = join(dir, "events.db");
  db = openStore(path);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const DAY_US = 86_400_000_000;
const now = Date.now() * 1000;

function candidate(i: number, ageDays: number): Candidate {
  return {
    tier: "T2",
    severity: "high",
    rule: "kernel-segfault",
    // A long summary, so that the old rows fill pages worth freeing.
    summary: `Crash: proc${i} (SIGSEGV) ${"x".repeat(2000)}`,
    process: `proc${i}`,
    pid: i,
    unit: null,
    timestampUs: now - ageDays * DAY_US + i,
    facts: { kind: "plain" },
    entries: [],
  };
}

test("events past the window go with their finished alerts; newer ones and pending alerts stay; the file shrinks", () => {
  const policy = { instanceId: "box", cooldownMs: 0, aggregateThreshold: 3 };
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) commitEvent(db, candidate(i, 100), policy);
    for (let i = 2000; i < 2010; i++) commitEvent(db, candidate(i, 1), policy);
  })();
  const old = enqueueAlert(db, "old-event", { title: "old", message: "", priority: 3, tags: [], click: null }, now - 100 * DAY_US);
  const row = nextPending(db);
  expect(row?.id).toBe(old);
  if (row) markSent(db, row, now - 99 * DAY_US);
  enqueueAlert(db, "waiting", { title: "pending", message: "", priority: 3, tags: [], click: null }, now - 100 * DAY_US);
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  const sizeBefore = statSync(path).size;

  const result = applyRetention(db, now, 90 * 86_400_000);
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  expect(result.events).toBe(2000);
  expect(result.alerts).toBe(1);
  expect(result.pagesFreed).toBeGreaterThan(500);
  expect((db.query("SELECT count(*) AS n FROM events").get() as { n: number }).n).toBe(10);
  expect((db.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n).toBe(1);
  expect(nextPending(db)?.eventId).toBe("waiting");
  expect(statSync(path).size).toBeLessThan(sizeBefore / 2);
});

test("resolved incidents past the window go; open ones stay however old", () => {
  const row = (id: string, state: string, seenDaysAgo: number) =>
    db
      .query(
        `INSERT INTO incidents (id, instance_id, fingerprint, kind, subject, state, first_seen, last_seen, resolved_us, tier, severity, lead_event_id, summary)
         VALUES (?1, 'box', 'unit:' || ?1, 'unit', ?1, ?2, ?3, ?3, ?4, 'T3', 'medium', 'e', 's')`,
      )
      .run(id, state, now - seenDaysAgo * DAY_US, state === "resolved" ? now - seenDaysAgo * DAY_US : null);
  row("old-resolved", "resolved", 100);
  row("new-resolved", "resolved", 10);
  row("old-open", "open", 100);
  expect(applyRetention(db, now, 90 * 86_400_000).incidents).toBe(1);
  expect((db.query("SELECT id FROM incidents ORDER BY id").all() as { id: string }[]).map((r) => r.id)).toEqual([
    "new-resolved",
    "old-open",
  ]);
});
