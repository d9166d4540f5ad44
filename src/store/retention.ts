import type { Database } from "bun:sqlite";
import { hasTable } from "./daemon-state.ts";

// [db] retention: events whose last occurrence is older than the window go, with the alert
// rows that are done (sent or refused) and as old; pending alerts stay whatever their age.
// The database was created with auto_vacuum = INCREMENTAL (db.ts), so the pages freed are
// handed back to the file system here and the file stays bounded.

export interface RetentionResult {
  events: number;
  alerts: number;
  incidents: number;
  /** Pages the file shrank by. */
  pagesFreed: number;
}

export function applyRetention(db: Database, nowUs: number, retentionMs: number): RetentionResult {
  const cutoffUs = nowUs - retentionMs * 1000;
  const pagesBefore = (db.query("PRAGMA page_count").get() as { page_count: number }).page_count;
  const removed = db
    .transaction(() => ({
      events: db.query("DELETE FROM events WHERE last_seen < ?").run(cutoffUs).changes,
      alerts: db
        .query("DELETE FROM outbox WHERE state IN ('sent', 'failed', 'refused', 'expired') AND coalesce(done_us, created_us) < ?")
        .run(cutoffUs).changes,
      // A resolved incident goes with its events; an open one stays however old (it is still going on).
      incidents: hasTable(db, "incidents")
        ? db.query("DELETE FROM incidents WHERE state = 'resolved' AND coalesce(resolved_us, last_seen) < ?").run(cutoffUs).changes
        : 0,
    }))
    .immediate();
  db.run("PRAGMA incremental_vacuum");
  const pagesAfter = (db.query("PRAGMA page_count").get() as { page_count: number }).page_count;
  return { ...removed, pagesFreed: pagesBefore - pagesAfter };
}
