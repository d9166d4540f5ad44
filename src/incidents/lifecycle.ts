import { SEVERITIES, TIERS, type Severity, type Tier } from "../event.ts";
import type { Fingerprint, IncidentKind } from "./fingerprint.ts";

// The one place where an incident's life is decided: opened by its first event, joined by the
// next ones, alerted once, updated in place when it escalates (at most once per update
// interval unless its severity rises), resolved in words with how long it lasted. Pure: the
// incident and the time come in, the next incident and what to tell the phone go out; the
// store (store/incidents.ts) keeps the rows and the daemon (daemon/incident-step.ts) wires.

export type IncidentState = "open" | "resolved";

/** What the phone was last told: the baseline an escalation is measured against. */
export interface AlertMark {
  atUs: number;
  severity: Severity;
  occurrences: number;
  loop: boolean;
  /** Told only as one of many in a flood summary: its resolution is not posted on its own. */
  summarised?: boolean;
}

/** A mute: until `untilUs` (null: no time limit), and only while severity and loop state stay as they were. */
export interface Mute {
  untilUs: number | null;
  severity: Severity;
  loop: boolean;
}

export interface Incident {
  id: string;
  instanceId: string;
  fingerprint: string;
  kind: IncidentKind;
  subject: string;
  state: IncidentState;
  firstSeenUs: number;
  lastSeenUs: number;
  resolvedUs: number | null;
  /** The resolution in words ("healthy again", "quiet for 5 min"); null while open. */
  resolution: string | null;
  /** The most occurrences any of its events has counted. */
  occurrences: number;
  /** Its most urgent tier and highest severity so far. */
  tier: Tier;
  severity: Severity;
  /** Some event of it became a crash loop (or repeated OOM kills). */
  loop: boolean;
  /** The event its notification is written from: the most severe one, the first on ties. */
  leadEventId: string;
  summary: string;
  /** Some event of it is one the policy alerts on (tier, severity, not quiet). */
  alertable: boolean;
  alerted: AlertMark | null;
  /** An escalation waits for the update interval to pass. */
  updateDue: boolean;
  mute: Mute | null;
}

/** One stored event, as the incident sees it. */
export interface IncidentEvent {
  eventId: string;
  tier: Tier;
  severity: Severity;
  summary: string;
  timestampUs: number;
  /** The event's own occurrence count after this commit. */
  occurrences: number;
  loop: boolean;
  /** The policy alerts on this event (tier/severity/quiet decided by incidents/policy.ts). */
  alertable: boolean;
}

/** Lower is more severe, as SEVERITIES lists them. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

function tierRank(t: Tier): number {
  return TIERS.indexOf(t);
}

export function openIncident(id: string, instanceId: string, fp: Fingerprint, ev: IncidentEvent): Incident {
  return {
    id,
    instanceId,
    fingerprint: fp.key,
    kind: fp.kind,
    subject: fp.subject,
    state: "open",
    firstSeenUs: ev.timestampUs,
    lastSeenUs: ev.timestampUs,
    resolvedUs: null,
    resolution: null,
    occurrences: ev.occurrences,
    tier: ev.tier,
    severity: ev.severity,
    loop: ev.loop,
    leadEventId: ev.eventId,
    summary: ev.summary,
    alertable: ev.alertable,
    alerted: null,
    updateDue: false,
    mute: null,
  };
}

/** The incident with one more event (a new one, or one more occurrence of one it has). */
export function joinIncident(inc: Incident, ev: IncidentEvent): Incident {
  const moreSevere = severityRank(ev.severity) < severityRank(inc.severity);
  // The lead event's own updates (a crash loop's summary) follow it; another event leads only by being more severe.
  const leads = moreSevere || ev.eventId === inc.leadEventId;
  return {
    ...inc,
    lastSeenUs: Math.max(inc.lastSeenUs, ev.timestampUs),
    occurrences: Math.max(inc.occurrences, ev.occurrences),
    tier: tierRank(ev.tier) < tierRank(inc.tier) ? ev.tier : inc.tier,
    severity: moreSevere ? ev.severity : inc.severity,
    loop: inc.loop || ev.loop,
    leadEventId: leads ? ev.eventId : inc.leadEventId,
    summary: leads ? ev.summary : inc.summary,
    alertable: inc.alertable || ev.alertable,
  };
}

/**
 * A program's (or cgroup's) incident whose event turned out to belong to a unit (the crash's
 * coredump entry names the unit the kernel's segfault line did not) becomes the unit's, so the
 * unit's exit and failure that follow join it.
 */
export function narrowToUnit(inc: Incident, unit: string | null): Incident {
  if (unit === null || (inc.kind !== "program" && inc.kind !== "cgroup")) return inc;
  // A scope is a session, not the program's own unit: the program stays the subject
  // (crashProgramInScope in event.ts).
  if (inc.kind === "program" && unit.endsWith(".scope")) return inc;
  return { ...inc, kind: "unit", subject: unit, fingerprint: `unit:${unit}` };
}

/**
 * A memory-pressure incident that ended in an OOM kill becomes the kill's (the unit, cgroup or
 * program killed): one incident on the phone, from "pressure rising" to "OOM kill", that the
 * unit's failure then joins.
 */
export function pressureBecomesKill(inc: Incident, kill: Fingerprint): Incident {
  if (inc.kind !== "pressure") return inc;
  return { ...inc, kind: kill.kind, subject: kill.subject, fingerprint: kill.key };
}

