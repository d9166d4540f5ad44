import type { Database } from "bun:sqlite";
import { sleep } from "../sleep.ts";
import type { Candidate, Entry, Facts } from "../event.ts";
import { parseJournalLine } from "../parse/journal-json.ts";
import { RunError } from "../run.ts";
import type { EnrichContext, Enricher, Enrichment } from "./enricher.ts";
import { MESSAGE_ID } from "../classify/systemd-ids.ts";
import { t1EventsBetween } from "../store/event-queries.ts";
import { formatUtcClock } from "../text/format.ts";

// A failed unit's own last words: the lines the service printed before it failed ("disk full",
// "cannot bind :8080") are usually the whole answer, and the failure message never has them.
// And a unit that died of SIGKILL right after an OOM kill in its cgroup is named as such, with
// the OOM event, instead of leaving "signal 9" to be puzzled over.

const JOURNALCTL_TIMEOUT_MS = 5_000;
const EMPTY_RETRIES = 3;
/** How much further past the failure each retry looks. */
const EMPTY_RETRY_SLACK_US = 2_000_000;
const UNTIL_SLACK_US = 1_000_000;
const EMPTY_RETRY_MS = 1_000;
const LAST_LINES = 10;
/** An OOM kill this close before the failure is taken as its cause: systemd logs the failure within moments of the kill. */
const OOM_WINDOW_US = 30_000_000;

type UnitFacts = Extract<Facts, { kind: "unit" }>;

function unitFacts(candidate: Candidate): UnitFacts | null {
  return candidate.facts.kind === "unit" && candidate.facts.unit.endsWith(".service") ? candidate.facts : null;
}

export type UnitManager = { kind: "system" } | { kind: "user"; uid: number };

/** Which manager reported the failure: a user manager (systemd --user) writes USER_UNIT=, the system manager UNIT=; the user manager's entry carries its uid. */
export function unitManagerOf(entry: Entry): UnitManager {
  if (entry.fields["USER_UNIT"] === undefined) return { kind: "system" };
  const uid = Number(entry.fields["_UID"]);
  return { kind: "user", uid: Number.isSafeInteger(uid) ? uid : 0 };
}

function untilArg(untilUs: number): string {
  return `--until=@${Math.floor(untilUs / 1_000_000)}.${String(untilUs % 1_000_000).padStart(6, "0")}`;
}

/**
 * journalctl's argv for the unit's own output up to the failure. Matched on the sender's
 * cgroup (_SYSTEMD_UNIT / _SYSTEMD_USER_UNIT), not `-u`, which also brings systemd's messages
 * *about* the unit ("Failed with result …"), already in the event. A user unit also matches
 * _SYSTEMD_UNIT (with the manager's uid): journald names a process's unit by its cgroup, and a
 * user manager started outside user@UID.service (a container, this project's CI) puts its units
 * in /app.slice/X.service, which journald reads as the system unit X.service (captured:
 * tests/fixtures/real/unit-failed-user-service.jsonl, journalctl-unit-own-lines.jsonl).
 */
export function unitJournalArgv(unit: string, manager: UnitManager, untilUs: number): string[] {
  // journald stamps a unit's stdout lines when it reads them from the stream, which can be a
  // moment after the manager stamped the failure: a little slack keeps the last lines in (at the
  // price, for a unit restarted within it, of maybe a line of the next run).
  const head = ["journalctl", "--no-pager", "--quiet", "--output=json", `--lines=${LAST_LINES}`, untilArg(untilUs + UNTIL_SLACK_US)];
  if (manager.kind === "system") return [...head, `_SYSTEMD_UNIT=${unit}`];
  return [...head, `_SYSTEMD_USER_UNIT=${unit}`, `_UID=${manager.uid}`, "+", `_SYSTEMD_UNIT=${unit}`, `_UID=${manager.uid}`];
}

function journalEntries(stdout: string): Entry[] {
  const entries: Entry[] = [];
  for (const line of stdout.split("\n")) {
    const entry = line.trim() === "" ? null : parseJournalLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** The unit's own entries from journalctl's output, oldest first; systemd's messages about the unit and kernel lines left out. */
export function ownUnitEntries(stdout: string): Entry[] {
  return journalEntries(stdout).filter(
    (e) => e.transport !== "kernel" && e.fields["UNIT"] === undefined && e.fields["USER_UNIT"] === undefined,
  );
}

/** EXIT_CODE / EXIT_STATUS of the last "Main process exited" entry the rule kept with the candidate (the detail already explains it). */
function lastExit(entries: readonly Entry[]): { code: string; status: string } | null {
  const exits = entries.filter((e) => e.messageId === MESSAGE_ID.unitProcessExit && e.fields["EXIT_CODE"] !== undefined);
  const last = exits[exits.length - 1];
  return last ? { code: last.fields["EXIT_CODE"] as string, status: last.fields["EXIT_STATUS"] ?? "" } : null;
}

/**
 * The stored OOM kill (T1) that killed this unit: within OOM_WINDOW_US before the failure, whose
 * victim's cgroup is the unit's (task_memcg / oom_memcg / a userspace killer's cgroup ends in
 * /UNIT) or whose victim pid is one of the unit's processes. The kernel's kill line comes before
 * systemd's failure message in the journal, and events are committed in journal order before
 * enrichment runs, so the T1 event is already stored when this looks.
 */
export function findOomKillOfUnit(
  db: Database,
  instanceId: string,
  unit: string,
  pids: ReadonlySet<number>,
  failureUs: number,
): { id: string; victim: string | null } | null {
  const rows = t1EventsBetween(db, instanceId, failureUs - OOM_WINDOW_US, failureUs + 1_000_000);
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
      if (inUnit(facts.oom.taskMemcg) || inUnit(facts.oom.memcg) || (v && pids.has(v.pid)))
        return { id: row.id, victim: v ? `${v.name} (${v.pid})` : null };
    } else if (facts.kind === "userspace-oom-kill") {
      if (inUnit(facts.cgroup) || (facts.pid !== null && pids.has(facts.pid))) return { id: row.id, victim: facts.victim };
    }
  }
  return null;
}

