import type { Database } from "bun:sqlite";
import { explainSqliteError } from "../store/sqlite-errors.ts";
import { markExpired, markRefused, markSent, nextPending, recordAttempt } from "../store/outbox.ts";
import { NotifyError, NTFY_NO_CLEAR, NTFY_OLDER_SERVER, type Notifier, type SendReceipt } from "./notifier.ts";
import type { Notification } from "../text/alert.ts";
import { actionFor, PAUSE_RETRY_MS, type OutboxPause } from "./pause.ts";
import { sleep, Wakeable } from "../sleep.ts";

// Drains the outbox in id order. The oldest pending alert is retried (capped exponential
// backoff, at least what a 429's Retry-After asks) until ntfy takes it, and nothing behind it
// goes first: alerts arrive in the order things happened. A refusal that would meet every
// alert (401, 403, 404, 400: a revoked token, a wrong URL, a proxy) pauses the queue with
// nothing marked, says so once, and resumes when the config changes or a periodic retry
// succeeds (pause.ts has the whole table). Only an alert older than [ntfy] max_age is dropped.

export interface SenderLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface SenderOptions {
  db: Database;
  notifier: Notifier;
  log: SenderLog;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Look at the outbox this often even without a wake-up (rows written by another process). */
  idlePollMs?: number;
  /** An alert unsent this long is dropped (counted, kept as an `expired` row); [ntfy] max_age. */
  maxAgeMs?: number;
  /** While paused, retry the head alert this often. */
  pauseRetryMs?: number;
  /** While paused, a value that changes when the configuration does (files' mtimes); polled. */
  configVersion?: () => string;
  /** The configuration changed: a notifier built from it, or null to keep the current one. */
  reload?: () => Notifier | null;
}

export interface SenderCounters {
  sent: number;
  failed: number;
  retries: number;
  /** The current outage's first error, null while ntfy answers. */
  failingSince: number | null;
  lastError: string | null;
  /** Alerts set aside because ntfy refused that message (`outbox --retry` re-queues them). */
  refused: number;
  /** Alerts dropped unsent after max_age. */
  expired: number;
  /** Set while a refusal that every alert would meet holds the queue. */
  paused: OutboxPause | null;
  /**
   * Whether the server updates notifications in place (ntfy 2.16+), as its last reply to an
   * alert with a sequence id showed: it echoed the id (true) or not (false, an older server
   * that shows each update as a new notification); null until such an alert was sent.
   */
  updatesInPlace: boolean | null;
}

const ENRICHING_POLL_MS = 250;
const CONFIG_POLL_MS = 2_000;
const DEFAULT_MAX_AGE_MS = 7 * 86_400_000;

export class OutboxSender {
  readonly counters: SenderCounters = {
    sent: 0,
    failed: 0,
    retries: 0,
    failingSince: null,
    lastError: null,
    refused: 0,
    expired: 0,
    paused: null,
    updatesInPlace: null,
  };
  private readonly options: SenderOptions;
  private notifier: Notifier;
  private readonly waker = new Wakeable();
  private saidNoClear = false;

  constructor(options: SenderOptions) {
    this.options = options;
    this.notifier = options.notifier;
  }

  /** New rows are waiting: stop idling (does not cut a retry backoff short). */
  wake(): void {
    this.waker.wake();
  }

  private idle(ms: number, signal: AbortSignal, wakeable: boolean): Promise<void> {
    return wakeable ? this.waker.idle(ms, signal) : sleep(ms, signal);
  }

  async run(signal: AbortSignal): Promise<void> {
    const initialMs = this.options.backoffInitialMs ?? 1000;
    let backoffMs = initialMs;
    while (!signal.aborted) {
      try {
        backoffMs = await this.step(signal, backoffMs, initialMs);
      } catch (error) {
        // The database, not ntfy (locked past busy_timeout, disk trouble): the rows are safe
        // where they are; look again shortly.
        this.options.log.error(
          `outbox: ${explainSqliteError(error, this.options.db.filename)?.message ?? (error instanceof Error ? error.message : String(error))}; trying again in 5s`,
        );
        await this.idle(5_000, signal, false);
      }
    }
  }

