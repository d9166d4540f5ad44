import type { Database } from "bun:sqlite";
import type { StoredEvent } from "../event.ts";
import { readDaemonRow } from "./daemon-state.ts";
import { queryEvents } from "./events.ts";

// What the weekly digest reads from one instance's database: every event of a period (the
// list view's limit would silently drop the tail of a busy week) and which instances the
// file speaks for, so an instance with a quiet week still gets its "=== id ===" section.

/**
 * All events whose first occurrence lies in [sinceUs, untilUs), newest first. An event is
 * counted in the period it started in, as `query --last` does, even when its occurrences go
 * on past the end.
 */
export function eventsBetween(db: Database, sinceUs: number, untilUs: number): StoredEvent[] {
  // SQLite reads a negative LIMIT as "no limit" (sqlite.org/lang_select.html#limitoffset),
  // so the list query is reused as it is rather than copied without its LIMIT.
  return queryEvents(db, { sinceUs, untilUs, limit: -1 });
}

export interface InstanceRecord {
  instanceId: string;
  /** Time of the oldest event still stored for it; null when it has none (known from the daemon's row only). */
  firstEventUs: number | null;
}

/** Instances this database holds events for, plus the one its daemon last ran as; sorted by id. */
export function instancesIn(db: Database): InstanceRecord[] {
  const rows = db.query("SELECT instance_id, min(timestamp) AS first_us FROM events GROUP BY instance_id").all() as {
    instance_id: string;
    first_us: number;
  }[];
  const records = new Map<string, InstanceRecord>(
    rows.map((r) => [r.instance_id, { instanceId: r.instance_id, firstEventUs: r.first_us }]),
  );
  const daemonInstance = readDaemonRow(db)?.state.instance;
  if (daemonInstance !== undefined && daemonInstance !== "" && !records.has(daemonInstance)) {
    records.set(daemonInstance, { instanceId: daemonInstance, firstEventUs: null });
  }
  return [...records.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}
