import type { Database } from "bun:sqlite";
import type { Notification } from "../text/alert.ts";
import { hasTable } from "./daemon-state.ts";
import { getEvent, type StoredEventWithLines } from "./events.ts";

// The ntfy outbox: one row per alert, inserted in the transaction that stores its event and
// drained strictly in id order by notify/sender.ts. A row is `pending` until ntfy accepts it
// (`sent`), refuses that one message (`refused`: too large, say; `logtriage outbox --retry`
// puts it back), or it outlives [ntfy] max_age unsent (`expired`). A refusal that would hit
// every alert (401, 404) pauses the sender and marks nothing. `failed` is what older versions
// wrote for any refusal; --retry puts those back too. A row
// written `enriching` waits for its event's enrichment (enrich/stage.ts) to fill in the why;
// the sender holds the queue for it, which the stage's timeouts bound. Such a row has no text
// yet, only what rendering it needs (its incident): the alert is written once, when it is
// released, from the enriched event. A daemon that stops with such rows releases them, and
// one that crashed releases them when it starts again.

export type OutboxState = "enriching" | "pending" | "sent" | "failed" | "refused" | "expired";

interface OutboxRowBase {
  id: number;
  eventId: string;
  createdUs: number;
  attempts: number;
}

/** "enriching": its event's context is still being gathered; not written, not to be sent yet. */
export type OutboxRow =
  | (OutboxRowBase & { state: "pending"; notification: Notification })
  | (OutboxRowBase & { state: "enriching"; notification: null });

/** What an alert written after its event's enrichment is rendered from, besides the event. */
export interface AlertRenderSpec {
  /** The incident it opened: its sequence id and mute button. Null: no incident. */
  incidentId: string | null;
}

/** Writes a stored event's alert (notify/alert.ts, with the incident's sequence id and buttons). */
export type RenderAlert = (event: StoredEventWithLines) => Notification;

export function enqueueAlert(db: Database, eventId: string, notification: Notification, nowUs: number): number {
  const result = db
    .query("INSERT INTO outbox (event_id, created_us, notification, state) VALUES (?, ?, ?, 'pending')")
    .run(eventId, nowUs, JSON.stringify(notification));
  return Number(result.lastInsertRowid);
}

/**
 * An alert that waits for its event's enrichment: its place in the queue is taken now, its
 * text is written when it is released (releaseEnrichedAlert, releaseAllEnriching).
 */
export function enqueueAfterEnrichment(db: Database, eventId: string, spec: AlertRenderSpec, nowUs: number): number {
  const result = db
    .query("INSERT INTO outbox (event_id, created_us, notification, render_json, state) VALUES (?, ?, NULL, ?, 'enriching')")
    .run(eventId, nowUs, JSON.stringify(spec));
  return Number(result.lastInsertRowid);
}

/**
 * The oldest alert not yet sent: alerts go out in the order their events happened. When its
 * state is "enriching", the head of the queue still waits for its event's context; so does
 * the sender.
 */
export function nextPending(db: Database): OutboxRow | null {
  const row = db
    .query(
      "SELECT id, event_id, created_us, notification, attempts, state FROM outbox WHERE state IN ('pending', 'enriching') ORDER BY id LIMIT 1",
    )
    .get() as {
    id: number;
    event_id: string;
    created_us: number;
    notification: string | null;
    attempts: number;
    state: "pending" | "enriching";
  } | null;
  if (!row) return null;
  const base = { id: row.id, eventId: row.event_id, createdUs: row.created_us, attempts: row.attempts };
  // Only a release makes a row pending, and it writes the text in the same statement.
  if (row.state === "enriching" || row.notification === null) return { ...base, state: "enriching", notification: null };
  return { ...base, state: "pending", notification: JSON.parse(row.notification) as Notification };
}

/**
 * The event's enrichment is done (or gave up): its alert is written now, from the event as
 * enriched, and may go. Returns how many rows were released.
 */
export function releaseEnrichedAlert(db: Database, eventId: string, render: RenderAlert): number {
  const rows = db
    .query("SELECT id, event_id, render_json FROM outbox WHERE event_id = ? AND state = 'enriching' ORDER BY id")
    .all(eventId) as WaitingRow[];
  for (const row of rows) release(db, row, render);
  return rows.length;
}

/** Whether an alert of this event is still waiting to be written from its enrichment. */
export function waitsForEnrichment(db: Database, eventId: string): boolean {
  return db.query("SELECT 1 FROM outbox WHERE event_id = ? AND state = 'enriching' LIMIT 1").get(eventId) !== null;
}

/**
 * Alerts left waiting for an enrichment that will never finish (a daemon stopped or crashed):
 * written from the event as it is, and sent.
 */
export function releaseAllEnriching(db: Database, render: RenderAlert): number {
  const rows = db.query("SELECT id, event_id, render_json FROM outbox WHERE state = 'enriching' ORDER BY id").all() as WaitingRow[];
  db.transaction(() => {
    for (const row of rows) release(db, row, render);
  }).immediate();
  return rows.length;
}

interface WaitingRow {
  id: number;
  event_id: string;
  render_json: string | null;
}

function release(db: Database, row: WaitingRow, render: RenderAlert): void {
  let notification: Notification;
  try {
    // A row written before alerts were rendered on release has no spec: its event's incident.
    const spec = row.render_json === null ? null : (JSON.parse(row.render_json) as AlertRenderSpec);
    const lookup = getEvent(db, row.event_id);
    if (lookup.kind !== "found") throw new Error("its event is no longer stored");
    notification = render(spec === null ? lookup.event : { ...lookup.event, incidentId: spec.incidentId });
  } catch (error) {
    // An accepted alert is never dropped: one that cannot be written says so and where to look.
    notification = unwritableAlert(row.event_id, error instanceof Error ? error.message : String(error));
  }
  db.query("UPDATE outbox SET state = 'pending', notification = ?, render_json = NULL WHERE id = ? AND state = 'enriching'").run(
    JSON.stringify(notification),
    row.id,
  );
}

