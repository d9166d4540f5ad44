import type { Database } from "bun:sqlite";
import type { OnResolve } from "../config/schema.ts";
import type { Candidate } from "../event.ts";
import { fingerprintOf, GPU_CRASH_JOIN_US, isOomKill, isPressureEnd, isRecovery, mayJoinGpuIncident } from "../incidents/fingerprint.ts";
import {
  decideAlert,
  joinIncident,
  markAlerted,
  muteHolds,
  narrowToUnit,
  openIncident,
  pressureBecomesKill,
  quietResolution,
  resolveIncident,
  withDecision,
  type AlertRules,
  type Incident,
  type ResolveWindows,
} from "../incidents/lifecycle.ts";
import type { IncidentPolicy } from "../incidents/policy.ts";
import { FloodGate } from "../incidents/flood.ts";
import { clearNotification, floodNotification, incidentAlert, resolvedNotification } from "../notify/incident-alert.ts";
import type { Notification } from "../text/alert.ts";
import { getEvent, type CommitOutcome, type StoredEventWithLines } from "../store/events.ts";
import {
  eventIsLoop,
  findOpenIncident,
  findRecentOpenOfKind,
  getIncident,
  linkEvent,
  newIncidentId,
  openIncidents,
  saveIncident,
} from "../store/incidents.ts";
import { enqueueAlert, waitsForEnrichment } from "../store/outbox.ts";
import type { UnitState } from "./unit-state.ts";
import type { UnitStart } from "../classify/unit-history.ts";

// Wiring of the incident step: after each event is stored (inside the writer's transaction),
// find or open its incident, let incidents/lifecycle.ts decide, save, and hand back what to
// queue for the phone. A periodic sweep sends updates the rate limit held back and resolves
// incidents gone quiet.

export interface QueuedIncidentAlert {
  /** The outbox row's event (the incident's lead event). */
  eventId: string;
  /**
   * Null: the incident's first alert, from the event just stored, which waits for that event's
   * enrichment and is written when released (with `incidentId`'s sequence id and buttons).
   */
  notification: Notification | null;
  incidentId: string;
}

export interface IncidentStepOptions {
  instanceId: string;
  policy: IncidentPolicy;
  rules: AlertRules;
  windows: ResolveWindows;
  onResolve: OnResolve;
  /** The lead event's alert; null when notifications are off (incidents are still kept). */
  toNotification: ((event: StoredEventWithLines) => Notification) | null;
  click: string | null;
  /**
   * What systemd says of the unit now: failed keeps its incident open past the quiet window,
   * and a timer's incident waits for the timer to fire again; null when it cannot tell (no
   * systemctl, no such unit), then quiet decides.
   */
  unitState?: (unit: string) => Promise<UnitState | null>;
  /** Incidents a minute that get a notification of their own; more are told in one summary. */
  maxOpensPerMinute?: number;
}

export class IncidentStep {
  readonly options: IncidentStepOptions;
  private readonly flood: FloodGate;

  constructor(options: IncidentStepOptions) {
    this.options = options;
    this.flood = new FloodGate(options.maxOpensPerMinute ?? 10);
  }

  ignores(c: Candidate): boolean {
    return this.options.policy.ignores(c);
  }

  /**
   * Call inside the transaction that stored `outcome`'s event. `enriched`: the event goes to
   * the enrichment stage, so the first alert it opens is left unwritten until that is done.
   */
  record(db: Database, c: Candidate, outcome: CommitOutcome, nowUs: number, enriched = false): QueuedIncidentAlert[] {
    const { instanceId, policy, rules } = this.options;
    const lookup = getEvent(db, outcome.id);
    if (lookup.kind !== "found") return [];
    const event = lookup.event;
    const fp = fingerprintOf(c);
    // An event already in an open incident stays there (another line about the same crash);
    // else the open incident of its subject; else, for a compositor's crash, a GPU hang just before.
    const own = event.incidentId ? getIncident(db, event.incidentId) : null;
    const existing =
      (own?.kind === "found" && own.incident.state === "open" ? own.incident : null) ??
      findOpenIncident(db, instanceId, fp.key) ??
      (mayJoinGpuIncident(c) ? findRecentOpenOfKind(db, instanceId, "gpu", c.timestampUs - GPU_CRASH_JOIN_US) : null) ??
      (isOomKill(c) ? findRecentOpenOfKind(db, instanceId, "pressure", 0) : null);

    if (isPressureEnd(c)) {
      // The episode is over: its incident (if the OOM kill did not take it over) is resolved;
      // an episode never told while it lasted is kept as an incident already over, for the digest.
      const p = c.facts.kind === "memory-pressure" ? c.facts.pressure : null;
      const endUs = p?.endUs ?? c.timestampUs;
      const ev = {
        eventId: event.id,
        tier: c.tier,
        severity: c.severity,
        summary: event.summary,
        timestampUs: endUs,
        occurrences: event.occurrences,
        loop: false,
        alertable: false,
      };
      const base =
        existing?.kind === "pressure"
          ? joinIncident(existing, ev)
          : openIncident(newIncidentId(), instanceId, fp, { ...ev, timestampUs: p?.startUs ?? c.timestampUs });
      const resolved = resolveIncident(
        { ...base, lastSeenUs: Math.max(base.lastSeenUs, endUs) },
        endUs,
        p?.ended === false ? "the daemon stopped during it" : "pressure eased",
      );
      linkEvent(db, event.id, resolved.id);
      saveIncident(db, resolved);
      return this.resolutionAlerts(resolved);
    }

