import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotifyError, type Notifier } from "../../src/notify/notifier.ts";
import type { Notification } from "../../src/text/alert.ts";
import { OutboxSender } from "../../src/notify/sender.ts";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert, listUnsent, outboxCounts, requeueRefused } from "../../src/store/outbox.ts";

// The outbox drain with a scripted notifier: order, retries, refusals. (The real HTTP path
// is tested against the ntfy stand-in in tests/notify/ntfy.test.ts and end to end.)

let dir: string;
let db: Database;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-sender-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { info() {}, warn() {}, error() {} };
const note = (title: string): Notification => ({ title, message: "m", priority: 4, tags: [], click: null });

/** Accepts what `decide` allows; records every attempt and every accepted title. */
function scripted(decide: (n: Notification, attempt: number) => NotifyError | null) {
  const attempts: string[] = [];
  const delivered: string[] = [];
  const notifier: Notifier = {
    async send(n) {
      attempts.push(n.title);
      const error = decide(n, attempts.filter((t) => t === n.title).length);
      if (error) throw error;
      delivered.push(n.title);
    },
  };
  return { notifier, attempts, delivered };
}

async function drain(sender: OutboxSender, until: () => boolean, timeoutMs = 5000): Promise<void> {
  const controller = new AbortController();
  const running = sender.run(controller.signal);
  const deadline = Date.now() + timeoutMs;
  while (!until() && Date.now() < deadline) await Bun.sleep(10);
  controller.abort();
  await running;
}

test("an outage delays alerts, keeps their order and sends each once", async () => {
  for (const t of ["a", "b", "c"]) enqueueAlert(db, `ev-${t}`, note(t), Date.now() * 1000);
  // "a" fails three times (server down), then everything goes through.
  const s = scripted((n, attempt) =>
    n.title === "a" && attempt <= 3 ? new NotifyError("connection refused", { status: null, retryable: true }) : null,
  );
  const sender = new OutboxSender({ db, notifier: s.notifier, log: quiet, backoffInitialMs: 10, backoffMaxMs: 40 });
  await drain(sender, () => s.delivered.length === 3);
  expect(s.delivered).toEqual(["a", "b", "c"]);
  expect(s.attempts).toEqual(["a", "a", "a", "a", "b", "c"]);
  expect(outboxCounts(db)).toMatchObject({ pending: 0, sent: 3, failed: 0 });
  expect(sender.counters.retries).toBe(3);
});

test("a refusal of one message sets that alert aside as refused, the queue moves on, --retry puts it back", async () => {
  for (const t of ["a", "b"]) enqueueAlert(db, `ev-${t}`, note(t), Date.now() * 1000);
  let refuse = true;
  const s = scripted((n) =>
    n.title === "a" && refuse
      ? new NotifyError("title too large (HTTP 400, ntfy code 40057)", { status: 400, retryable: false, ntfyCode: 40057 })
      : null,
  );
  const errors: string[] = [];
  const sender = new OutboxSender({
    db,
    notifier: s.notifier,
    log: { ...quiet, error: (m: string) => errors.push(m) },
    backoffInitialMs: 10,
  });
  await drain(sender, () => outboxCounts(db).sent === 1);
  expect(s.attempts).toEqual(["a", "b"]);
  expect(outboxCounts(db)).toMatchObject({ pending: 0, sent: 1, failed: 1 });
  expect(errors).toEqual([expect.stringContaining("outbox --retry")]);
  expect(sender.counters.paused).toBeNull();
  refuse = false;
  expect(requeueRefused(db)).toBe(1);
  await drain(sender, () => outboxCounts(db).sent === 2);
  expect(s.delivered).toEqual(["b", "a"]);
  expect(outboxCounts(db)).toMatchObject({ pending: 0, sent: 2, failed: 0 });
});

test("only an alert older than max_age is dropped, and it is counted", async () => {
  const nowUs = Date.now() * 1000;
  enqueueAlert(db, "ev-old", note("old"), nowUs - 8 * 86_400_000_000);
  enqueueAlert(db, "ev-new", note("new"), nowUs - 6 * 86_400_000_000);
  const s = scripted(() => null);
  const warnings: string[] = [];
  const sender = new OutboxSender({
    db,
    notifier: s.notifier,
    log: { ...quiet, warn: (m: string) => warnings.push(m) },
    maxAgeMs: 7 * 86_400_000,
  });
  await drain(sender, () => outboxCounts(db).sent === 1);
  expect(s.attempts).toEqual(["new"]);
  expect(sender.counters.expired).toBe(1);
  expect(outboxCounts(db)).toMatchObject({ pending: 0, sent: 1, failed: 0, expired: 1 });
  expect(warnings).toEqual([expect.stringContaining("max_age")]);
  expect(listUnsent(db).map((a) => [a.title, a.state])).toEqual([["old", "expired"]]);
});

test("sent alerts mark their event notified; a wake-up sends new rows without waiting for the poll", async () => {
  db.run(`INSERT INTO events (id, instance_id, timestamp, last_seen, tier, severity, rule, summary, facts_json, raw_json, lines_json, cursors_json, dedup_key)
          VALUES ('ev-x', 'box', 1, 1, 'T1', 'critical', 'r', 's', '{}', '{}', '[]', '[]', 'k')`);
  const s = scripted(() => null);
  const sender = new OutboxSender({ db, notifier: s.notifier, log: quiet, idlePollMs: 60_000 });
  const controller = new AbortController();
  const running = sender.run(controller.signal);
  await Bun.sleep(20);
  enqueueAlert(db, "ev-x", note("x"), Date.now() * 1000);
  sender.wake();
  const deadline = Date.now() + 2000;
  while (s.delivered.length === 0 && Date.now() < deadline) await Bun.sleep(5);
  controller.abort();
  await running;
  expect(s.delivered).toEqual(["x"]);
  expect((db.query("SELECT notified FROM events WHERE id = 'ev-x'").get() as { notified: number }).notified).toBe(1);
});
