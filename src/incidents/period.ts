import type { Incident } from "./lifecycle.ts";
import { muteHolds } from "./lifecycle.ts";

// Incidents over a period, for the digest: new (a subject with no incident before), recurring
// (its subject had one before), still open at the end, resolved in it, and how many of those
// were muted (a mute silences the phone, not the digest). Pure: incidents and bounds in.

export type IncidentRow = Pick<
  Incident,
  "id" | "instanceId" | "fingerprint" | "state" | "firstSeenUs" | "lastSeenUs" | "resolvedUs" | "summary" | "mute" | "severity" | "loop"
>;

export interface IncidentCounts {
  /** Incidents active in the period (begun before its end; seen in it, or open through it). */
  active: number;
  new: number;
  recurring: number;
  stillOpen: number;
  resolved: number;
  muted: number;
  /** The new and recurring ones' summaries, oldest first. */
  opened: string[];
}

function activeIn(i: IncidentRow, sinceUs: number, untilUs: number): boolean {
  if (i.firstSeenUs >= untilUs) return false;
  const endUs = i.state === "open" ? Infinity : (i.resolvedUs ?? i.lastSeenUs);
  return endUs >= sinceUs || i.lastSeenUs >= sinceUs;
}

/**
 * `earlier`: fingerprints that had an incident beginning before `sinceUs` (an incident that
 * begins in the period with one of them is recurring).
 */
export function countIncidents(
  incidents: readonly IncidentRow[],
  earlier: ReadonlySet<string>,
  sinceUs: number,
  untilUs: number,
): IncidentCounts {
  const out: IncidentCounts = { active: 0, new: 0, recurring: 0, stillOpen: 0, resolved: 0, muted: 0, opened: [] };
  const seen = new Set(earlier);
  for (const i of [...incidents].sort((a, b) => a.firstSeenUs - b.firstSeenUs)) {
    if (!activeIn(i, sinceUs, untilUs)) {
      if (i.firstSeenUs < sinceUs) seen.add(i.fingerprint);
      continue;
    }
    out.active++;
    if (i.firstSeenUs >= sinceUs) {
      if (seen.has(i.fingerprint)) out.recurring++;
      else out.new++;
      out.opened.push(i.summary);
    }
    seen.add(i.fingerprint);
    if (i.state === "open" || (i.resolvedUs !== null && i.resolvedUs >= untilUs)) out.stillOpen++;
    else if (i.resolvedUs !== null && i.resolvedUs >= sinceUs) out.resolved++;
    if (i.mute !== null && muteHolds(i as Incident, untilUs)) out.muted++;
  }
  return out;
}

/**
 * The digest's period from `[digest] schedule`: a schedule naming a weekday ("Sun 09:00") is
 * weekly; one without ("09:00", "daily", "daily 09:00") is daily.
 */
export function digestPeriod(schedule: string): { days: number; word: "weekly" | "daily" } {
  return /^\s*(mon|tue|wed|thu|fri|sat|sun)/i.test(schedule) ? { days: 7, word: "weekly" } : { days: 1, word: "daily" };
}
