import type { Database } from "bun:sqlite";
import type { Candidate, Facts, StoredEvent, Tier } from "../event.ts";
import { crashProgramInScope, TIER_NAMES } from "../event.ts";
import { describeCandidate } from "../text/describe.ts";
import type { EnrichmentRecord } from "./enrichment.ts";

// Events, cooldown and aggregation. The same (instance, tier, unit-or-process) inside the
// cooldown window adds an occurrence to the open event instead of a new one; when the
// occurrences reach `aggregateThreshold` the event becomes one "crash loop" event. The
// window slides: it is measured from the last occurrence, so a loop that keeps going stays
// one event.

export interface CommitPolicy {
  instanceId: string;
  cooldownMs: number;
  aggregateThreshold: number;
}

/**
 * "new": a new event; "occurrence": folded into an open one; "aggregated": that fold made it a
 * crash loop; "merged": another line about the same crash (no new occurrence, no alert).
 */
export type CommitOutcome = { id: string; outcome: "new" | "occurrence" | "aggregated" | "merged" };

/**
 * How far apart the lines about one crash may be. The kernel's segfault line, systemd-coredump's
 * entry (after it has unwound the dump: seconds for a large process) and the unit's exit; on
 * this VM they came within a second (tests/fixtures/real/coredump-*.jsonl).
 */
export const CRASH_INCIDENT_WINDOW_US = 60 * 1_000_000;
/** An OOM kill: the kernel's report or lone lines, the reaper, the unit's notice and result. */
export const OOM_INCIDENT_WINDOW_US = 60 * 1_000_000;
/**
 * A unit failure: the exit, the timeouts, "Failed with result", "Failed to start". A start
 * timeout is followed by the stop timeout (TimeoutStopSec=, 90 s by default) before the result.
 */
export const UNIT_INCIDENT_WINDOW_US = 150 * 1_000_000;

/** The kinds of incident whose several lines join one event. */
type IncidentKind = "crash" | "oom" | "unit";

const INCIDENT_WINDOW_US: Record<IncidentKind, number> = {
  crash: CRASH_INCIDENT_WINDOW_US,
  oom: OOM_INCIDENT_WINDOW_US,
  unit: UNIT_INCIDENT_WINDOW_US,
};

/** The pid and the parts seen of an event's latest incident (events.incident_json; no kind: a crash). */
interface Incident {
  kind?: IncidentKind;
  pid: number | null;
  parts: string[];
}

/** Which incident a candidate may be a line of, and which line it is: the first that is open wins. */
interface IncidentPart {
  kind: IncidentKind;
  part: string;
}

const OWN_INCIDENT: Record<Tier, IncidentKind | null> = { T1: "oom", T2: "crash", T3: "unit", T4: null, T5: null };

/**
 * Whether candidates of this tier can be lines of one incident. Others are never joined into an
 * event nor joined to, so a caller that only wants the joins (replay without --store) may skip them.
 */
export function tierJoinsIncidents(tier: Tier): boolean {
  return OWN_INCIDENT[tier] !== null;
}

function unitResultOf(c: Candidate): string | null {
  return c.facts.kind === "unit" ? c.facts.result : null;
}

/**
 * The incidents a candidate can be a line of, in the order they are tried; it opens the one of
 * its own tier when none is open. A unit's "Failed with result 'signal'" joins the crash its
 * coredump or exit opened.
 */
