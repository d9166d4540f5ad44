import { afterEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { ntfyTestConfig } from "../_builders.ts";
import type { Config } from "../../src/config/schema.ts";
import { NtfyNotifier } from "../../src/notify/ntfy.ts";
import { OutboxSender } from "../../src/notify/sender.ts";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert } from "../../src/store/outbox.ts";
import type { Notification } from "../../src/text/alert.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// ntfy has no version endpoint: the sender learns from its replies whether the server updates
// notifications in place (2.16+ echoes the sequence id an alert carried) or is an older one,
// against the local stand-in playing each.

let db: Database;
const standIns: NtfyStandIn[] = [];
afterEach(async () => {
  db?.close();
  for (const s of standIns.splice(0)) await s.stop();
});

function ntfy(url: string): Config["ntfy"] {
  return ntfyTestConfig(url, { minSeverity: {} });
}

const alert = (title: string, sequenceId?: string): Notification => ({
  title,
  message: "m",
  priority: 4,
  tags: [],
  click: null,
  ...(sequenceId ? { sequenceId } : {}),
});

/** Sends what is queued through the real client, then stops; the sender's counters and what it warned. */
async function drain(standIn: NtfyStandIn, alerts: Notification[]): Promise<{ sender: OutboxSender; warnings: string[] }> {
  db = openStore(":memory:");
  for (const [i, n] of alerts.entries()) enqueueAlert(db, `ev-${i}`, n, Date.now() * 1000);
  const warnings: string[] = [];
  const sender = new OutboxSender({
    db,
    notifier: new NtfyNotifier(ntfy(standIn.topicUrl("alerts"))),
    log: { info() {}, warn: (m) => warnings.push(m), error() {} },
    idlePollMs: 20,
  });
  const stop = new AbortController();
  const running = sender.run(stop.signal);
  while (sender.counters.sent < alerts.length && sender.counters.lastError === null) await Bun.sleep(10);
  stop.abort();
  await running;
  expect(sender.counters.sent).toBe(alerts.length);
  return { sender, warnings };
}

test("a 2.16+ server echoes the sequence id: updates arrive in place", async () => {
  const s = await startNtfyStandIn();
  standIns.push(s);
  const { sender, warnings } = await drain(s, [
    alert("OOM kill: stress", "logtriage-inc1"),
    alert("Update: OOM kill: stress", "logtriage-inc1"),
  ]);
  expect(sender.counters.updatesInPlace).toBe(true);
  expect(warnings).toEqual([]);
  expect(s.notifications("alerts")).toHaveLength(1);
});

test("an older server does not: said once, and each update is a new notification on the phone", async () => {
  const s = await startNtfyStandIn({ sequenceIds: false });
  standIns.push(s);
  const { sender, warnings } = await drain(s, [
    alert("OOM kill: stress", "logtriage-inc1"),
    alert("Update: OOM kill: stress", "logtriage-inc1"),
  ]);
  expect(sender.counters.updatesInPlace).toBe(false);
  expect(warnings).toEqual(["ntfy: an older server — each update arrives as a new notification; upgrade to 2.16+"]);
  expect(s.notifications("alerts")).toHaveLength(2);
});

test("alerts without a sequence id tell nothing about the server", async () => {
  const s = await startNtfyStandIn({ sequenceIds: false });
  standIns.push(s);
  const { sender } = await drain(s, [alert("digest"), alert("another")]);
  expect(sender.counters.updatesInPlace).toBeNull();
});

test("an older server cannot clear: the clear is set aside once, said once, and the alerts behind it still go", async () => {
  const s = await startNtfyStandIn({ sequenceIds: false });
  standIns.push(s);
  db = openStore(":memory:");
  const clear: Notification = { ...alert("", "logtriage-inc1"), op: "clear" };
  const queued = [alert("OOM kill: stress", "logtriage-inc1"), clear, { ...clear, sequenceId: "logtriage-inc2" }, alert("Crash: foo")];
  for (const [i, n] of queued.entries()) enqueueAlert(db, `ev-${i}`, n, Date.now() * 1000);
  const warnings: string[] = [];
  const sender = new OutboxSender({
    db,
    notifier: new NtfyNotifier(ntfy(s.topicUrl("alerts"))),
    log: { info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(`error: ${m}`) },
    idlePollMs: 20,
  });
  const stop = new AbortController();
  const running = sender.run(stop.signal);
  const deadline = Date.now() + 5_000;
  while (sender.counters.sent + sender.counters.refused < queued.length && Date.now() < deadline) await Bun.sleep(10);
  stop.abort();
  await running;
  expect(sender.counters.paused).toBeNull();
  expect(sender.counters.sent).toBe(2);
  expect(sender.counters.refused).toBe(2);
  expect(s.notifications("alerts").map((n) => [n.latest.title, n.state])).toEqual([
    ["OOM kill: stress", "shown"],
    ["Crash: foo", "shown"],
  ]);
  expect(warnings.filter((w) => w.includes("cannot clear"))).toHaveLength(1);
  expect(warnings.filter((w) => w.startsWith("error:"))).toEqual([]);
});

test("a 2.16+ server clears: nothing is set aside", async () => {
  const s = await startNtfyStandIn();
  standIns.push(s);
  const { sender } = await drain(s, [alert("OOM kill: stress", "logtriage-inc1"), { ...alert("", "logtriage-inc1"), op: "clear" }]);
  expect(sender.counters.refused).toBe(0);
  expect(s.notifications("alerts")[0]?.state).toBe("cleared");
});
