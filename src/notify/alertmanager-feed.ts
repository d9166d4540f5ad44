import type { Database } from "bun:sqlite";
import type { Incident } from "../incidents/lifecycle.ts";
import { getEvent } from "../store/events.ts";
import { feedStartedUs, owedAlerts, recordPosted, recordSilences, type OwedAlert } from "../store/alertmanager-sync.ts";
import { sleep, Wakeable } from "../sleep.ts";
import { postableAlert, type AlertmanagerClient, type AlertSubject, type PostableAlert } from "./alertmanager.ts";

// Feeds the incidents to Prometheus Alertmanager. Each pass posts what Alertmanager is owed
// (store/alertmanager-sync.ts): new and changed open incidents at once, every open one again
// each resend interval (Alertmanager resolves an alert on its own `resolve_timeout` after the
// last post), and a resolution (endsAt) until a post of it succeeds. A failed post leaves the
// table as it was, so the next pass owes the same: an Alertmanager outage delays, never loses.
// After a post it reads back which of its alerts Alertmanager has silenced, so `logtriage
// incidents` can show them muted.

export interface FeedLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface AlertmanagerFeedOptions {
  db: Database;
  client: AlertmanagerClient;
  instanceId: string;
  /** How often an open incident is posted again. */
  resendMs: number;
  /** Base URL of the local API when [http] is on: the alert links to the incident there. */
  detailsBaseUrl: string | null;
  log: FeedLog;
  /** Look for changed incidents this often even without a wake-up. Default 5 s. */
  pollMs?: number;
  /** After a failed post, wait this long before the next (doubling up to 1 min). Default 1 s. */
  retryInitialMs?: number;
}

export interface AlertmanagerCounters {
  posts: number;
  alertsPosted: number;
  failures: number;
  failingSinceMs: number | null;
  lastError: string | null;
}

/** At most this many incidents in one post (Alertmanager takes any number; this bounds a flood). */
const MAX_ALERTS_PER_POST = 500;
const RETRY_MAX_MS = 60_000;
const DESCRIPTION_MAX_CHARS = 2_000;

