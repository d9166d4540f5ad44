import type { Database } from "bun:sqlite";
import type { Severity, Tier } from "../event.ts";
import type { IncidentKind } from "../incidents/fingerprint.ts";
import type { AlertMark, Incident, IncidentState, Mute } from "../incidents/lifecycle.ts";
import { hasTable } from "./daemon-state.ts";
import { newEventId } from "./events.ts";

// The incidents table (migration 5): rows in, rows out. What an incident becomes is decided
// in incidents/lifecycle.ts; this file only reads and writes it.

interface IncidentRow {
  id: string;
  instance_id: string;
  fingerprint: string;
  kind: IncidentKind;
  subject: string;
  state: IncidentState;
  first_seen: number;
  last_seen: number;
  resolved_us: number | null;
  resolution: string | null;
  occurrences: number;
  tier: Tier;
  severity: Severity;
  loop: number;
  lead_event_id: string;
  summary: string;
  alertable: number;
  alert_json: string | null;
  update_due: number;
  mute_json: string | null;
}

function fromRow(r: IncidentRow): Incident {
  return {
    id: r.id,
    instanceId: r.instance_id,
    fingerprint: r.fingerprint,
    kind: r.kind,
    subject: r.subject,
    state: r.state,
    firstSeenUs: r.first_seen,
    lastSeenUs: r.last_seen,
    resolvedUs: r.resolved_us,
    resolution: r.resolution,
    occurrences: r.occurrences,
    tier: r.tier,
    severity: r.severity,
    loop: r.loop !== 0,
    leadEventId: r.lead_event_id,
    summary: r.summary,
    alertable: r.alertable !== 0,
    alerted: r.alert_json ? (JSON.parse(r.alert_json) as AlertMark) : null,
    updateDue: r.update_due !== 0,
    mute: r.mute_json ? (JSON.parse(r.mute_json) as Mute) : null,
  };
}

export function newIncidentId(): string {
  return newEventId();
}

/** The open incident with this fingerprint, if any. */
export function findOpenIncident(db: Database, instanceId: string, fingerprint: string): Incident | null {
  const row = db
    .query("SELECT * FROM incidents WHERE instance_id = ?1 AND fingerprint = ?2 AND state = 'open' ORDER BY last_seen DESC LIMIT 1")
    .get(instanceId, fingerprint) as IncidentRow | null;
  return row ? fromRow(row) : null;
}

/** The most recent open incident of a kind seen since `sinceUs` (a GPU hang a compositor crash may belong to). */
export function findRecentOpenOfKind(db: Database, instanceId: string, kind: IncidentKind, sinceUs: number): Incident | null {
  const row = db
    .query(
      "SELECT * FROM incidents WHERE instance_id = ?1 AND kind = ?2 AND state = 'open' AND last_seen >= ?3 ORDER BY last_seen DESC LIMIT 1",
    )
    .get(instanceId, kind, sinceUs) as IncidentRow | null;
  return row ? fromRow(row) : null;
}

/** Insert or replace the incident's row. */
export function saveIncident(db: Database, inc: Incident): void {
  db.query(
    `INSERT INTO incidents (id, instance_id, fingerprint, kind, subject, state, first_seen, last_seen, resolved_us, resolution, occurrences,
                            tier, severity, loop, lead_event_id, summary, alertable, alert_json, update_due, mute_json)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
     ON CONFLICT(id) DO UPDATE SET fingerprint = excluded.fingerprint, kind = excluded.kind, subject = excluded.subject, state = excluded.state, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
       resolved_us = excluded.resolved_us, resolution = excluded.resolution, occurrences = excluded.occurrences, tier = excluded.tier,
       severity = excluded.severity, loop = excluded.loop, lead_event_id = excluded.lead_event_id, summary = excluded.summary,
       alertable = excluded.alertable, alert_json = excluded.alert_json, update_due = excluded.update_due, mute_json = excluded.mute_json`,
  ).run(
    inc.id,
    inc.instanceId,
    inc.fingerprint,
    inc.kind,
    inc.subject,
    inc.state,
    inc.firstSeenUs,
    inc.lastSeenUs,
    inc.resolvedUs,
    inc.resolution,
    inc.occurrences,
    inc.tier,
    inc.severity,
    inc.loop ? 1 : 0,
    inc.leadEventId,
    inc.summary,
    inc.alertable ? 1 : 0,
    inc.alerted ? JSON.stringify(inc.alerted) : null,
    inc.updateDue ? 1 : 0,
    inc.mute ? JSON.stringify(inc.mute) : null,
  );
}