export interface AlertRules {
  /** Least time between two updates of one incident, unless its severity rises. */
  updateIntervalMs: number;
}

export type AlertAction =
  | { action: "open" }
  | { action: "update"; reason: string }
  /** An escalation held back by the update interval; the sweep sends it when the interval has passed. */
  | { action: "defer"; reason: string }
  | { action: "none"; why: string };

/** Whether a mute still holds: not expired, and severity and loop state as they were when muted. */
export function muteHolds(inc: Incident, nowUs: number): boolean {
  const m = inc.mute;
  if (m === null) return false;
  if (m.untilUs !== null && nowUs >= m.untilUs) return false;
  return severityRank(inc.severity) >= severityRank(m.severity) && (inc.loop === m.loop || !inc.loop);
}

/** Why the incident deserves a new look on the phone, compared with what it was last told; null when nothing grew. */
export function escalation(inc: Incident): { reason: string; severityRose: boolean } | null {
  const a = inc.alerted;
  if (a === null) return null;
  if (severityRank(inc.severity) < severityRank(a.severity))
    return { reason: `severity ${a.severity} → ${inc.severity}`, severityRose: true };
  if (inc.loop && !a.loop) return { reason: "became a loop", severityRose: false };
  // A count alone escalates by an order of magnitude: a loop already said it keeps happening.
  if (inc.occurrences >= Math.max(2, a.occurrences) * 10) return { reason: `${inc.occurrences} occurrences`, severityRose: false };
  return null;
}

/** What to tell the phone about an open incident now. */
export function decideAlert(inc: Incident, rules: AlertRules, nowUs: number): AlertAction {
  if (inc.state !== "open") return { action: "none", why: "resolved" };
  if (!inc.alertable) return { action: "none", why: "not alerted by the policy" };
  if (muteHolds(inc, nowUs)) return { action: "none", why: "muted" };
  if (inc.alerted === null) return { action: "open" };
  const up = escalation(inc);
  if (up === null) return { action: "none", why: "no escalation" };
  if (up.severityRose || nowUs - inc.alerted.atUs >= rules.updateIntervalMs * 1000) return { action: "update", reason: up.reason };
  return { action: "defer", reason: up.reason };
}

/** The incident after its alert (or update) was queued. */
export function markAlerted(inc: Incident, nowUs: number): Incident {
  return {
    ...inc,
    alerted: { atUs: nowUs, severity: inc.severity, occurrences: inc.occurrences, loop: inc.loop },
    updateDue: false,
    mute: inc.mute !== null && !muteHolds(inc, nowUs) ? null : inc.mute,
  };
}

export function withDecision(inc: Incident, decision: AlertAction, nowUs: number): Incident {
  if (decision.action === "open" || decision.action === "update") return markAlerted(inc, nowUs);
  if (decision.action === "defer") return { ...inc, updateDue: true };
  return inc;
}

export function resolveIncident(inc: Incident, nowUs: number, resolution: string): Incident {
  return { ...inc, state: "resolved", resolvedUs: nowUs, resolution, updateDue: false };
}

/** How long an incident lasted, first event to resolution, in words: "42 s", "1 min 30 s", "17 min", "3 h 5 min", "2 d 4 h" (rounded down). */
export function formatLasted(us: number): string {
  const s = Math.max(0, Math.floor(us / 1_000_000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 10 && s % 60 !== 0) return `${min} min ${s % 60} s`;
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** Quiet windows after which an incident of each kind counts as over. */
export interface ResolveWindows {
  /** A unit's failures or restart loop: quiet this long, and (checked by the caller) not failed. */
  unitMs: number;
  /** A crashing program. */
  programMs: number;
  /** A disk's errors or SMART change. */
  diskMs: number;
  /** Everything else (kernel errors, GPU, OOM kills outside a unit, pressure). */
  otherMs: number;
}

function windowFor(kind: IncidentKind, w: ResolveWindows): number | null {
  switch (kind) {
    case "probe":
      return null; // a probe's incident ends when the probe says healthy, not by silence
    case "unit":
      return w.unitMs;
    case "program":
      return w.programMs;
    case "disk":
      return w.diskMs;
    default:
      return w.otherMs;
  }
}

/**
 * An open incident quiet past its window: the resolution in words, or null when it is not
 * due. For a unit the caller still asks systemd whether the unit is failed before it resolves.
 */
export function quietResolution(inc: Incident, nowUs: number, windows: ResolveWindows): string | null {
  if (inc.state !== "open") return null;
  const windowMs = windowFor(inc.kind, windows);
  if (windowMs === null) return null;
  if (nowUs - inc.lastSeenUs < windowMs * 1000) return null;
  const quiet = `quiet for ${formatLasted(windowMs * 1000)}`;
  switch (inc.kind) {
    case "unit":
      return inc.loop ? `restart loop ${quiet}` : quiet;
    case "program":
      return `no crash for ${formatLasted(windowMs * 1000)}`;
    case "disk":
      return `no new errors for ${formatLasted(windowMs * 1000)}`;
    default:
      return quiet;
  }
}

/** The resolution notification's first line: "Resolved after 7 min: healthy again". */
export function resolvedLine(inc: Incident): string {
  const lasted = (inc.resolvedUs ?? inc.lastSeenUs) - inc.firstSeenUs;
  return `Resolved after ${formatLasted(lasted)}: ${inc.resolution ?? "over"}`;
}
