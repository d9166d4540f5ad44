import { muteHolds, type Incident } from "./lifecycle.ts";

// An incident as JSON, the one shape `logtriage incidents --json` and the HTTP API's
// /incidents write. `silencedBy`: the Alertmanager silences that cover it (a silenced incident
// is muted too).

export function incidentJson(
  i: Incident,
  nowUs: number,
  eventIds: string[] | null = null,
  silencedBy: readonly string[] = [],
): Record<string, unknown> {
  return {
    id: i.id,
    instance: i.instanceId,
    fingerprint: i.fingerprint,
    kind: i.kind,
    subject: i.subject,
    state: i.state,
    firstSeen: new Date(i.firstSeenUs / 1000).toISOString(),
    lastSeen: new Date(i.lastSeenUs / 1000).toISOString(),
    resolved: i.resolvedUs === null ? null : new Date(i.resolvedUs / 1000).toISOString(),
    resolution: i.resolution,
    occurrences: i.occurrences,
    tier: i.tier,
    severity: i.severity,
    loop: i.loop,
    summary: i.summary,
    alerted: i.alerted !== null,
    muted: muteHolds(i, nowUs) || silencedBy.length > 0,
    mutedUntil: i.mute?.untilUs ? new Date(i.mute.untilUs / 1000).toISOString() : null,
    silencedBy,
    ...(eventIds === null ? {} : { events: eventIds }),
  };
}