function incidentPartsOf(c: Candidate): IncidentPart[] {
  if (c.tier === "T2" && c.facts.kind === "crash") {
    const part =
      c.rule === "coredump" || c.rule === "coredump-text"
        ? "coredump"
        : c.rule.startsWith("unit-abnormal-exit")
          ? "unit-exit"
          : c.rule.startsWith("unit-core-dump-result")
            ? "unit-result"
            : c.rule.startsWith("kernel-")
              ? "kernel"
              : c.rule;
    return [{ kind: "crash", part }];
  }
  if (c.tier === "T1" && (c.facts.kind === "oom-kill" || c.facts.kind === "userspace-oom-kill")) {
    // A whole report and its lone lines are one kernel part; the reaper and the unit's lines are others.
    const part =
      c.rule === "oom-reaper"
        ? "reaper"
        : c.rule.startsWith("kernel-")
          ? c.rule.replace(/^kernel-(?:memcg-)?oom-kill$/, "kernel-report")
          : c.rule.replace(/-text$/, "");
    return [{ kind: "oom", part }];
  }
  if (c.tier === "T3" && c.facts.kind === "unit" && c.unit !== null) {
    const result = unitResultOf(c);
    const rule = c.rule.replace(/-text$/, "");
    // A failure may log several timeouts (start, then stop-sigterm) and, before v236, both
    // "Unit X entered failed state." and "X failed.": each wording is a part of its own.
    const wording = (c.entries[0]?.message ?? "").replaceAll(c.unit, "").replace(/\d+/g, "#");
    const part = rule === "unit-timeout" || rule === "unit-entered-failed" ? `${rule}:${wording}` : rule;
    const unit: IncidentPart = { kind: "unit", part };
    // A unit's 'signal' result after a crash signal is one more line of that crash. Its failure
    // after an OOM kill stays its own event: the unit enricher names the OOM event in it (on
    // cgroup v1 systemd only sees a SIGKILL); the unit's own OOM notice and 'oom-kill' result
    // are T1 lines and join the kill.
    if (part === "unit-failed" && (result === "core-dump" || result === "signal")) return [{ kind: "crash", part: "unit-result" }, unit];
    return [unit, { kind: "crash", part: rule }];
  }
  return [];
}
const MAX_CURSORS_PER_EVENT = 200;
const MAX_LINES_PER_EVENT = 1000;

/** What makes two candidates "the same thing happening again". */
export function dedupKey(c: Candidate): string {
  // A probe's outage and its recovery are two events with keys of their own: the recovery
  // must alert, not fold into the outage (or the unit's failures) as one more occurrence.
  if (c.facts.kind === "probe") return `probe:${c.facts.probe.service}:${c.facts.probe.state}`;
  // Likewise logtriage's own blindness and its end, per subject.
  if (c.facts.kind === "blindness") return `blind:${c.facts.blindness.subject}:${c.facts.blindness.state}`;
  // A timer that stopped firing and a timer whose service failed are two problems of one
  // timer (one incident): the failure must not fold into the staleness as an occurrence.
  if (c.rule === "timer-stale" || c.rule === "timer-failed") return `timer:${c.unit ?? ""}:${c.rule}`;
  // Each disk is its own subject: two disks failing together are two events.
  if (c.facts.kind === "smart") return `smart:${c.facts.disk.device}`;
  // A crash in a scope is its program's: the scope is a session, not a subject.
  if (c.unit && crashProgramInScope(c) === null) return `unit:${c.unit}`;
  if (c.process) return `process:${c.process}`;
  if (c.facts.kind === "kernel" && c.facts.device) return `rule:${c.rule}:${c.facts.device}`;
  // No subject to tell occurrences apart (an MCE burst logs several lines): the rule is it.
  return `rule:${c.rule}`;
}

export function newEventId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function cursorsOf(c: Candidate): string[] {
  return c.entries.map((e) => e.cursor).filter((x): x is string => x !== null);
}

/** What a run of the same thing is called: a crash or failure repeating is a loop; other tiers just repeat. */
const AGGREGATE_WORD: Record<Tier, string> = {
  T1: "Repeated OOM kills",
  T2: "Crash loop",
  T3: "Crash loop",
  T4: "Repeated",
  T5: "Repeated",
};

function aggregateSummary(c: Candidate, occurrences: number, windowMs: number): string {
  const who = c.unit ?? c.process ?? c.rule;
  const minutes = Math.max(1, Math.round(windowMs / 60_000));
  // A unit restarted over and over with clean exits has not failed: no "crash" in its words.
  const restarts = c.facts.kind === "unit" && c.facts.result === "restart-loop";
  const word = restarts ? "Restart loop" : AGGREGATE_WORD[c.tier];
  const what = restarts ? "restart loop" : TIER_NAMES[c.tier];
  return `${word}: ${who} — ${occurrences}× ${what} within ${minutes} min of each other (latest: ${c.summary})`;
}

