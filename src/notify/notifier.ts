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
  /** ntfy's own error code from the answer's JSON body (40101, 42901…), when there was one. */
  readonly ntfyCode: number | null;
  /** How long the server asked us to wait (429's Retry-After), ms. */
  readonly retryAfterMs: number | null;
  constructor(
    reason: string,
    options: { status: number | null; retryable: boolean; cause?: unknown; ntfyCode?: number | null; retryAfterMs?: number | null },
  ) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NotifyError";
    this.status = options.status;
    this.retryable = options.retryable;
    this.ntfyCode = options.ntfyCode ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

/** What the server's reply to an accepted publish says about the server. */
export interface SendReceipt {
  /**
   * The `sequence_id` the reply's message carries, null when it has none. ntfy has no version
   * endpoint; a 2.16+ server echoes the sequence id a publish carried, an older one ignores it
   * (and shows every update as a new notification).
   */
  echoedSequenceId: string | null;
}

export interface Notifier {
  /** Resolves when the server accepted the notification (with what its reply said, when read); rejects with NotifyError. */
  send(n: Notification, signal: AbortSignal): Promise<SendReceipt | void>;
}

/** What the sender learned of the server from its replies, in the words of status and doctor. */
export const NTFY_UPDATES_IN_PLACE = "updates notifications in place (2.16 or newer)";
export const NTFY_NO_CLEAR =
  'this ntfy server cannot clear or delete a notification (older than 2.16; [ntfy] on_resolve = "update" works on every server)';
export const NTFY_OLDER_SERVER = "an older server — each update arrives as a new notification; upgrade to 2.16+";
