import type { Database } from "bun:sqlite";
import type { Tier } from "../event.ts";
import { hasTable } from "./daemon-state.ts";

// The questions the enrichers and /metrics ask of the stored events, as functions: the events
// table's SQL stays in store/. Each returns rows as the table has them; what they mean is the
// caller's business.

export interface TierCountRow {
  instance_id: string;
  tier: Tier;
  occurrences: number;
  last_seen: number;
}

/** Occurrences and the latest time per instance and tier (the /metrics event counters); none before the table exists. */
export function occurrencesByTier(db: Database): TierCountRow[] {
  if (!hasTable(db, "events")) return [];
  return db
    .query(
      "SELECT instance_id, tier, sum(occurrences) AS occurrences, max(last_seen) AS last_seen FROM events GROUP BY instance_id, tier ORDER BY instance_id, tier",
    )
    .all() as TierCountRow[];
}

export interface EventTimesRow {
  id: string;
  summary: string;
  timestamp: number;
  last_seen: number;
}

/** The T4 event of one of `rules` that started by `atUs` and was still seen at `sinceUs` or later, latest occurrence first. */
export function latestT4EventOverlapping(
  db: Database,
  instanceId: string,
  rules: readonly string[],
  atUs: number,
  sinceUs: number,
): EventTimesRow | null {
  const placeholders = rules.map(() => "?").join(", ");
  return db
    .query(
      `SELECT id, summary, timestamp, last_seen FROM events
        WHERE instance_id = ? AND tier = 'T4' AND rule IN (${placeholders})
          AND timestamp <= ? AND last_seen >= ?
        ORDER BY last_seen DESC LIMIT 1`,
    )
    .get(instanceId, ...rules, atUs, sinceUs) as EventTimesRow | null;
}

/** Occurrences of T2 events of the process or unit `who` seen since `sinceUs`, other than event `exceptId`. */
export function crashOccurrencesSince(db: Database, instanceId: string, exceptId: string, sinceUs: number, who: string): number {
  const row = db
    .query(
      `SELECT coalesce(sum(occurrences), 0) AS n FROM events
        WHERE instance_id = ?1 AND tier = 'T2' AND id != ?2 AND last_seen >= ?3 AND (process = ?4 OR unit = ?4)`,
    )
    .get(instanceId, exceptId, sinceUs, who) as { n: number };
  return row.n;
}

/** Whether rule `rule` stored an event about `unit` seen since `sinceUs`. */
export function unitRuleSeenSince(db: Database, instanceId: string, unit: string, rule: string, sinceUs: number): boolean {
  return (
    db
      .query(`SELECT 1 FROM events WHERE instance_id = ?1 AND unit = ?2 AND rule = ?4 AND last_seen >= ?3 LIMIT 1`)
      .get(instanceId, unit, sinceUs, rule) !== null
  );
}

export interface EventFactsRow {
  id: string;
  timestamp: number;
  facts_json: string;
}

/** The T1 events that started between fromUs and toUs (inclusive), newest first, with their facts as stored. */
export function t1EventsBetween(db: Database, instanceId: string, fromUs: number, toUs: number): EventFactsRow[] {
  return db
    .query(
      "SELECT id, timestamp, facts_json FROM events WHERE instance_id = ?1 AND tier = 'T1' AND timestamp BETWEEN ?2 AND ?3 ORDER BY timestamp DESC",
    )
    .all(instanceId, fromUs, toUs) as EventFactsRow[];
}