interface OpenEventRow {
  id: string;
  occurrences: number;
  aggregated: number;
  cursors_json: string;
}

interface OpenIncidentRow extends OpenEventRow {
  pid: number | null;
  unit: string | null;
  lines_json: string;
  incident_json: string;
}

/** The recent event a line may join; exported so a test can check its plan (idx_events_seen). */
export const OPEN_INCIDENT_SQL = `SELECT id, occurrences, aggregated, cursors_json, pid, unit, lines_json, incident_json FROM events
  WHERE instance_id = ?1 AND incident_json IS NOT NULL AND last_seen >= ?2
    AND coalesce(json_extract(incident_json, '$.kind'), 'crash') = ?5
    AND ((?3 IS NOT NULL AND (json_extract(incident_json, '$.pid') = ?3 OR pid = ?3))
         OR (?4 IS NOT NULL AND unit = ?4 AND (?6 IS NULL OR process = ?6)))
  ORDER BY last_seen DESC LIMIT 1`;

/**
 * The open event of incident kind `kind` that `c` is about, if any: the same pid (segfault
 * line ↔ coredump entry, OOM report ↔ reaper) or the same unit (coredump ↔ the unit's exit,
 * OOM report ↔ the unit's OOM notice). `sameIncident` says whether `c` is one more line about
 * that event's latest incident or a new one of the same subject (another pid, or a part that
 * incident already had: a second exit of the unit).
 */
function findIncident(
  db: Database,
  c: Candidate,
  wanted: IncidentPart,
  instanceId: string,
): { row: OpenIncidentRow; incident: Incident; sameIncident: boolean } | null {
  if (c.pid === null && c.unit === null) return null;
  const row = db.query(OPEN_INCIDENT_SQL).get(
    instanceId,
    c.timestampUs - INCIDENT_WINDOW_US[wanted.kind],
    c.pid,
    c.unit,
    wanted.kind,
    // A crash in a scope meets another crash there only when it is the same program.
    wanted.kind === "crash" ? crashProgramInScope(c) : null,
  ) as OpenIncidentRow | null;
  if (!row) return null;
  const incident = JSON.parse(row.incident_json) as Incident;
  const pidsAgree = c.pid === null || incident.pid === null || c.pid === incident.pid;
  return { row, incident, sameIncident: pidsAgree && !incident.parts.includes(wanted.part) };
}

/** Fold one more line about the same incident into its event: what it adds (unit, pid, lines), no new occurrence. */
function mergeIncidentLine(db: Database, c: Candidate, row: OpenIncidentRow, incident: Incident, part: string): CommitOutcome {
  const cursors = [...(JSON.parse(row.cursors_json) as string[]), ...cursorsOf(c)].slice(-MAX_CURSORS_PER_EVENT);
  const lines = [...(JSON.parse(row.lines_json) as string[]), ...c.entries.map((e) => e.message)].slice(0, MAX_LINES_PER_EVENT);
  const merged: Incident = { ...incident, pid: incident.pid ?? c.pid, parts: [...incident.parts, part] };
  db.query(
    `UPDATE events SET last_seen = max(last_seen, ?2), cursors_json = ?3, lines_json = ?4, incident_json = ?5,
                       unit = coalesce(unit, ?6), pid = coalesce(pid, ?7) WHERE id = ?1`,
  ).run(row.id, c.timestampUs, JSON.stringify(cursors), JSON.stringify(lines), JSON.stringify(merged), c.unit, c.pid);
  return { id: row.id, outcome: "merged" };
}