  /** One pass: send the oldest pending alert (or idle); returns the next backoff. */
  private async step(signal: AbortSignal, backoffMs: number, initialMs: number): Promise<number> {
    const maxMs = this.options.backoffMaxMs ?? 60_000;
    this.waker.clear();
    const row = nextPending(this.options.db);
    if (!row) {
      await this.idle(this.options.idlePollMs ?? 30_000, signal, true);
      return backoffMs;
    }
    if (row.state === "enriching") {
      // The enrichment stage wakes us when it is done; its timeouts bound the wait. The poll
      // covers a wake-up that came before we started waiting.
      await this.idle(ENRICHING_POLL_MS, signal, true);
      return backoffMs;
    }
    const maxAgeMs = this.options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    const ageMs = Date.now() - row.createdUs / 1000;
    if (ageMs > maxAgeMs) {
      const reason = `unsent for ${Math.round(ageMs / 3_600_000)}h, longer than [ntfy] max_age (${Math.round(maxAgeMs / 3_600_000)}h)${this.counters.lastError ? `; last error: ${this.counters.lastError}` : ""}`;
      markExpired(this.options.db, row, reason, Date.now() * 1000);
      this.counters.expired++;
      this.options.log.warn(`alert ${row.eventId} dropped: ${reason}`);
      return backoffMs;
    }
    let failure: unknown = null;
    let receipt: SendReceipt | void = undefined;
    try {
      receipt = await this.notifier.send(row.notification, signal);
    } catch (error) {
      failure = error;
    }
    if (signal.aborted) return backoffMs;
    if (failure === null) {
      markSent(this.options.db, row, Date.now() * 1000);
      this.counters.sent++;
      this.noteServer(row.notification, receipt);
      if (this.counters.failingSince !== null) {
        this.options.log.info(`ntfy: delivering again after ${Math.round((Date.now() - this.counters.failingSince) / 1000)}s of failures`);
      }
      const paused = this.counters.paused;
      if (paused !== null)
        this.options.log.info(
          `ntfy takes alerts again: the outbox resumes after ${Math.round((Date.now() - paused.sinceMs) / 1000)}s paused`,
        );
      this.counters.paused = null;
      this.counters.failingSince = null;
      this.counters.lastError = null;
      return initialMs;
    }
    const reason = failure instanceof Error ? failure.message : String(failure);
    this.counters.lastError = reason;
    const action = actionFor(failure, row.notification.op !== undefined);
    if (action.action === "unsupported") {
      markRefused(this.options.db, row, `${NTFY_NO_CLEAR}: ${reason}`, Date.now() * 1000);
      this.counters.refused++;
      this.counters.lastError = null;
      this.counters.updatesInPlace = false;
      if (!this.saidNoClear) this.options.log.warn(`ntfy: ${NTFY_NO_CLEAR}; the notification stays on the phone`);
      this.saidNoClear = true;
      return backoffMs;
    }
    if (action.action === "refuse") {
      markRefused(this.options.db, row, reason, Date.now() * 1000);
      this.counters.refused++;
      this.options.log.error(
        `ntfy refused alert ${row.eventId} itself: ${reason}; it is set aside ('logtriage outbox --retry' queues it again) and the next one goes`,
      );
      return backoffMs;
    }
    if (action.action === "pause") {
      recordAttempt(this.options.db, row, reason);
      const before = this.counters.paused;
      // One line when the pause starts or its cause changes, not one per retry.
      if (before === null || before.reason !== reason) {
        const retryMs = this.options.pauseRetryMs ?? PAUSE_RETRY_MS;
        this.options.log.error(
          `ntfy: ${reason}. The outbox is paused, no alert is dropped: it resumes when the config or token file changes, or on a retry every ${Math.round(retryMs / 1000)}s`,
        );
      }
      this.counters.paused = {
        sinceMs: before?.sinceMs ?? Date.now(),
        status: failure instanceof NotifyError ? failure.status : null,
        reason,
      };
      await this.waitPaused(signal);
      return initialMs;
    }
    recordAttempt(this.options.db, row, reason);
    this.counters.retries++;
    // One line when an outage starts, not one per retry.
    if (this.counters.failingSince === null) {
      this.counters.failingSince = Date.now();
      this.options.log.warn(`ntfy: ${reason}; alerts wait in the outbox and are retried (backoff up to ${Math.round(maxMs / 1000)}s)`);
    }
    await this.idle(Math.max(backoffMs, action.atLeastMs), signal, false);
    return Math.min(backoffMs * 2, maxMs);
  }

  /** A published alert with a sequence id tells which ntfy we speak to (it has no version endpoint). */
  private noteServer(n: Notification, receipt: SendReceipt | void): void {
    if (n.sequenceId === undefined || n.op !== undefined || !receipt) return;
    const inPlace = receipt.echoedSequenceId === n.sequenceId;
    if (inPlace === this.counters.updatesInPlace) return;
    if (!inPlace) this.options.log.warn(`ntfy: ${NTFY_OLDER_SERVER}`);
    this.counters.updatesInPlace = inPlace;
  }

  /** Paused: until the retry period is over, or sooner when the configuration changes. */
  private async waitPaused(signal: AbortSignal): Promise<void> {
    const until = Date.now() + (this.options.pauseRetryMs ?? PAUSE_RETRY_MS);
    const version = this.options.configVersion;
    const seen = version?.();
    while (!signal.aborted && Date.now() < until) {
      await this.idle(Math.min(CONFIG_POLL_MS, until - Date.now()), signal, false);
      if (version === undefined || version() === seen) continue;
      let next: Notifier | null = null;
      try {
        next = this.options.reload?.() ?? null;
      } catch (error) {
        // A config edited into an invalid state: keep sending with the one we have, say why.
        this.options.log.warn(
          `the config changed but cannot be used, keeping the previous [ntfy] settings: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (next !== null) this.notifier = next;
      this.options.log.info("the configuration changed: retrying the paused outbox now");
      return;
    }
  }
}
