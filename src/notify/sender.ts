import type { Database } from "bun:sqlite";
import { markFailed, markSent, nextPending, recordAttempt } from "../store/outbox.ts";
import { NotifyError, type Notifier } from "./notifier.ts";

// Drains the outbox in id order. The oldest pending alert is retried (capped exponential
// backoff) until ntfy takes it, and nothing behind it goes first: alerts arrive in the order
// things happened. A refusal that retrying cannot fix (401, 404, 400) is a configuration
// problem: that row is marked failed with the reason, logged once, and the queue moves on.

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
}

export interface SenderCounters {
  sent: number;
  failed: number;
  retries: number;
  /** The current outage's first error, null while ntfy answers. */
  failingSince: number | null;
  lastError: string | null;
}

const ENRICHING_POLL_MS = 250;

export class OutboxSender {
  readonly counters: SenderCounters = { sent: 0, failed: 0, retries: 0, failingSince: null, lastError: null };
  private readonly options: SenderOptions;
  private wakeUp: (() => void) | null = null;
  private woken = false;

  constructor(options: SenderOptions) {
    this.options = options;
  }

  /** New rows are waiting: stop idling (does not cut a retry backoff short). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private idle(ms: number, signal: AbortSignal, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || (wakeable && this.woken)) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        if (wakeable) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      if (wakeable) this.wakeUp = done;
    });
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
        this.options.log.error(`outbox: ${error instanceof Error ? error.message : String(error)}; trying again in 5s`);
        await this.idle(5_000, signal, false);
      }
    }
  }

  /** One pass: send the oldest pending alert (or idle); returns the next backoff. */
  private async step(signal: AbortSignal, backoffMs: number, initialMs: number): Promise<number> {
    const maxMs = this.options.backoffMaxMs ?? 60_000;
    this.woken = false;
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
    let failure: unknown = null;
    try {
      await this.options.notifier.send(row.notification, signal);
    } catch (error) {
      failure = error;
    }
    if (signal.aborted) return backoffMs;
    if (failure === null) {
      markSent(this.options.db, row, Date.now() * 1000);
      this.counters.sent++;
      if (this.counters.failingSince !== null) {
        this.options.log.info(`ntfy: delivering again after ${Math.round((Date.now() - this.counters.failingSince) / 1000)}s of failures`);
      }
      this.counters.failingSince = null;
      this.counters.lastError = null;
      return initialMs;
    }
    const reason = failure instanceof Error ? failure.message : String(failure);
    const retryable = !(failure instanceof NotifyError) || failure.retryable;
    this.counters.lastError = reason;
    if (!retryable) {
      markFailed(this.options.db, row, reason, Date.now() * 1000);
      this.counters.failed++;
      this.options.log.error(`ntfy refused alert ${row.eventId} and retrying will not help: ${reason}`);
      return backoffMs;
    }
    recordAttempt(this.options.db, row, reason);
    this.counters.retries++;
    // One line when an outage starts, not one per retry.
    if (this.counters.failingSince === null) {
      this.counters.failingSince = Date.now();
      this.options.log.warn(`ntfy: ${reason}; alerts wait in the outbox and are retried (backoff up to ${Math.round(maxMs / 1000)}s)`);
    }
    await this.idle(backoffMs, signal, false);
    return Math.min(backoffMs * 2, maxMs);
  }
}
