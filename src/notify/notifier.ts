import type { NtfyPriority } from "../config/schema.ts";

// The notify stage's interface. A Notification is what the outbox stores (no topic, no
// credentials: those come from the config at send time, so a token change applies to
// alerts already queued and no secret lands in the database).

export interface Notification {
  title: string;
  message: string;
  priority: NtfyPriority;
  tags: string[];
  /** URL opened when the notification is tapped; null for none. */
  click: string | null;
}

/**
 * A send that failed. `retryable`: worth trying again later (network down, timeout, 429,
 * 5xx). Not retryable: a configuration problem (401/403 token, 404 topic, 400 bad request)
 * that waiting will not fix. `reason` is the whole story in words, for logs and test-ntfy.
 */
export class NotifyError extends Error {
  readonly status: number | null;
  readonly retryable: boolean;
  /** ntfy's own error code from the answer's JSON body (40101, 42901…), when there was one. */
  readonly ntfyCode: number | null;
  /** How long the server asked us to wait (429's Retry-After), ms. */
  readonly retryAfterMs: number | null;
  constructor(reason: string, options: { status: number | null; retryable: boolean; cause?: unknown; ntfyCode?: number | null; retryAfterMs?: number | null }) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NotifyError";
    this.status = options.status;
    this.retryable = options.retryable;
    this.ntfyCode = options.ntfyCode ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

export interface Notifier {
  /** Resolves when the server accepted the notification; rejects with NotifyError. */
  send(n: Notification, signal: AbortSignal): Promise<void>;
}
