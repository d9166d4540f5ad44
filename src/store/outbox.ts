import type { Database } from "bun:sqlite";
import type { Notification } from "../notify/notifier.ts";
import { hasTable } from "./daemon-state.ts";

// The ntfy outbox: one row per alert, inserted in the transaction that stores its event and
// drained strictly in id order by notify/sender.ts. A row is `pending` until ntfy accepts it
// (`sent`) or refuses it for a reason retrying cannot fix (`failed`, e.g. 401 or 404).

export type OutboxState = "pending" | "sent" | "failed";

export interface OutboxRow {
  id: number;
  eventId: string;
  createdUs: number;
  notification: Notification;
  attempts: number;
}

export function enqueueAlert(db: Database, eventId: string, notification: Notification, nowUs: number): number {
  const result = db.query("INSERT INTO outbox (event_id, created_us, notification) VALUES (?, ?, ?)").run(eventId, nowUs, JSON.stringify(notification));
  return Number(result.lastInsertRowid);
}

/** The oldest pending alert: alerts go out in the order their events happened. */
export function nextPending(db: Database): OutboxRow | null {
  const row = db.query("SELECT id, event_id, created_us, notification, attempts FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1").get() as {
    id: number;
    event_id: string;
    created_us: number;
    notification: string;
    attempts: number;
  } | null;
  if (!row) return null;
  return { id: row.id, eventId: row.event_id, createdUs: row.created_us, notification: JSON.parse(row.notification) as Notification, attempts: row.attempts };
}

export function markSent(db: Database, row: OutboxRow, nowUs: number): void {
  db.transaction(() => {
    db.query("UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = NULL, done_us = ? WHERE id = ?").run(nowUs, row.id);
    db.query("UPDATE events SET notified = 1 WHERE id = ?").run(row.eventId);
  })();
}

export function markFailed(db: Database, row: OutboxRow, error: string, nowUs: number): void {
  db.query("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, done_us = ? WHERE id = ?").run(error, nowUs, row.id);
}

export function recordAttempt(db: Database, row: OutboxRow, error: string): void {
  db.query("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?").run(error, row.id);
}

export interface OutboxCounts {
  pending: number;
  failed: number;
  sent: number;
  /** Creation time of the oldest pending alert, µs; null when none waits. */
  oldestPendingUs: number | null;
  lastError: string | null;
}

export function outboxCounts(db: Database): OutboxCounts {
  if (!hasTable(db, "outbox")) return { pending: 0, sent: 0, failed: 0, oldestPendingUs: null, lastError: null };
  const counts: Record<OutboxState, number> = { pending: 0, sent: 0, failed: 0 };
  for (const row of db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state").all() as { state: OutboxState; n: number }[]) counts[row.state] = row.n;
  const oldest = db.query("SELECT created_us, last_error FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1").get() as { created_us: number; last_error: string | null } | null;
  const lastFailed = oldest?.last_error ? null : (db.query("SELECT last_error FROM outbox WHERE state = 'failed' ORDER BY id DESC LIMIT 1").get() as { last_error: string | null } | null);
  return { ...counts, oldestPendingUs: oldest?.created_us ?? null, lastError: oldest?.last_error ?? lastFailed?.last_error ?? null };
}
