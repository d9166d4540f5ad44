import type { Database } from "bun:sqlite";
import type { Candidate, Entry, Facts } from "../event.ts";
import { parseJournalLine } from "../parse/journal-json.ts";
import { RunError } from "../run.ts";
import type { EnrichContext, Enricher, Enrichment } from "./enricher.ts";

// A failed unit's own last words: the lines the service printed before it failed ("disk full",
// "cannot bind :8080") are usually the whole answer, and the failure message never has them.
// And a unit that died of SIGKILL right after an OOM kill in its cgroup is named as such, with
// the OOM event, instead of leaving "signal 9" to be puzzled over.

const JOURNALCTL_TIMEOUT_MS = 5_000;
const LAST_LINES = 10;
/** An OOM kill this close before the failure is taken as its cause: systemd logs the failure within moments of the kill. */
const OOM_WINDOW_US = 30_000_000;

type UnitFacts = Extract<Facts, { kind: "unit" }>;

function unitFacts(candidate: Candidate): UnitFacts | null {
  return candidate.facts.kind === "unit" && candidate.facts.unit.endsWith(".service") ? candidate.facts : null;
}

/** True when the failure was reported by a user manager (systemd --user): it writes USER_UNIT=, the system manager UNIT=. */
export function isUserUnit(candidate: Candidate): boolean {
  return candidate.entries.some((e) => e.fields["USER_UNIT"] !== undefined || (e.fields["UNIT"] === undefined && e.fields["_SYSTEMD_USER_UNIT"] !== undefined));
}

/**
 * journalctl's argv for the unit's own output up to the failure. Matched on the sender's
 * cgroup (_SYSTEMD_UNIT / _SYSTEMD_USER_UNIT), not `-u`, which also brings systemd's messages
 * *about* the unit ("Failed with result …"), already in the event. A user unit also matches
 * _SYSTEMD_UNIT: journald names a user unit's processes by their cgroup, and a user manager
 * started outside user@UID.service (a container, this project's CI) puts them in
 * /app.slice/X.service, which journald reads as the system unit X.service (captured:
 * tests/fixtures/real/journalctl-unit-own-lines.jsonl).
 */
export function unitJournalArgv(unit: string, user: boolean, untilUs: number): string[] {
  const until = `@${Math.floor(untilUs / 1_000_000)}.${String(untilUs % 1_000_000).padStart(6, "0")}`;
  const matches = user ? [`_SYSTEMD_USER_UNIT=${unit}`, "+", `_SYSTEMD_UNIT=${unit}`] : [`_SYSTEMD_UNIT=${unit}`];
  return ["journalctl", "-o", "json", "--no-pager", "-n", String(LAST_LINES), `--until=${until}`, ...matches];
}

/** "00:38:15" in UTC, the zone the daemon's alerts use for times of day. */
function timeOfDay(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(11, 19);
}

/** The unit's own entries from journalctl's output, oldest first; systemd's messages about the unit left out. */
export function ownLines(stdout: string): Entry[] {
  const entries: Entry[] = [];
  for (const line of stdout.split("\n")) {
    const entry = line.trim() === "" ? null : parseJournalLine(line);
    if (!entry || entry.fields["UNIT"] !== undefined || entry.fields["USER_UNIT"] !== undefined) continue;
    entries.push(entry);
  }
  return entries;
}

interface OomRow {
  id: string;
  timestamp: number;
  facts_json: string;
}

/**
 * The stored OOM kill (T1) that killed this unit: within OOM_WINDOW_US before the failure, whose
 * victim's cgroup is the unit's (task_memcg / oom_memcg / a userspace killer's cgroup ends in
 * /UNIT) or whose victim pid is one of the unit's processes. The kernel's kill line comes before
 * systemd's failure message in the journal, and events are committed in journal order before
 * enrichment runs, so the T1 event is already stored when this looks.
 */