function unwritableAlert(eventId: string, reason: string): Notification {
  return {
    title: "logtriage: an alert could not be written",
    message: `The alert for event ${eventId} could not be written (${reason}).\n\nDetails: logtriage show ${eventId}`,
    priority: 4,
    tags: ["warning"],
    click: null,
  };
}

export function markSent(db: Database, row: OutboxRow, nowUs: number): void {
  db.transaction(() => {
    db.query("UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = NULL, done_us = ? WHERE id = ?").run(nowUs, row.id);
    db.query("UPDATE events SET notified = 1 WHERE id = ?").run(row.eventId);
  }).immediate();
}

export function markFailed(db: Database, row: OutboxRow, error: string, nowUs: number): void {
  db.query("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, done_us = ? WHERE id = ?").run(
    error,
    nowUs,
    row.id,
  );
}

/** ntfy refused this one message (not the server or credentials): set aside until `outbox --retry`. */
export function markRefused(db: Database, row: OutboxRow, error: string, nowUs: number): void {
  db.query("UPDATE outbox SET state = 'refused', attempts = attempts + 1, last_error = ?, done_us = ? WHERE id = ?").run(
    error,
    nowUs,
    row.id,
  );
}

/** Unsent for longer than [ntfy] max_age: dropped (kept as a counted row, never sent). */
export function markExpired(db: Database, row: OutboxRow, reason: string, nowUs: number): void {
  db.query("UPDATE outbox SET state = 'expired', last_error = ?, done_us = ? WHERE id = ?").run(reason, nowUs, row.id);
}

/** Refused (and older versions' failed) alerts back into the queue, in their original order; how many. */
export function requeueRefused(db: Database): number {
  return db.query("UPDATE outbox SET state = 'pending', done_us = NULL WHERE state IN ('refused', 'failed')").run().changes;
}

export interface OutboxListing {
  id: number;
  eventId: string;
  createdUs: number;
  state: OutboxState;
  attempts: number;
  lastError: string | null;
  title: string;
}

/** Every alert not sent: waiting, refused or expired, oldest first. */
export function listUnsent(db: Database, limit = 1000): OutboxListing[] {
  if (!hasTable(db, "outbox")) return [];
  const rows = db
    .query(
      "SELECT id, event_id, created_us, state, attempts, last_error, notification FROM outbox WHERE state != 'sent' ORDER BY id LIMIT ?",
    )
    .all(limit) as {
    id: number;
    event_id: string;
    created_us: number;
    state: OutboxState;
    attempts: number;
    last_error: string | null;
    notification: string | null;
  }[];
  return rows.map((r) => {
    let title = "";
    if (r.notification === null)
      return {
        id: r.id,
        eventId: r.event_id,
        createdUs: r.created_us,
        state: r.state,
        attempts: r.attempts,
        lastError: r.last_error,
        title: "(written once its context is gathered)",
      };
    try {
      const n = JSON.parse(r.notification) as { title?: unknown };
      title = typeof n.title === "string" ? n.title : "";
    } catch (error) {
      // A row we cannot read still waits and is listed; its title is what is missing.
      title = `(unreadable: ${error instanceof Error ? error.message : String(error)})`;
    }
    return { id: r.id, eventId: r.event_id, createdUs: r.created_us, state: r.state, attempts: r.attempts, lastError: r.last_error, title };
  });
}

export function recordAttempt(db: Database, row: OutboxRow, error: string): void {
  db.query("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?").run(error, row.id);
}

export interface OutboxCounts {
  /** Waiting to be sent, including alerts still waiting for their event's enrichment. */
  pending: number;
  /** Refused by ntfy for this message (and older versions' failed rows): waiting for `outbox --retry`. */
  failed: number;
  sent: number;
  /** Dropped unsent after [ntfy] max_age. */
  expired: number;
  /** Creation time of the oldest pending alert, µs; null when none waits. */
  oldestPendingUs: number | null;
  lastError: string | null;
}

export function outboxCounts(db: Database): OutboxCounts {
  if (!hasTable(db, "outbox")) return { pending: 0, sent: 0, failed: 0, expired: 0, oldestPendingUs: null, lastError: null };
  const counts: Record<OutboxState, number> = { enriching: 0, pending: 0, sent: 0, failed: 0, refused: 0, expired: 0 };
  for (const row of db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state").all() as { state: OutboxState; n: number }[])
    counts[row.state] = row.n;
  const { enriching, refused, ...rest } = counts;
  rest.failed += refused;
  const oldest = db
    .query("SELECT created_us, last_error FROM outbox WHERE state IN ('pending', 'enriching') ORDER BY id LIMIT 1")
    .get() as { created_us: number; last_error: string | null } | null;
  const lastFailed = oldest?.last_error
    ? null
    : (db.query("SELECT last_error FROM outbox WHERE state IN ('failed', 'refused') ORDER BY id DESC LIMIT 1").get() as {
        last_error: string | null;
      } | null);
  return {
    ...rest,
    pending: rest.pending + enriching,
    oldestPendingUs: oldest?.created_us ?? null,
    lastError: oldest?.last_error ?? lastFailed?.last_error ?? null,
  };
}