/** What the alert says, from the incident and the event its notification is written from. */
export function alertSubject(db: Database, incident: Incident): AlertSubject {
  const lookup = getEvent(db, incident.leadEventId);
  const lead = lookup.kind === "found" ? lookup.event : null;
  return {
    name: lead?.rule ?? incident.kind,
    tier: incident.tier,
    severity: incident.severity,
    summary: incident.summary,
    description: (lead?.detail ?? "").slice(0, DESCRIPTION_MAX_CHARS),
    unit: incident.kind === "unit" ? incident.subject : (lead?.unit ?? null),
    process: incident.kind === "program" ? incident.subject : (lead?.process ?? null),
    disk: incident.kind === "disk" ? incident.subject : null,
    incidentId: incident.id,
    openedUs: incident.firstSeenUs,
    resolvedUs: incident.state === "resolved" ? (incident.resolvedUs ?? incident.lastSeenUs) : null,
  };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

interface Planned {
  incidentId: string;
  labels: Record<string, string>;
  state: "firing" | "resolved";
}

/**
 * What one pass posts, pure apart from reading the lead events: `alerts` for Alertmanager,
 * `planned` for the sync table once the post succeeded.
 */
export function planPost(
  db: Database,
  owed: readonly OwedAlert[],
  options: { instanceId: string; detailsBaseUrl: string | null; resendMs: number; nowUs: number },
): { alerts: PostableAlert[]; planned: Planned[] } {
  const alerts: PostableAlert[] = [];
  const planned: Planned[] = [];
  const endNow = new Date(options.nowUs / 1000).toISOString();
  const resendUs = options.resendMs * 1000;
  for (const { incident, last } of owed) {
    const alert = postableAlert(alertSubject(db, incident), options.instanceId, options.detailsBaseUrl);
    // The alertname stays what it was first posted as: the incident's lead event may change
    // (a more severe line about the same failure), and a new name would be a new alert to
    // Alertmanager, grouped and routed apart from the one it had.
    const firstName = last?.labels["alertname"];
    if (firstName !== undefined) alert.labels["alertname"] = firstName;
    if (incident.state === "open" || last === null) {
      // Open, or resolved before Alertmanager ever saw it (it was down): firing first, so that
      // it is notified; the resolution follows once it has been firing a resend interval.
      const firing: PostableAlert = { ...alert };
      delete firing.endsAt;
      const changed = last !== null && !sameLabels(last.labels, firing.labels);
      const due = last === null || changed || options.nowUs - last.postedUs >= resendUs;
      if (!due) continue;
      // A label changed (a higher severity): under the old labels it is another alert, which
      // would otherwise stay firing until Alertmanager's resolve_timeout.
      if (changed && last.state === "firing") alerts.push({ ...firing, labels: last.labels, endsAt: endNow });
      alerts.push(firing);
      planned.push({ incidentId: incident.id, labels: firing.labels, state: "firing" });
    } else if (options.nowUs - last.firstPostedUs >= resendUs) {
      // End the alert Alertmanager holds, under the labels it holds it by, once it has been
      // firing long enough for Alertmanager's group_wait to have told someone.
      alerts.push({ ...alert, labels: last.labels });
      planned.push({ incidentId: incident.id, labels: last.labels, state: "resolved" });
    }
  }
  return { alerts, planned };
}

export class AlertmanagerFeed {
  readonly counters: AlertmanagerCounters = { posts: 0, alertsPosted: 0, failures: 0, failingSinceMs: null, lastError: null };
  private readonly options: AlertmanagerFeedOptions;
  private readonly waker = new Wakeable();
  /** When the feed first ran on this database: what was seen before is not Alertmanager's. */
  private sinceUs: number | null = null;

  constructor(options: AlertmanagerFeedOptions) {
    this.options = options;
  }

  /** Incidents changed: post without waiting for the next poll. */
  wake(): void {
    this.waker.wake();
  }

  async run(signal: AbortSignal): Promise<void> {
    const pollMs = this.options.pollMs ?? 5_000;
    const retryInitialMs = this.options.retryInitialMs ?? 1_000;
    let retryMs = retryInitialMs;
    while (!signal.aborted) {
      this.waker.clear();
      let ok = true;
      try {
        ok = await this.pass(signal);
      } catch (error) {
        // The database, not Alertmanager (locked past busy_timeout): nothing was recorded as
        // posted, so the next pass owes the same.
        this.options.log.error(`alertmanager: ${error instanceof Error ? error.message : String(error)}; trying again shortly`);
        ok = false;
      }
      if (ok) {
        retryMs = retryInitialMs;
        await this.waker.idle(pollMs, signal);
      } else {
        // A wake-up does not cut a retry short: Alertmanager is down, not out of date.
        await sleep(retryMs, signal);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }

  /** One pass; false when Alertmanager did not take the post. */
  async pass(signal: AbortSignal): Promise<boolean> {
    const { db, client, instanceId, detailsBaseUrl, resendMs, log } = this.options;
    const nowUs = Date.now() * 1000;
    this.sinceUs ??= feedStartedUs(db, nowUs);
    const { alerts, planned } = planPost(db, owedAlerts(db, this.sinceUs, MAX_ALERTS_PER_POST), {
      instanceId,
      detailsBaseUrl,
      resendMs,
      nowUs,
    });
    if (alerts.length === 0) return true;
    try {
      await client.postAlerts(alerts, signal);
    } catch (error) {
      if (signal.aborted) return true;
      const reason = error instanceof Error ? error.message : String(error);
      this.counters.failures++;
      this.counters.lastError = reason;
      // One line when an outage starts, not one per retry.
      if (this.counters.failingSinceMs === null) {
        this.counters.failingSinceMs = Date.now();
        log.warn(`${reason}; ${planned.length} incident(s) wait and are posted again until Alertmanager takes them`);
      }
      return false;
    }
    db.transaction(() => {
      for (const p of planned) recordPosted(db, p.incidentId, p.labels, p.state, nowUs);
    })();
    this.counters.posts++;
    this.counters.alertsPosted += alerts.length;
    if (this.counters.failingSinceMs !== null)
      log.info(`Alertmanager takes alerts again after ${Math.round((Date.now() - this.counters.failingSinceMs) / 1000)} s`);
    this.counters.failingSinceMs = null;
    this.counters.lastError = null;
    await this.readSilences(planned, signal);
    return true;
  }

  /** Which of the alerts just posted Alertmanager silences; a failure here only leaves the last answer standing. */
  private async readSilences(planned: readonly Planned[], signal: AbortSignal): Promise<void> {
    const { db, client, instanceId, log } = this.options;
    const url = client.urls[0];
    if (url === undefined || planned.length === 0) return;
    try {
      const alerts = await client.alerts(url, { instance: instanceId }, signal);
      const silences = new Map<string, string[]>();
      for (const a of alerts) {
        const id = a.labels["incident"];
        if (id !== undefined) silences.set(id, [...(silences.get(id) ?? []), ...a.silencedBy]);
      }
      db.transaction(() => {
        for (const p of planned)
          recordSilences(db, p.incidentId, p.state === "firing" ? [...new Set(silences.get(p.incidentId) ?? [])] : []);
      })();
    } catch (error) {
      log.debug(`alertmanager: could not read silences: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