export function linkEvent(db: Database, eventId: string, incidentId: string): void {
  db.query("UPDATE events SET incident_id = ?2 WHERE id = ?1").run(eventId, incidentId);
}

/** Open incidents, oldest activity first (the sweep's work list). */
export function openIncidents(db: Database): Incident[] {
  return (db.query("SELECT * FROM incidents WHERE state = 'open' ORDER BY last_seen").all() as IncidentRow[]).map(fromRow);
}

export interface IncidentQuery {
  /** Incidents active (last seen) since then. */
  sinceUs: number;
  openOnly?: boolean;
  limit: number;
}

/** Newest activity first. */
export function queryIncidents(db: Database, q: IncidentQuery): Incident[] {
  if (!hasTable(db, "incidents")) return [];
  const rows = db
    .query(
      `SELECT * FROM incidents WHERE (last_seen >= ?1 OR state = 'open') ${q.openOnly ? "AND state = 'open'" : ""} ORDER BY last_seen DESC LIMIT ?2`,
    )
    .all(q.sinceUs, q.limit) as IncidentRow[];
  return rows.map(fromRow);
}

export type IncidentLookup = { kind: "found"; incident: Incident } | { kind: "none" } | { kind: "ambiguous"; ids: string[] };

/** By id or unique id prefix, as events are. */
export function getIncident(db: Database, idOrPrefix: string): IncidentLookup {
  const prefix = idOrPrefix.toLowerCase();
  if (!/^[0-9a-f]{1,32}$/.test(prefix) || !hasTable(db, "incidents")) return { kind: "none" };
  const rows = db.query("SELECT * FROM incidents WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id LIMIT 5").all(prefix) as IncidentRow[];
  if (rows.length === 0) return { kind: "none" };
  const exact = rows.find((r) => r.id === prefix);
  if (exact) return { kind: "found", incident: fromRow(exact) };
  if (rows.length > 1) return { kind: "ambiguous", ids: rows.map((r) => r.id) };
  return { kind: "found", incident: fromRow(rows[0] as IncidentRow) };
}

/** The ids of an incident's events, oldest first. */
export function incidentEventIds(db: Database, incidentId: string): string[] {
  return (db.query("SELECT id FROM events WHERE incident_id = ? ORDER BY timestamp").all(incidentId) as { id: string }[]).map((r) => r.id);
}

export function setMute(db: Database, incidentId: string, mute: Mute | null): void {
  db.query("UPDATE incidents SET mute_json = ?2 WHERE id = ?1").run(incidentId, mute ? JSON.stringify(mute) : null);
}

/** Whether the event has become a crash loop (events.aggregated). */
export function eventIsLoop(db: Database, eventId: string): boolean {
  const row = db.query("SELECT aggregated FROM events WHERE id = ?").get(eventId) as { aggregated: number } | null;
  return row !== null && row.aggregated !== 0;
}

/** Incidents begun before `untilUs` and active at some point since `sinceUs` (open, or seen or resolved since). */
export function incidentsOverlapping(db: Database, sinceUs: number, untilUs: number): Incident[] {
  if (!hasTable(db, "incidents")) return [];
  const rows = db
    .query(
      "SELECT * FROM incidents WHERE first_seen < ?2 AND (state = 'open' OR last_seen >= ?1 OR coalesce(resolved_us, 0) >= ?1) ORDER BY first_seen",
    )
    .all(sinceUs, untilUs) as IncidentRow[];
  return rows.map(fromRow);
}

/** Fingerprints that had an incident begin before `beforeUs`, per instance ("instance\tfingerprint"). */
export function fingerprintsBefore(db: Database, beforeUs: number): Set<string> {
  if (!hasTable(db, "incidents")) return new Set();
  const rows = db.query("SELECT DISTINCT instance_id, fingerprint FROM incidents WHERE first_seen < ?").all(beforeUs) as {
    instance_id: string;
    fingerprint: string;
  }[];
  return new Set(rows.map((r) => `${r.instance_id}\t${r.fingerprint}`));
}
