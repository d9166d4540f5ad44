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
  /**
   * The incident's ntfy sequence id: a later publish with the same id replaces this
   * notification in place (ntfy 2.16+; an older server shows it as a new one).
   */
  sequenceId?: string;
  /** ntfy action buttons (docs.ntfy.sh/publish/#action-buttons), at most three. */
  actions?: NtfyAction[];
  /** Absent: publish. "clear": mark the sequence's notification read and dismiss it; "delete": remove it. Both need sequenceId. */
  op?: "clear" | "delete";
}

/** An "http" button publishes `body` to `url` from the phone; a "view" button opens `url`. */
export type NtfyAction =
  | { action: "http"; label: string; url: string; method: "POST"; body: string; clear: boolean }
  | { action: "view"; label: string; url: string; clear: boolean };

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
