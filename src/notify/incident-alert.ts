import type { FloodSummary } from "../incidents/flood.ts";
import type { Incident } from "../incidents/lifecycle.ts";
import { formatLasted, resolvedLine } from "../incidents/lifecycle.ts";
import { alertTitle, fitBytes, fitTags, NTFY_MESSAGE_LIMIT_BYTES, type Notification } from "../text/alert.ts";

// An incident's notifications. All of them carry one ntfy sequence id, derived from the
// incident's id, so a phone shows one notification per incident: the first alert, updated in
// place when it escalates, then resolved (or cleared). ntfy's rule for a sequence id is its
// topic rule, letters, digits, "_" and "-", 1 to 64 (server/server.go sequenceIDRegex).

export function sequenceIdFor(incidentId: string): string {
  return `logtriage-${incidentId}`;
}

/** The lead event's alert, made the incident's: its sequence id, and on an update why it is one. */
export function incidentAlert(
  base: Notification,
  inc: Pick<Incident, "id" | "occurrences" | "firstSeenUs" | "lastSeenUs">,
  update: string | null,
): Notification {
  const n: Notification = { ...base, sequenceId: sequenceIdFor(inc.id) };
  if (update === null) return n;
  const head = `Update (${update}): ${inc.occurrences} occurrence${inc.occurrences === 1 ? "" : "s"} over ${formatLasted(inc.lastSeenUs - inc.firstSeenUs)}.`;
  return { ...n, message: fitBytes(`${head}\n\n${base.message}`, NTFY_MESSAGE_LIMIT_BYTES) };
}

/** The base notification with the incident's sequence id, whatever it holds (the enrichment's rewrite keeps the id). */
export function withSequence(base: Notification, incidentId: string | null | undefined): Notification {
  return incidentId ? { ...base, sequenceId: sequenceIdFor(incidentId) } : base;
}

/** "Resolved after 7 min: healthy again", replacing the incident's notification in place. */
export function resolvedNotification(inc: Incident, instanceId: string, click: string | null): Notification {
  const lines = [
    resolvedLine(inc),
    "",
    `Host: ${instanceId}`,
    `${inc.occurrences} occurrence${inc.occurrences === 1 ? "" : "s"}, highest severity ${inc.severity}.`,
    "",
    `Details: logtriage incidents --last 7d (incident ${inc.id})`,
  ];
  return {
    title: alertTitle("✅", instanceId, `Resolved: ${inc.summary}`),
    message: fitBytes(lines.join("\n"), NTFY_MESSAGE_LIMIT_BYTES),
    // ntfy's "low": the good news replaces the alert without buzzing like one.
    priority: 2,
    tags: fitTags(["white_check_mark", instanceId, inc.subject]),
    click,
    sequenceId: sequenceIdFor(inc.id),
  };
}

/** Dismiss the incident's notification (on_resolve = "clear"). */
export function clearNotification(inc: Incident): Notification {
  return { title: "", message: "", priority: 2, tags: [], click: null, sequenceId: sequenceIdFor(inc.id), op: "clear" };
}

/** Incidents past the per-minute limit, told together; one notification, updated in place each time. */
export function floodNotification(flood: FloodSummary, instanceId: string, click: string | null): Notification {
  const more = flood.count - flood.samples.length;
  const lines = [
    `${flood.count} more incident${flood.count === 1 ? "" : "s"} opened, past the limit of notifications a minute:`,
    "",
    ...flood.samples.map((s) => `• ${s}`),
    ...(more > 0 ? [`… and ${more} more`] : []),
    "",
    "All of them: logtriage incidents --open",
  ];
  return {
    title: alertTitle("⚠️", instanceId, `${flood.count} more incident${flood.count === 1 ? "" : "s"}`),
    message: fitBytes(lines.join("\n"), NTFY_MESSAGE_LIMIT_BYTES),
    priority: 4,
    tags: fitTags(["warning", instanceId]),
    click,
    sequenceId: `logtriage-flood-${instanceId.replace(/[^-_A-Za-z0-9]/g, "_")}`.slice(0, 64),
  };
}
