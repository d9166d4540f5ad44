import type { Database } from "bun:sqlite";
import type { Candidate, Tier } from "../event.ts";
import type { EnrichmentStage } from "../enrich/stage.ts";
import type { Notification } from "../text/alert.ts";
import { saveCursor } from "../store/cursor.ts";
import { commitEvent, getEvent, type CommitPolicy, type StoredEventWithLines } from "../store/events.ts";
import { enqueueAfterEnrichment, enqueueAlert } from "../store/outbox.ts";
import type { IncidentStep } from "./incident-step.ts";
import { markCrashGaveUp } from "../store/crash-phase.ts";

// The store step of the pipeline, shared by the log pipeline (which commits at quiet points
// with its source position) and the monitors (PSI, SMART, timers: no position, at once). One
// transaction holds the events, their alerts and the position. A new event some enricher
// wants is handed to the enrichment stage after the commit; its alert keeps its place in the
// queue as `enriching`, unwritten, and the stage writes it once, with the why.

export interface AlertPolicy {
  tiers: ReadonlySet<Tier>;
  /** The notification for a stored event (title/body from notify/alert.ts). */
  toNotification(event: StoredEventWithLines): Notification;
}

export interface WriterOptions {
  db: Database;
  policy: CommitPolicy;
  /** Null when notifications are off: no outbox rows are written. */
  alerts: AlertPolicy | null;
  /** Null when nothing is enriched (replay, tests). */
  enrichment?: EnrichmentStage | null;
  /**
   * The incident step: drops ignored candidates, joins each stored event to its incident and
   * decides its alerts (then `alerts.tiers` is not used). Null: one alert per new event.
   */
  incidents?: IncidentStep | null;
  /** Called after a commit that queued alerts (wakes the sender). */
  onAlertsQueued?: () => void;
  /** Called after a commit that stored events (their incidents may have changed). */
  onStored?: () => void;
}

export interface CommitResult {
  created: number;
  folded: number;
  queued: number;
}

export class EventWriter {
  private readonly options: WriterOptions;
  /** Monitor candidates whose commit failed, retried on the next submit or timer. */
  private unsubmitted: Candidate[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: WriterOptions) {
    this.options = options;
  }

  /**
   * Stores candidates and, when given, the source position, in one transaction; throws when
   * the database refuses (the caller retries: the log pipeline holds its reading meanwhile).
   */
  commit(
    candidates: readonly Candidate[],
    source: { name: string; position: string } | null,
    sideRows: readonly { name: string; position: string }[] = [],
  ): CommitResult {
    const { db, policy, alerts, enrichment } = this.options;
    const nowUs = Date.now() * 1000;
    const result: CommitResult = { created: 0, folded: 0, queued: 0 };
    const toEnrich: { id: string; candidate: Candidate }[] = [];
    db.transaction(() => {
      const incidents = this.options.incidents ?? null;
      for (const c of candidates) {
        if (incidents?.ignores(c)) continue;
        const outcome = commitEvent(db, c, policy);
        if (outcome.outcome === "new") result.created++;
        else result.folded++;
        const enrich = outcome.outcome === "new" && (enrichment?.wants(c) ?? false);
        if (enrich) toEnrich.push({ id: outcome.id, candidate: c });
        // A new event alerts; so does the fold that turns one into a crash loop. Other folds
        // are the cooldown doing its job, and a merged line is one more line about a crash
        // already alerted: one alert per incident.
        if (incidents) {
          for (const a of incidents.record(db, c, outcome, nowUs, enrich)) {
            if (a.notification === null) enqueueAfterEnrichment(db, a.eventId, { incidentId: a.incidentId }, nowUs);
            else enqueueAlert(db, a.eventId, a.notification, nowUs);
            result.queued++;
          }
          continue;
        }
        // logtriage's own blindness alerts whatever alert_tiers says: a monitor that cannot see
        // and stays silent looks exactly like a healthy machine.
        const tierAlerts = alerts !== null && (alerts.tiers.has(c.tier) || c.facts.kind === "blindness");
        if (alerts && (outcome.outcome === "new" || outcome.outcome === "aggregated") && tierAlerts) {
          const lookup = getEvent(db, outcome.id);
          if (lookup.kind === "found") {
            if (enrich) enqueueAfterEnrichment(db, outcome.id, { incidentId: lookup.event.incidentId ?? null }, nowUs);
            else enqueueAlert(db, outcome.id, alerts.toNotification(lookup.event), nowUs);
            result.queued++;
          }
        }
      }
      for (const c of candidates) {
        // The start limit ends a crash loop: the unit's crash event says gave_up now, and its
        // alert goes out again saying so.
        if (c.rule !== "unit-start-limit-hit" || c.unit === null) continue;
        const crashId = markCrashGaveUp(db, policy.instanceId, c.unit, c.timestampUs);
        const lookup = crashId === null ? null : getEvent(db, crashId);
        if (alerts && crashId !== null && lookup?.kind === "found" && alerts.tiers.has(lookup.event.tier)) {
          enqueueAlert(db, crashId, alerts.toNotification(lookup.event), nowUs);
          result.queued++;
        }
      }
      if (source) saveCursor(db, source.name, source.position, nowUs);
      for (const row of sideRows) saveCursor(db, row.name, row.position, nowUs);
    }).immediate();
    for (const job of toEnrich) enrichment?.enqueue(job.id, job.candidate);
    if (result.queued > 0) this.options.onAlertsQueued?.();
    if (result.created + result.folded > 0) this.options.onStored?.();
    return result;
  }

  /**
   * A monitor's candidates: stored at once. When the database refuses, they wait in memory
   * and are retried every few seconds, in order, before anything submitted later.
   */
  submit(candidates: readonly Candidate[], log: { error(message: string): void }): void {
    this.unsubmitted.push(...candidates);
    this.flushUnsubmitted(log);
  }

  private flushUnsubmitted(log: { error(message: string): void }): void {
    if (this.unsubmitted.length === 0) return;
    try {
      this.commit(this.unsubmitted, null);
      this.unsubmitted = [];
    } catch (error) {
      log.error(
        `cannot store ${this.unsubmitted.length} monitor event(s) (${error instanceof Error ? error.message : String(error)}); retrying in 5s`,
      );
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = null;
        this.flushUnsubmitted(log);
      }, 5_000);
    }
  }

  /** Stops retrying (daemon stop); what is still unstored is reported. */
  close(): number {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return this.unsubmitted.length;
  }
}