    if (isRecovery(c)) {
      if (existing === null) return []; // nothing open to resolve (the outage began before this database)
      linkEvent(db, event.id, existing.id);
      // A probe is "healthy again"; logtriage seeing again says what it re-read.
      const resolution = c.facts.kind === "blindness" ? event.summary.replace(/^logtriage /, "") : "healthy again";
      const resolved = resolveIncident(
        { ...existing, lastSeenUs: Math.max(existing.lastSeenUs, c.timestampUs) },
        c.timestampUs,
        resolution,
      );
      saveIncident(db, resolved);
      return this.resolutionAlerts(resolved);
    }

    // One more occurrence of a folded event whose incident was resolved opens a new incident:
    // the thing came back.
    const loop = eventIsLoop(db, event.id);
    const ev = {
      eventId: event.id,
      tier: c.tier,
      severity: c.severity,
      summary: event.summary,
      timestampUs: c.timestampUs,
      occurrences: event.occurrences,
      loop,
      alertable: policy.alerts(c),
    };
    let inc: Incident = existing ? joinIncident(existing, ev) : openIncident(newIncidentId(), instanceId, fp, ev);
    const narrowed = isOomKill(c) ? pressureBecomesKill(narrowToUnit(inc, event.unit), fp) : narrowToUnit(inc, event.unit);
    if (narrowed !== inc && findOpenIncident(db, instanceId, narrowed.fingerprint) === null) inc = narrowed;
    linkEvent(db, event.id, inc.id);
    const decision = decideAlert(inc, rules, nowUs);
    inc = withDecision(inc, decision, nowUs);
    saveIncident(db, inc);
    if (decision.action !== "open" && decision.action !== "update") return [];
    if (decision.action === "open" && this.options.toNotification !== null && !this.flood.admit(nowUs, inc.summary, inc.leadEventId)) {
      saveIncident(db, { ...inc, alerted: inc.alerted && { ...inc.alerted, summarised: true } });
      return [];
    }
    const first = decision.action === "open" && inc.leadEventId === event.id && outcome.outcome === "new";
    if (first && enriched && this.options.toNotification !== null) return [{ eventId: event.id, notification: null, incidentId: inc.id }];
    const alert = this.alertFor(db, inc, decision.action === "update" ? decision.reason : null, event);
    return alert ? [{ ...alert, incidentId: inc.id }] : [];
  }

  private alertFor(
    db: Database,
    inc: Incident,
    update: string | null,
    justStored: StoredEventWithLines | null,
  ): { eventId: string; notification: Notification } | null {
    const toNotification = this.options.toNotification;
    if (toNotification === null) return null;
    let lead = justStored?.id === inc.leadEventId ? justStored : null;
    if (lead === null) {
      const found = getEvent(db, inc.leadEventId);
      if (found.kind !== "found") return null;
      lead = found.event;
    }
    return { eventId: lead.id, notification: incidentAlert(toNotification({ ...lead, incidentId: inc.id }), inc, update) };
  }

  /**
   * A unit started again (its "Started" line, read after its failure was stored): its open
   * incident is resolved at once, when systemd, where it can be asked, does not say the unit
   * failed again or waits to be restarted. A start Restart= scheduled never comes here (the
   * classifier tells them apart), nor one older than the incident's last event. Returns how
   * many alerts it queued.
   */
  async unitStarted(db: Database, start: UnitStart, nowUs: number): Promise<number> {
    const { instanceId, unitState } = this.options;
    const fingerprint = `unit:${start.unit}`;
    const before = findOpenIncident(db, instanceId, fingerprint);
    // A timer's incident ends when the timer fires, not when it is armed ("Started X.timer").
    if (before === null || before.lastSeenUs > start.atUs || start.unit.endsWith(".timer")) return 0;
    const state = unitState ? await unitState(start.unit) : null;
    if (state !== null && (state.failed || state.sub === "auto-restart")) return 0;
    const why = state === null ? "started again" : "active again";
    let queued = 0;
    db.transaction(() => {
      // Read again: an event may have joined it while systemctl answered.
      const inc = findOpenIncident(db, instanceId, fingerprint);
      if (inc === null || inc.id !== before.id || inc.lastSeenUs > start.atUs) return;
      const resolved = resolveIncident(inc, Math.max(start.atUs, inc.lastSeenUs), why);
      saveIncident(db, resolved);
      for (const a of this.resolutionAlerts(resolved)) {
        enqueueAlert(db, a.eventId, a.notification, nowUs);
        queued++;
      }
    })();
    return queued;
  }

