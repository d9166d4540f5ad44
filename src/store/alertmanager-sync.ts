import type { Database } from "bun:sqlite";
import type { Incident } from "../incidents/lifecycle.ts";
import { hasTable } from "./daemon-state.ts";
import { getIncident } from "./incidents.ts";

// What Alertmanager was last told of each incident (migration 6). Alertmanager's API is a
// state, not a queue: an alert is identified by its labels and refreshed by posting it again,
// so what has to survive a restart or an Alertmanager outage is, per incident, the labels last
// posted and whether they were posted firing or resolved. Everything still owed is derived
// from this table and the incidents table: nothing owed is ever dropped, only delayed.

export interface SyncRow {
  incidentId: string;
  labels: Record<string, string>;
  state: "firing" | "resolved";
  firstPostedUs: number;
  postedUs: number;
  silencedBy: string[];
}

interface Row {
  incident_id: string;
  labels_json: string;
  state: "firing" | "resolved";
  first_posted_us: number;
  posted_us: number;
  silenced_by: string | null;
}

function fromRow(r: Row): SyncRow {
  return {
    incidentId: r.incident_id,
    labels: JSON.parse(r.labels_json) as Record<string, string>,
    state: r.state,
    firstPostedUs: r.first_posted_us,
    postedUs: r.posted_us,
    silencedBy: r.silenced_by ? (JSON.parse(r.silenced_by) as string[]) : [],
  };
}

/** When the feed first ran on this database (set once); incidents last seen before it are not owed. */
export function feedStartedUs(db: Database, nowUs: number): number {
  db.query("INSERT OR IGNORE INTO alertmanager_feed (id, started_us) VALUES (1, ?)").run(nowUs);
  return (db.query("SELECT started_us FROM alertmanager_feed WHERE id = 1").get() as { started_us: number }).started_us;
}

export interface OwedAlert {
  incident: Incident;
  /** What was last posted for it; null when nothing was. */
  last: SyncRow | null;
}

/**
 * Incidents Alertmanager is owed a post about: every open alertable incident (a refresh is
 * cheap and keeps Alertmanager from resolving it on its own), every resolved one whose last
 * post was still firing, and every one seen since the feed started that was never posted,
 * even if it has resolved meanwhile (Alertmanager was down): it is posted firing first, since
 * Alertmanager does not notify of an alert it only ever saw resolved.
 */
export function owedAlerts(db: Database, sinceUs: number, limit: number): OwedAlert[] {
  if (!hasTable(db, "alertmanager_sync")) return [];
  const rows = db
    .query(
      `SELECT i.id AS id, s.incident_id, s.labels_json, s.state, s.first_posted_us, s.posted_us, s.silenced_by
         FROM incidents i LEFT JOIN alertmanager_sync s ON s.incident_id = i.id
        WHERE i.alertable = 1 AND (i.state = 'open' OR s.state = 'firing' OR (s.incident_id IS NULL AND i.last_seen >= ?2))
        ORDER BY i.last_seen DESC LIMIT ?1`,
    )
    .all(limit, sinceUs) as (Row & { id: string })[];
  return rows.flatMap((r) => {
    const lookup = getIncident(db, r.id);
    if (lookup.kind !== "found") return [];
    return [{ incident: lookup.incident, last: r.incident_id === null ? null : fromRow(r) }];
  });
}

export function recordPosted(
  db: Database,
  incidentId: string,
  labels: Record<string, string>,
  state: "firing" | "resolved",
  postedUs: number,
): void {
  db.query(
    `INSERT INTO alertmanager_sync (incident_id, labels_json, state, first_posted_us, posted_us) VALUES (?1, ?2, ?3, ?4, ?4)
     ON CONFLICT(incident_id) DO UPDATE SET labels_json = excluded.labels_json, state = excluded.state, posted_us = excluded.posted_us`,
  ).run(incidentId, JSON.stringify(labels), state, postedUs);
}

/** The silences Alertmanager reports for the incident's alert; [] when none. */
export function recordSilences(db: Database, incidentId: string, silenceIds: readonly string[]): void {
  db.query("UPDATE alertmanager_sync SET silenced_by = ?2 WHERE incident_id = ?1").run(
    incidentId,
    silenceIds.length > 0 ? JSON.stringify(silenceIds) : null,
  );
}

/** Incident ids Alertmanager last reported as silenced, with the silences. */
export function silencedIncidents(db: Database): Map<string, string[]> {
  if (!hasTable(db, "alertmanager_sync")) return new Map();
  const rows = db.query("SELECT incident_id, silenced_by FROM alertmanager_sync WHERE silenced_by IS NOT NULL").all() as {
    incident_id: string;
    silenced_by: string;
  }[];
  return new Map(rows.map((r) => [r.incident_id, JSON.parse(r.silenced_by) as string[]]));
}