export function findOomKill(db: Database, instanceId: string, unit: string, pids: ReadonlySet<number>, failureUs: number): { id: string; victim: string | null } | null {
  const rows = db
    .query("SELECT id, timestamp, facts_json FROM events WHERE instance_id = ?1 AND tier = 'T1' AND timestamp BETWEEN ?2 AND ?3 ORDER BY timestamp DESC")
    .all(instanceId, failureUs - OOM_WINDOW_US, failureUs + 1_000_000) as OomRow[];
  const inUnit = (cgroup: string | null | undefined) => !!cgroup && (cgroup === unit || cgroup.endsWith(`/${unit}`));
  for (const row of rows) {
    let facts: Facts;
    try {
      facts = JSON.parse(row.facts_json) as Facts;
    } catch {
      // A row this version cannot read is not evidence either way.
      continue;
    }
    if (facts.kind === "oom-kill") {
      const v = facts.oom.victim;
      if (inUnit(facts.oom.taskMemcg) || inUnit(facts.oom.memcg) || (v && pids.has(v.pid))) return { id: row.id, victim: v ? `${v.name} (${v.pid})` : null };
    } else if (facts.kind === "userspace-oom-kill") {
      if (inUnit(facts.cgroup) || (facts.pid !== null && pids.has(facts.pid))) return { id: row.id, victim: facts.victim };
    }
  }
  return null;
}

function killedBySigkill(facts: UnitFacts, candidate: Candidate): boolean {
  if (facts.result === "oom-kill" || facts.result === "signal") return true;
  if (facts.exitStatus === "9" || facts.exitStatus === "KILL") return true;
  return candidate.entries.some((e) => /status=9\/KILL|code=killed, status=9/.test(e.message));
}

export function createUnitEnricher(): Enricher {
  return {
    name: "unit",
    timeoutMs: JOURNALCTL_TIMEOUT_MS + 1_000,
    applies: (candidate) => candidate.tier === "T3" && unitFacts(candidate) !== null && candidate.rule !== "timer-stale",
    async enrich(candidate: Candidate, ctx: EnrichContext): Promise<Enrichment> {
      const facts = unitFacts(candidate) as UnitFacts;
      // A monitor's event (a timer's failed service) has no journal entry to tell the manager by: ask for both.
      const user = candidate.entries.length === 0 || isUserUnit(candidate);
      const lines: string[] = [];
      const missing: string[] = [];
      const evidence: Record<string, unknown> = { unit: facts.unit, manager: user ? "user" : "system" };
      let entries: Entry[] = [];
      try {
        const result = await ctx.runner.run(unitJournalArgv(facts.unit, user, candidate.timestampUs), { timeoutMs: JOURNALCTL_TIMEOUT_MS, signal: ctx.signal, maxOutputBytes: 1 << 20 });
        if (result.exitCode !== 0) missing.push(`the journal could not be read for ${facts.unit} (${(result.stderr || `exit ${result.exitCode}`).trim().slice(0, 200)}): no last lines; run logtriage as root or in group systemd-journal`);
        else entries = ownLines(result.stdout);
      } catch (error) {
        if (!(error instanceof RunError)) throw error;
        missing.push(`journalctl cannot be run (${error.message}): no last lines`);
      }
      if (entries.length) {
        lines.push("Last lines before the failure:");
        for (const e of entries) lines.push(`  ${e.realtimeUs === null ? "--:--:--" : timeOfDay(e.realtimeUs)} ${e.message}`);
        evidence["lastLines"] = entries.length;
      } else if (missing.length === 0) {
        lines.push(`${facts.unit} wrote nothing to the journal before it failed.`);
      }

      let summary: string | undefined;
      if (killedBySigkill(facts, candidate)) {
        const pids = new Set(entries.map((e) => e.pid).filter((p): p is number => p !== null));
        const oom = findOomKill(ctx.db, ctx.instanceId, facts.unit, pids, candidate.timestampUs);
        if (oom) {
          lines.push(`Killed by the OOM killer${oom.victim ? ` (victim ${oom.victim})` : ""}, see event ${oom.id}.`);
          summary = `${facts.unit} was killed by the OOM killer`;
          evidence["oomEventId"] = oom.id;
        }
      }
      return { lines, ...(summary ? { summary } : {}), evidence, ...(missing.length ? { missing } : {}) };
    },
  };
}