/** Store a candidate under the cooldown policy. Call inside the caller's transaction when batching. */
export function commitEvent(db: Database, c: Candidate, policy: CommitPolicy): CommitOutcome {
  const key = dedupKey(c);
  const windowUs = policy.cooldownMs * 1000;
  const parts = incidentPartsOf(c);
  // The incident the candidate opens when it joins none: the one of its own tier.
  const own = parts.find((p) => p.kind === OWN_INCIDENT[c.tier]);
  let related: ReturnType<typeof findIncident> = null;
  for (const wanted of parts) {
    const found = findIncident(db, c, wanted, policy.instanceId);
    if (found?.sameIncident) return mergeIncidentLine(db, c, found.row, found.incident, wanted.part);
    // A new incident of the subject its own kind already has open: an occurrence of that event.
    if (found && wanted === own) related = found;
  }
  // A new crash of a subject with an open crash event (same unit, another pid) is one more
  // occurrence of that event even when its first line names it differently (coredump: unit;
  // segfault line: process), so a crash loop stays one event.
  const open =
    related?.row ??
    (db
      .query(
        `SELECT id, occurrences, aggregated, cursors_json FROM events
          WHERE instance_id = ?1 AND dedup_key = ?2 AND tier = ?3 AND last_seen >= ?4
          ORDER BY last_seen DESC LIMIT 1`,
      )
      .get(policy.instanceId, key, c.tier, c.timestampUs - windowUs) as OpenEventRow | null);
  const incident = own === undefined ? null : JSON.stringify({ kind: own.kind, pid: c.pid, parts: [own.part] } satisfies Incident);
  if (open) {
    const occurrences = open.occurrences + 1;
    const cursors = [...(JSON.parse(open.cursors_json) as string[]), ...cursorsOf(c)].slice(-MAX_CURSORS_PER_EVENT);
    const becomesLoop = open.aggregated === 0 && occurrences >= policy.aggregateThreshold;
    const isLoop = becomesLoop || open.aggregated !== 0;
    // A crash loop's summary tracks its count; a plain event keeps its first summary.
    db.query(
      `UPDATE events SET occurrences = ?2, last_seen = max(last_seen, ?3), cursors_json = ?4,
                         aggregated = ?5, summary = coalesce(?6, summary), incident_json = coalesce(?7, incident_json) WHERE id = ?1`,
    ).run(
      open.id,
      occurrences,
      c.timestampUs,
      JSON.stringify(cursors),
      isLoop ? 1 : 0,
      isLoop ? aggregateSummary(c, occurrences, policy.cooldownMs) : null,
      incident,
    );
    return { id: open.id, outcome: becomesLoop ? "aggregated" : "occurrence" };
  }
  const id = newEventId();
  const headline = c.entries[0];
  db.query(
    `INSERT INTO events (id, instance_id, timestamp, last_seen, tier, severity, rule, summary, process, pid, unit,
                         detail, facts_json, raw_json, lines_json, cursors_json, dedup_key, incident_json)
     VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)`,
  ).run(
    id,
    policy.instanceId,
    c.timestampUs,
    c.tier,
    c.severity,
    c.rule,
    c.summary,
    c.process,
    c.pid,
    c.unit,
    describeCandidate(c),
    JSON.stringify(c.facts),
    JSON.stringify(headline ? headline.fields : {}),
    JSON.stringify(c.entries.slice(0, MAX_LINES_PER_EVENT).map((e) => e.message)),
    JSON.stringify(cursorsOf(c).slice(0, MAX_CURSORS_PER_EVENT)),
    key,
    incident,
  );
  return { id, outcome: "new" };
}

export interface EventQuery {
  sinceUs: number;
  untilUs?: number | undefined;
  tiers?: readonly Tier[] | undefined;
  instance?: string | undefined;
  process?: string | undefined;
  unit?: string | undefined;
  limit: number;
}

interface EventRow {
  id: string;
  instance_id: string;
  timestamp: number;
  last_seen: number;
  tier: Tier;
  severity: StoredEvent["severity"];
  rule: string;
  summary: string;
  process: string | null;
  pid: number | null;
  unit: string | null;
  detail: string;
  facts_json: string;
  raw_json: string;
  lines_json: string;
  cursors_json: string;
  occurrences: number;
  notified: number;
  enrichment_json?: string | null;
  incident_id?: string | null;
}

