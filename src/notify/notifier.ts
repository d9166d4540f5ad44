import type { Notification } from "../text/alert.ts";

// The notify stage's interface: a Notifier sends a Notification (text/alert.ts) and fails
// with a NotifyError that says whether trying again can help.

/**
 * A send that failed. `retryable`: worth trying again later (network down, timeout, 429,
 * 5xx). Not retryable: a configuration problem (401/403 token, 404 topic, 400 bad request)
 * that waiting will not fix. `reason` is the whole story in words, for logs and test-ntfy.
 */
export class NotifyError extends Error {
  readonly status: number | null;
  readonly retryable: boolean;
  constructor(reason: string, options: { status: number | null; retryable: boolean; cause?: unknown }) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NotifyError";
    this.status = options.status;
    this.retryable = options.retryable;
  }
}

export interface Notifier {
  /** Resolves when the server accepted the notification; rejects with NotifyError. */
  send(n: Notification, signal: AbortSignal): Promise<void>;
}
