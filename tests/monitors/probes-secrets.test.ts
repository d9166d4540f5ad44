import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import type { Candidate } from "../../src/event.ts";
import { createLog } from "../../src/log.ts";
import { alertFor } from "../../src/notify/alert.ts";
import { NtfyNotifier } from "../../src/notify/ntfy.ts";
import { ProbesMonitor } from "../../src/monitors/probes.ts";
import { ntfyTestConfig } from "../_builders.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent, getEvent } from "../../src/store/events.ts";
import { listSnapshots } from "../../src/store/snapshots.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// A probe's health_url with credentials (user:password@, ?api_key=) must not reach the event,
// the snapshot or the ntfy alert: it stays in the 0600 config.

let dir: string;
let db: Database;
const cleanups: (() => void | Promise<void>)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-probe-secrets-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a failing probe with credentials in its URL: event, snapshot and the ntfy alert carry none of them", async () => {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("down", { status: 503 }) });
  cleanups.push(() => void server.stop(true));
  const url = `http://admin:hunter2@127.0.0.1:${server.port}/health?api_key=SECRETKEY42&verbose=1`;
  const monitor = new ProbesMonitor({
    services: { web: { healthUrl: url, unit: null, intervalMs: 40, timeoutMs: 2_000, expectStatus: 200, failuresBeforeAlert: 2 } },
    db,
    memory: null,
    runner: { run: () => Promise.reject(new Error("no journal in this test")) },
    log: createLog("error"),
    snapshotsDir: join(dir, "snapshots"),
    readMemory: () => ({ memTotalKb: 1000, memAvailableKb: 600, swapTotalKb: 0, swapFreeKb: 0 }),
  });
  const emitted: Candidate[] = [];
  const abort = new AbortController();
  const done = monitor.run(abort.signal, (c) => emitted.push(c));
  for (let i = 0; i < 2000 && emitted.length === 0; i++) await Bun.sleep(10);
  abort.abort();
  await done;
  expect(emitted).toHaveLength(1);

  const stored = commitEvent(db, emitted[0] as Candidate, { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 });
  const lookup = getEvent(db, stored.id);
  if (lookup.kind !== "found") throw new Error("stored event not found");
  const row = JSON.stringify(db.query("SELECT * FROM events").all());
  const snapshotText = listSnapshots(join(dir, "snapshots"), "web", 10)
    .map((t) => readFileSync(join(dir, "snapshots", "web", `${t}.json`), "utf8"))
    .join("\n");
  expect(snapshotText).not.toBe("");

  const ntfy: NtfyStandIn = await startNtfyStandIn();
  cleanups.push(() => ntfy.stop());
  const ntfyConfig = ntfyTestConfig(ntfy.topicUrl("alerts"), { alertTiers: ["T3"] });
  await new NtfyNotifier(ntfyConfig).send(alertFor(lookup.event, ntfyConfig, "box"), new AbortController().signal);
  const sent = JSON.stringify(ntfy.messages);

  for (const [where, text] of [
    ["event row", row],
    ["snapshot", snapshotText],
    ["ntfy alert", sent],
  ] as const) {
    expect({ where, leaks: ["hunter2", "SECRETKEY42", "admin:"].filter((s) => text.includes(s)) }).toEqual({ where, leaks: [] });
  }
  expect(row).toContain(`http://REDACTED@127.0.0.1:${server.port}/health?api_key=REDACTED&verbose=1`);
});

test("an alert's log text passes the secret redaction on its way to ntfy", async () => {
  const ntfy = await startNtfyStandIn();
  cleanups.push(() => ntfy.stop());
  const ntfyConfig = ntfyTestConfig(ntfy.topicUrl("alerts"), { alertTiers: ["T3"] });
  await new NtfyNotifier(ntfyConfig).send(
    {
      title: "app.service failed",
      message: "last lines:\nconnecting with password=hunter2\nAuthorization: Bearer abcdef0123456789abcdef",
      priority: 4,
      tags: [],
      click: null,
    },
    new AbortController().signal,
  );
  expect(ntfy.messages[0]?.message).toBe("last lines:\nconnecting with password=REDACTED\nAuthorization: Bearer REDACTED");
});
