import { statSync } from "node:fs";
import { NotifyError } from "./notifier.ts";

// What the outbox does with each answer ntfy (or the way to it) gives. No answer loses an
// alert: the question is only whether to wait and retry the same alert, to pause the whole
// queue until the configuration is fixed, or to set one alert aside.
//
// - No HTTP answer (DNS, refused, TLS, timeout), 5xx, 429: retry the head alert with backoff;
//   429 waits at least what Retry-After says (RFC 9110 §10.2.3: seconds or an HTTP date).
// - 401/403 (token revoked or wrong), 404 (wrong URL or a proxy in front), a redirect, a plain
//   400, or a local configuration fault (unreadable token_file): every alert would get the same
//   answer. The queue pauses, nothing is marked, one line is logged; a retry at most every
//   PAUSE_RETRY_MS, or a change of the config or token file, resumes it.
// - An answer about this one message (413, ntfy's "title/tags too large", "attachments not
//   allowed", 40024 body refused): that alert alone is set aside as "refused", the queue moves
//   on, and `logtriage outbox --retry` puts it back.
// - A clear or delete of a notification (a sequence path) answered 404 or 405: the server is
//   older than ntfy 2.16 and has no such endpoint; every publish before it went through, so it
//   is not the URL. That one request is set aside as "unsupported", and the queue moves on:
//   pausing would hold every later alert for a request this server can never take.

export const PAUSE_RETRY_MS = 60_000;

/**
 * ntfy error codes that are about the message rather than the server or the credentials
 * (ntfy server/errors.go): 40007 priority, 40014 attachments not allowed, 40024 JSON body,
 * 40057 title too large, 40058 tags too large, 41303 JSON body too large.
 */
const MESSAGE_CODES = new Set([40007, 40014, 40024, 40057, 40058, 41303]);

export type FailureAction = { action: "retry"; atLeastMs: number } | { action: "pause" } | { action: "refuse" } | { action: "unsupported" };

/** `sequenceOp`: the failed request was a clear or delete of a notification, not a publish. */
export function actionFor(failure: unknown, sequenceOp = false): FailureAction {
  if (!(failure instanceof NotifyError)) return { action: "retry", atLeastMs: 0 };
  if (failure.retryable) return { action: "retry", atLeastMs: failure.retryAfterMs ?? 0 };
  if (sequenceOp && (failure.status === 404 || failure.status === 405)) return { action: "unsupported" };
  if (failure.status === 413 || (failure.ntfyCode !== null && MESSAGE_CODES.has(failure.ntfyCode))) return { action: "refuse" };
  return { action: "pause" };
}

/**
 * A Retry-After value in milliseconds from `nowMs`: "120" or "Wed, 21 Oct 2026 07:28:00 GMT".
 * Null when absent or unreadable; capped at an hour, so a wrong header cannot hold alerts for days.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  let ms: number | null = null;
  if (/^\d{1,10}$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (!Number.isNaN(at)) ms = Math.max(0, at - nowMs);
  }
  return ms === null ? null : Math.min(ms, 3_600_000);
}

/** Size and mtime of each file (missing ones too): changes when any is edited, replaced or removed. */
export function filesFingerprint(paths: readonly (string | null)[]): string {
  return paths
    .map((path) => {
      if (path === null) return "-";
      try {
        const s = statSync(path);
        return `${s.size}:${s.mtimeMs}:${s.ino}`;
      } catch (error) {
        // Gone or unreadable is itself a state to compare against; it is not a fault here.
        return (error as { code?: string }).code ?? "unreadable";
      }
    })
    .join("|");
}

export interface OutboxPause {
  sinceMs: number;
  status: number | null;
  reason: string;
}
