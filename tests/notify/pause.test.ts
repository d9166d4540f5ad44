import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ntfyTestConfig } from "../_builders.ts";
import type { Config } from "../../src/config/schema.ts";
import type { Notification } from "../../src/text/alert.ts";
import { NtfyNotifier } from "../../src/notify/ntfy.ts";
import { filesFingerprint, parseRetryAfter } from "../../src/notify/pause.ts";
import { OutboxSender } from "../../src/notify/sender.ts";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert, outboxCounts } from "../../src/store/outbox.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// The outbox against a local ntfy stand-in that refuses (401, 404, 429) and then accepts:
// no alert is marked failed or lost, the pause is said once, and it ends by itself.

let dir: string;
let db: Database;
const standIns: NtfyStandIn[] = [];
const servers: { stop(force?: boolean): Promise<void> | void }[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-pause-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(async () => {
  db.close();
  for (const s of standIns.splice(0)) await s.stop();
  for (const s of servers.splice(0)) await s.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

function ntfyConfig(url: string, over: Partial<Config["ntfy"]> = {}): Config["ntfy"] {
  return ntfyTestConfig(url, over);
}
const note = (title: string): Notification => ({ title, message: "m", priority: 4, tags: [], click: null });

function recordingLog() {
  const lines: { level: string; text: string }[] = [];
  const at = (level: string) => (text: string) => void lines.push({ level, text });
  return { lines, log: { info: at("info"), warn: at("warn"), error: at("error") } };
}

async function runUntil(sender: OutboxSender, until: () => boolean, timeoutMs = 10_000): Promise<void> {
  const controller = new AbortController();
  const running = sender.run(controller.signal);
  const deadline = Date.now() + timeoutMs;
  while (!until() && Date.now() < deadline) await Bun.sleep(10);
  controller.abort();
  await running;
}

test("401 from ntfy pauses the outbox: nothing is marked failed, one log line, a periodic retry resumes it in order", async () => {
  const ntfy = await startNtfyStandIn({ token: "tk_rotated" });
  standIns.push(ntfy);
  for (const t of ["a", "b", "c"]) enqueueAlert(db, `ev-${t}`, note(t), Date.now() * 1000);
  const { lines, log } = recordingLog();
  const sender = new OutboxSender({
    db,
    notifier: new NtfyNotifier(ntfyConfig(ntfy.topicUrl("alerts"), { token: "tk_old" })),
    log,
    pauseRetryMs: 150,
  });
  const controller = new AbortController();
  const running = sender.run(controller.signal);
  // Several refused retries while paused.
  while (ntfy.requests.filter((r) => r.status === 401).length < 3) await Bun.sleep(10);
  expect(sender.counters.paused).toMatchObject({ status: 401 });
  expect(outboxCounts(db)).toMatchObject({ pending: 3, failed: 0, sent: 0 });
  expect(lines.filter((l) => l.level === "error")).toEqual([{ level: "error", text: expect.stringContaining("paused") }]);
  // The server takes our token again (a proxy hiccup over, the token restored).
  ntfy.options.token = "tk_old";
  while (outboxCounts(db).sent < 3) await Bun.sleep(10);
  controller.abort();
  await running;
  expect(ntfy.messages.map((m) => m.title)).toEqual(["a", "b", "c"]);
  expect(outboxCounts(db)).toMatchObject({ pending: 0, failed: 0, sent: 3 });
  expect(sender.counters.paused).toBeNull();
  expect(lines.filter((l) => l.level === "error")).toHaveLength(1);
  expect(lines.some((l) => l.level === "info" && /resumes/.test(l.text))).toBe(true);
});

test("a paused outbox resumes at once when the token file changes, without waiting for the periodic retry", async () => {
  const ntfy = await startNtfyStandIn({ token: "tk_new" });
  standIns.push(ntfy);
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "tk_revoked\n");
  enqueueAlert(db, "ev-a", note("a"), Date.now() * 1000);
  const { log } = recordingLog();
  const sender = new OutboxSender({
    db,
    notifier: new NtfyNotifier(ntfyConfig(ntfy.topicUrl("alerts"), { tokenFile })),
    log,
    pauseRetryMs: 600_000,
    configVersion: () => filesFingerprint([tokenFile]),
  });
  const controller = new AbortController();
  const running = sender.run(controller.signal);
  while (sender.counters.paused === null) await Bun.sleep(10);
  writeFileSync(tokenFile, "tk_new\n");
  while (outboxCounts(db).sent < 1) await Bun.sleep(10);
  controller.abort();
  await running;
  expect(ntfy.messages.map((m) => m.title)).toEqual(["a"]);
  expect(ntfy.requests.map((r) => r.status)).toEqual([401, 200]);
});

test("404 (a wrong URL or a proxy) pauses too; the reloaded config's notifier sends what waited", async () => {
  const ntfy = await startNtfyStandIn({ pathPrefix: "/ntfy" });
  standIns.push(ntfy);
  const configFile = join(dir, "config.toml");
  writeFileSync(configFile, "wrong");
  enqueueAlert(db, "ev-a", note("a"), Date.now() * 1000);
  const wrong = `http://127.0.0.1:${ntfy.port}/alerts`;
  const { log } = recordingLog();
  const sender = new OutboxSender({
    db,
    notifier: new NtfyNotifier(ntfyConfig(wrong)),
    log,
    pauseRetryMs: 600_000,
    configVersion: () => filesFingerprint([configFile]),
    reload: () => new NtfyNotifier(ntfyConfig(ntfy.topicUrl("alerts"))),
  });
  const controller = new AbortController();
  const running = sender.run(controller.signal);
  while (sender.counters.paused === null) await Bun.sleep(10);
  expect(sender.counters.paused?.status).toBe(404);
  expect(outboxCounts(db)).toMatchObject({ pending: 1, failed: 0 });
  writeFileSync(configFile, "fixed, and longer");
  while (outboxCounts(db).sent < 1) await Bun.sleep(10);
  controller.abort();
  await running;
  expect(outboxCounts(db)).toMatchObject({ pending: 0, failed: 0, sent: 1 });
});

test("429 waits at least what Retry-After asks before the next try", async () => {
  const arrivals: number[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      arrivals.push(Date.now());
      if (arrivals.length === 1)
        return new Response(`{"code":42901,"http":429,"error":"limit reached: too many requests"}`, {
          status: 429,
          headers: { "Retry-After": "1" },
        });
      return Response.json({ id: "x", event: "message" });
    },
  });
  servers.push(server);
  enqueueAlert(db, "ev-a", note("a"), Date.now() * 1000);
  const sender = new OutboxSender({
    db,
    notifier: new NtfyNotifier(ntfyConfig(`http://127.0.0.1:${server.port}/alerts`)),
    log: recordingLog().log,
    backoffInitialMs: 10,
  });
  await runUntil(sender, () => outboxCounts(db).sent === 1);
  expect(arrivals).toHaveLength(2);
  expect((arrivals[1] as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(1000);
  expect(sender.counters.paused).toBeNull();
});

test.each([
  ["120", 120_000],
  ["0", 0],
  ["Wed, 21 Oct 2026 07:28:30 GMT", 30_000],
  ["soon", null],
  ["99999999", 3_600_000],
])("Retry-After %p is %p ms", (value, ms) => {
  expect(parseRetryAfter(value, Date.parse("2026-10-21T07:28:00Z"))).toBe(ms);
});
