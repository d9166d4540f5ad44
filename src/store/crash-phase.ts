import type { Database } from "bun:sqlite";
import type { EnrichmentRecord } from "./enrichment.ts";

// A crash's phase follows what happens after it. The crash enricher decides startup / running
// / gave_up when the crash is stored, and a unit that then crashes again until systemd stops
// restarting it ("Start request repeated too quickly", rule unit-start-limit-hit) comes later:
// so when the start limit is hit, the unit's latest crash event becomes gave_up, in its
// evidence and its detail, and the caller re-sends its alert with that.

/** How far back a start-limit hit looks for the crash it ends: a crash loop's restarts are seconds apart. */
export const GAVE_UP_WINDOW_US = 10 * 60 * 1_000_000;

const PHASE_LINE = /^Phase: .*$/m;
const GAVE_UP_LINE = "Phase: gave_up (systemd stopped restarting the unit: start limit hit)";

/**
 * Marks the unit's latest enriched crash event (T2, within the window) as gave_up. Returns its
 * id when it changed, null when there is none or it already says gave_up. Call inside the
 * caller's transaction.
 */
export function markCrashGaveUp(db: Database, instanceId: string, unit: string, nowUs: number): string | null {
  const row = db
    .query(
      `SELECT id, detail, enrichment_json FROM events
        WHERE instance_id = ?1 AND tier = 'T2' AND unit = ?2 AND last_seen >= ?3 AND enrichment_json IS NOT NULL
        ORDER BY last_seen DESC LIMIT 1`,
    )
    .get(instanceId, unit, nowUs - GAVE_UP_WINDOW_US) as { id: string; detail: string; enrichment_json: string } | null;
  if (!row) return null;
  const record = JSON.parse(row.enrichment_json) as EnrichmentRecord;
  const crash = record.sections.find((s) => s.enricher === "crash");
  if (!crash || crash.evidence?.["phase"] === "gave_up") return null;
  crash.evidence = { ...(crash.evidence ?? {}), phase: "gave_up" };
  const had = crash.lines.findIndex((l) => PHASE_LINE.test(l));
  if (had >= 0) crash.lines[had] = GAVE_UP_LINE;
  else crash.lines.push(GAVE_UP_LINE);
  // The detail holds the enricher's lines already: the phase line is replaced in place, or added.
  const detail = PHASE_LINE.test(row.detail) ? row.detail.replace(PHASE_LINE, GAVE_UP_LINE) : `${row.detail.trimEnd()}\n${GAVE_UP_LINE}`;
  db.query("UPDATE events SET detail = ?2, enrichment_json = ?3 WHERE id = ?1").run(row.id, detail, JSON.stringify(record));
  return row.id;
}