  /**
   * A root cause came after the incident's alert was written (an enricher's late answer, now
   * stored in the event): the notification is updated in place with it, at once. The update
   * interval is not waited for: it keeps counts from buzzing the phone, while a cause comes at
   * most once per enricher per event and is what the reader needs to act. Call inside the
   * transaction that stored the answer; returns how many alerts it queued.
   */
  rootCauseFound(db: Database, eventId: string, nowUs: number): number {
    if (this.options.toNotification === null) return 0;
    const lookup = getEvent(db, eventId);
    if (lookup.kind !== "found" || !lookup.event.incidentId) return 0;
    const found = getIncident(db, lookup.event.incidentId);
    if (found.kind !== "found") return 0;
    const inc = found.incident;
    // Only a notification written from this event shows its cause; one the phone never got on
    // its own (a flood summary), or a muted or resolved incident, is left as it is.
    if (inc.state !== "open" || inc.leadEventId !== eventId || inc.alerted === null || inc.alerted.summarised === true) return 0;
    if (muteHolds(inc, nowUs)) return 0;
    // Its first alert still waiting to be written will be written from the enriched event.
    if (waitsForEnrichment(db, eventId)) return 0;
    const next = markAlerted(inc, nowUs);
    saveIncident(db, next);
    const alert = this.alertFor(db, next, "root cause found", lookup.event);
    if (alert === null) return 0;
    enqueueAlert(db, alert.eventId, alert.notification, nowUs);
    return 1;
  }

  private resolutionAlerts(inc: Incident): (QueuedIncidentAlert & { notification: Notification })[] {
    // Only an incident the phone heard of on its own is resolved on the phone.
    if (this.options.toNotification === null || inc.alerted === null || inc.alerted.summarised === true) return [];
    switch (this.options.onResolve) {
      case "none":
        return [];
      case "clear":
        return [{ eventId: inc.leadEventId, notification: clearNotification(inc), incidentId: inc.id }];
      case "update":
        return [
          {
            eventId: inc.leadEventId,
            notification: resolvedNotification(inc, this.options.instanceId, this.options.click),
            incidentId: inc.id,
          },
        ];
    }
  }

  /**
   * Send the updates the rate limit held back, and resolve incidents quiet past their window
   * (a unit only when systemd does not say it is still failed). Returns how many alerts it queued.
   */
  async sweep(db: Database, nowUs: number): Promise<number> {
    const open = openIncidents(db).filter((i) => i.instanceId === this.options.instanceId);
    const toResolve: { inc: Incident; why: string }[] = [];
    for (const inc of open) {
      const why = quietResolution(inc, nowUs, this.options.windows);
      if (why === null) continue;
      if (inc.kind === "unit" && this.options.unitState) {
        const state = await this.options.unitState(inc.subject);
        if (state?.failed === true) continue;
        if (inc.subject.endsWith(".timer") && state !== null) {
          // A stale or failed timer is over when it has fired since: its unit is "active" (waiting) either way.
          if (state.lastTriggerUs === null || state.lastTriggerUs <= inc.lastSeenUs) continue;
          toResolve.push({ inc, why: "the timer fired again" });
        } else toResolve.push({ inc, why: state !== null && !inc.loop ? `active again, ${why}` : why });
      } else toResolve.push({ inc, why });
    }
    let queued = 0;
    db.transaction(() => {
      for (const { inc, why } of toResolve) {
        // Read again: an event may have joined it while systemctl answered.
        const now = findOpenIncident(db, inc.instanceId, inc.fingerprint);
        if (now === null || now.id !== inc.id || now.lastSeenUs !== inc.lastSeenUs) continue;
        // Over since its last event: the quiet window only proved it.
        const resolved = resolveIncident(now, now.lastSeenUs, why);
        saveIncident(db, resolved);
        for (const a of this.resolutionAlerts(resolved)) {
          enqueueAlert(db, a.eventId, a.notification, nowUs);
          queued++;
        }
      }
      for (const inc of openIncidents(db)) {
        if (!inc.updateDue || inc.instanceId !== this.options.instanceId) continue;
        const decision = decideAlert(inc, this.options.rules, nowUs);
        if (decision.action === "defer") continue;
        const next = withDecision(decision.action === "none" ? { ...inc, updateDue: false } : inc, decision, nowUs);
        saveIncident(db, next);
        if (decision.action !== "update" && decision.action !== "open") continue;
        const alert = this.alertFor(db, next, decision.action === "update" ? decision.reason : null, null);
        if (alert) {
          enqueueAlert(db, alert.eventId, alert.notification, nowUs);
          queued++;
        }
      }
      const flood = this.options.toNotification === null ? null : this.flood.takeSummary(nowUs);
      if (flood !== null) {
        enqueueAlert(db, flood.lastEventId, floodNotification(flood, this.options.instanceId, this.options.click), nowUs);
        queued++;
      }
    })();
    return queued;
  }
}
