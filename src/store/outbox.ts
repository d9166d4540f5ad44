import type { Database } from "bun:sqlite";
import type { Notification } from "../text/alert.ts";
import { hasTable } from "./daemon-state.ts";

// The ntfy outbox: one row per alert, inserted in the transaction that stores its event and
// drained strictly in id order by notify/sender.ts. A row is `pending` until ntfy accepts it
// (`sent`) or refuses it for a reason retrying cannot fix (`failed`, e.g. 401 or 404). A row
// written `enriching` waits for its event's enrichment (enrich/stage.ts) to fill in the why;
// the sender holds the queue for it, which the stage's timeouts bound. A daemon that stops
// with such rows releases them, and one that crashed releases them when it starts again.

export type OutboxState = "enriching" | "pending" | "sent" | "failed";

export interface OutboxRow {
  id: number;
  eventId: string;
  createdUs: number;
  notification: Notification;
  attempts: number;
  /** "enriching": its event's context is still being gathered; not to be sent yet. */
  state: "pending" | "enriching";
}

export function enqueueAlert(db: Database, eventId: string, notification: Notification, nowUs: number, state: "pending" | "enriching" = "pending"): number {
  const result = db.query("INSERT INTO outbox (event_id, created_us, notification, state) VALUES (?, ?, ?, ?)").run(eventId, nowUs, JSON.stringify(notification), state);
  return Number(result.lastInsertRowid);
}

/**
 * The oldest alert not yet sent: alerts go out in the order their events happened. When its
 * state is "enriching", the head of the queue still waits for its event's context; so does
 * the sender.
 */
export function nextPending(db: Database): OutboxRow | null {
  const row = db.query("SELECT id, event_id, created_us, notification, attempts, state FROM outbox WHERE state IN ('pending', 'enriching') ORDER BY id LIMIT 1").get() as {
    id: number;
    event_id: string;
    created_us: number;
    notification: string;
    attempts: number;
    state: "pending" | "enriching";
  } | null;
  if (!row) return null;
  return { id: row.id, eventId: row.event_id, createdUs: row.created_us, notification: JSON.parse(row.notification) as Notification, attempts: row.attempts, state: row.state };
}

/** The event's enrichment is done (or gave up): its alert, rewritten with the context, may go. */
export function releaseEnrichedAlert(db: Database, eventId: string, notification: Notification | null): void {
  if (notification) db.query("UPDATE outbox SET state = 'pending', notification = ? WHERE event_id = ? AND state = 'enriching'").run(JSON.stringify(notification), eventId);
  else db.query("UPDATE outbox SET state = 'pending' WHERE event_id = ? AND state = 'enriching'").run(eventId);
}

/** Alerts left waiting for an enrichment that will never finish (a daemon stopped or crashed): send them as they are. */
export function releaseAllEnriching(db: Database): number {
  return db.query("UPDATE outbox SET state = 'pending' WHERE state = 'enriching'").run().changes;
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
  /** Waiting to be sent, including alerts still waiting for their event's enrichment. */
  pending: number;
  failed: number;
  sent: number;
  /** Creation time of the oldest pending alert, µs; null when none waits. */
  oldestPendingUs: number | null;
  lastError: string | null;
}

export function outboxCounts(db: Database): OutboxCounts {
  if (!hasTable(db, "outbox")) return { pending: 0, sent: 0, failed: 0, oldestPendingUs: null, lastError: null };
  const counts: Record<OutboxState, number> = { enriching: 0, pending: 0, sent: 0, failed: 0 };
  for (const row of db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state").all() as { state: OutboxState; n: number }[]) counts[row.state] = row.n;
  const { enriching, ...rest } = counts;
  const oldest = db.query("SELECT created_us, last_error FROM outbox WHERE state IN ('pending', 'enriching') ORDER BY id LIMIT 1").get() as { created_us: number; last_error: string | null } | null;
  const lastFailed = oldest?.last_error ? null : (db.query("SELECT last_error FROM outbox WHERE state = 'failed' ORDER BY id DESC LIMIT 1").get() as { last_error: string | null } | null);
  return { ...rest, pending: rest.pending + enriching, oldestPendingUs: oldest?.created_us ?? null, lastError: oldest?.last_error ?? lastFailed?.last_error ?? null };
}