export interface StoredEventWithLines extends StoredEvent {
  lines: string[];
  /** What enrich/ found after the event was stored; null before (or without) enrichment. */
  enrichment: EnrichmentRecord | null;
  /** The incident it belongs to (store/incidents.ts); null before incidents, or for a recovery with nothing open. */
  incidentId?: string | null;
}

function rowToEvent(row: EventRow): StoredEventWithLines {
  return {
    id: row.id,
    instanceId: row.instance_id,
    timestampUs: row.timestamp,
    lastSeenUs: row.last_seen,
    tier: row.tier,
    severity: row.severity,
    rule: row.rule,
    summary: row.summary,
    process: row.process,
    pid: row.pid,
    unit: row.unit,
    detail: row.detail,
    facts: JSON.parse(row.facts_json) as Facts,
    occurrences: row.occurrences,
    cursors: JSON.parse(row.cursors_json) as string[],
    raw: [JSON.parse(row.raw_json) as Record<string, string>],
    lines: JSON.parse(row.lines_json) as string[],
    notified: row.notified !== 0,
    enrichment: row.enrichment_json ? (JSON.parse(row.enrichment_json) as EnrichmentRecord) : null,
    incidentId: row.incident_id ?? null,
  };
}

const LIST_COLUMNS =
  "id, instance_id, timestamp, last_seen, tier, severity, rule, summary, process, pid, unit, detail, facts_json, '{}' AS raw_json, '[]' AS lines_json, cursors_json, occurrences, notified";

function whereClause(q: EventQuery): { sql: string; params: (string | number)[] } {
  const parts = ["timestamp >= ?"];
  const params: (string | number)[] = [q.sinceUs];
  if (q.untilUs !== undefined) {
    parts.push("timestamp < ?");
    params.push(q.untilUs);
  }
  if (q.tiers?.length) {
    parts.push(`tier IN (${q.tiers.map(() => "?").join(", ")})`);
    params.push(...q.tiers);
  }
  if (q.instance !== undefined) {
    parts.push("instance_id = ?");
    params.push(q.instance);
  }
  if (q.process !== undefined) {
    parts.push("process = ?");
    params.push(q.process);
  }
  if (q.unit !== undefined) {
    parts.push("unit = ?");
    params.push(q.unit);
  }
  return { sql: parts.join(" AND "), params };
}

/** Newest first; the list view leaves out the raw fields and report lines (see `getEvent`). */
export function queryEvents(db: Database, q: EventQuery): StoredEvent[] {
  const where = whereClause(q);
  const rows = db
    .query(`SELECT ${LIST_COLUMNS} FROM events WHERE ${where.sql} ORDER BY timestamp DESC LIMIT ?`)
    .all(...where.params, q.limit) as EventRow[];
  return rows.map(rowToEvent);
}

export function countEvents(db: Database, q: Omit<EventQuery, "limit">): number {
  const where = whereClause({ ...q, limit: 0 });
  return (db.query(`SELECT count(*) AS n FROM events WHERE ${where.sql}`).get(...where.params) as { n: number }).n;
}

export type EventLookup = { kind: "found"; event: StoredEventWithLines } | { kind: "none" } | { kind: "ambiguous"; ids: string[] };

/** Find an event by id or unique id prefix (like git's short hashes). */
export function getEvent(db: Database, idOrPrefix: string): EventLookup {
  const prefix = idOrPrefix.toLowerCase();
  if (!/^[0-9a-f]{1,32}$/.test(prefix)) return { kind: "none" };
  const rows = db.query(`SELECT * FROM events WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id LIMIT 5`).all(prefix) as EventRow[];
  if (rows.length === 0) return { kind: "none" };
  const exact = rows.find((r) => r.id === prefix);
  if (exact) return { kind: "found", event: rowToEvent(exact) };
  if (rows.length > 1) return { kind: "ambiguous", ids: rows.map((r) => r.id) };
  return { kind: "found", event: rowToEvent(rows[0] as EventRow) };
}