function isSigkill(exit: { code: string; status: string } | null, facts: UnitFacts): boolean {
  if (exit) return exit.code === "killed" && (exit.status === "9" || exit.status === "KILL");
  return facts.result === "oom-kill" || facts.exitStatus === "9" || facts.exitStatus === "KILL";
}

const PERMISSION_HINT = "run logtriage as root or add its user to the systemd-journal group";

export function createUnitEnricher(): Enricher {
  return {
    name: "unit",
    timeoutMs: JOURNALCTL_TIMEOUT_MS + EMPTY_RETRIES * EMPTY_RETRY_MS + 1_000,
    applies: (candidate) => candidate.tier === "T3" && unitFacts(candidate) !== null,
    async enrich(candidate: Candidate, ctx: EnrichContext): Promise<Enrichment> {
      const facts = unitFacts(candidate) as UnitFacts;
      const reporter = candidate.entries.find((e) => e.fields["UNIT"] !== undefined || e.fields["USER_UNIT"] !== undefined);
      // A monitor's event (a timer's failed service) has no entry of systemd's: the user manager
      // the daemon runs beside is asked, which also finds a system unit's lines in CI's layout.
      const manager: UnitManager = reporter ? unitManagerOf(reporter) : { kind: "user", uid: process.getuid?.() ?? 0 };
      const lines: string[] = [];
      const missing: string[] = [];
      const evidence: Record<string, unknown> = { unit: facts.unit, manager };
      const untilUs = candidate.timestampUs;

      const ask = async (argv: string[]): Promise<string | null> => {
        try {
          const result = await ctx.runner.run(argv, { timeoutMs: JOURNALCTL_TIMEOUT_MS, signal: ctx.signal, maxOutputBytes: 1 << 20 });
          if (result.exitCode === 0) return result.stdout;
          const why = (result.stderr || `exit ${result.exitCode}`).trim().slice(0, 200);
          missing.push(`the journal could not be read for ${facts.unit} (${why}): ${PERMISSION_HINT}`);
        } catch (error) {
          if (!(error instanceof RunError)) throw error;
          missing.push(`journalctl cannot be run (${error.message}): no last lines of ${facts.unit}`);
        }
        return null;
      };

      let own = await ask(unitJournalArgv(facts.unit, manager, untilUs));
      let entries = own === null ? [] : ownUnitEntries(own);
      // A unit's output reaches journald through its stdout stream, another socket than the
      // manager's "Failed" message, and is stamped when journald takes it: on a busy or
      // just-started journald it can land seconds after the failure we are enriching. Ask again
      // before saying it wrote nothing, each time a little further past the failure (found
      // nothing so far, so there is no later run's output to mix in yet).
      for (let retry = 0; own !== null && entries.length === 0 && retry < EMPTY_RETRIES && !ctx.signal.aborted; retry++) {
        await sleep(EMPTY_RETRY_MS, ctx.signal);
        own = await ask(unitJournalArgv(facts.unit, manager, untilUs + (retry + 1) * EMPTY_RETRY_SLACK_US));
        entries = own === null ? [] : ownUnitEntries(own);
      }
      if (entries.length) {
        lines.push("Last lines before the failure:");
        for (const e of entries) lines.push(`  ${e.realtimeUs === null ? "--:--:--" : formatUtcClock(e.realtimeUs)} ${e.message}`);
        evidence["lastLines"] = entries.length;
      } else if (own !== null) {
        lines.push(`${facts.unit} wrote nothing to the journal before it failed.`);
      }

      const exit = lastExit(candidate.entries);
      if (exit) evidence["exit"] = exit;

      let summary: string | undefined;
      if (isSigkill(exit, facts)) {
        const pids = new Set(entries.map((e) => e.pid).filter((p): p is number => p !== null));
        const oom = findOomKillOfUnit(ctx.db, ctx.instanceId, facts.unit, pids, untilUs);
        if (oom) {
          lines.push(`Main process killed by the OOM killer, see event ${oom.id}${oom.victim ? ` (victim ${oom.victim})` : ""}.`);
          summary = `Service failed: ${facts.unit} — killed by the OOM killer`;
          evidence["oomEventId"] = oom.id;
        } else {
          lines.push(
            "SIGKILL with no OOM kill of this unit logged just before: a stop that timed out (TimeoutStopSec), `systemctl kill`, a userspace killer that does not log, or another process's kill -9.",
          );
        }
      }
      return { lines, ...(summary ? { summary } : {}), evidence, ...(missing.length ? { missing: [...new Set(missing)] } : {}) };
    },
  };
}
