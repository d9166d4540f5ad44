import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpServer, type HttpServer } from "../../src/http/server.ts";
import { createLog } from "../../src/log.ts";
import { collectMetrics } from "../../src/metrics/collect.ts";
import { renderExposition } from "../../src/metrics/exposition.ts";
import { NtfyNotifier } from "../../src/notify/ntfy.ts";
import { OutboxSender } from "../../src/notify/sender.ts";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert, outboxCounts } from "../../src/store/outbox.ts";
import { ntfyTestConfig, until } from "../_builders.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// A paused outbox (ntfy refuses every alert) seen where a monitor looks: /healthz says
// degraded with the reason, /metrics has logtriage_outbox_paused 1. The sender is the real one
// against a local ntfy stand-in that answers 401, wired to the API as the daemon wires it
// (its `paused` counter), and the pause ends when the stand-in takes the token again.

let dir: string;
let db: Database;
let ntfy: NtfyStandIn | null = null;
let server: HttpServer | null = null;
const silent = { info: () => {}, warn: () => {}, error: () => {} };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-outbox-paused-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(async () => {
  await server?.stop();
  server = null;
  await ntfy?.stop();
  ntfy = null;
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(base: string, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(new URL(path, base));
  return { status: r.status, text: await r.text() };
}

test("ntfy refusing alerts (401): /healthz 503 degraded naming the reason, logtriage_outbox_paused 1; both clear when it takes them again", async () => {
  ntfy = await startNtfyStandIn({ token: "tk_rotated" });
  enqueueAlert(db, "ev-a", { title: "a", message: "m", priority: 4, tags: [], click: null }, Date.now() * 1000);
  const sender = new OutboxSender({
    db,
    notifier: new NtfyNotifier(ntfyTestConfig(ntfy.topicUrl("alerts"), { token: "tk_old" })),
    log: silent,
    pauseRetryMs: 100,
  });
  server = startHttpServer({
    listen: { host: "127.0.0.1", port: 0 },
    openLoopback: true,
    log: createLog("error"),
    deps: {
      db,
      token: null,
      services: [],
      snapshotsDir: join(dir, "snapshots"),
      nowUs: () => Date.now() * 1000,
      health: () => ({
        sourceName: "journal",
        sourceRunning: true,
        sourceError: null,
        dbWritable: true,
        blind: [],
        outboxPaused: sender.counters.paused,
      }),
      metrics: async () =>
        renderExposition(
          await collectMetrics(
            {
              db,
              version: "test",
              instanceId: "nas",
              source: () => ({ name: "journal", running: true, lagUs: null }),
              readPsi: () => null,
              probes: null,
              units: null,
              outboxPaused: () => sender.counters.paused !== null,
            },
            Date.now() * 1000,
          ),
        ),
    },
  });
  if (!server) throw new Error("the test server did not start");
  const base = server.url;

  expect((await get(base, "/healthz")).status).toBe(200);
  expect((await get(base, "/metrics")).text).toContain("logtriage_outbox_paused 0\n");

  const controller = new AbortController();
  const running = sender.run(controller.signal);
  try {
    await until("the outbox to pause on ntfy's 401", () => sender.counters.paused !== null, 10_000, 10);
    const health = await get(base, "/healthz");
    expect(health.status).toBe(503);
    const body = JSON.parse(health.text) as Record<string, unknown>;
    expect(body["status"]).toBe("degraded");
    expect(body["outbox"]).toMatchObject({ paused: true, status: 401, reason: sender.counters.paused?.reason });
    expect(String((body["outbox"] as { reason: string }).reason)).toMatch(/401/);
    expect((await get(base, "/metrics")).text).toContain("logtriage_outbox_paused 1\n");

    // The server takes the token again: the paused alert goes out and both views clear.
    ntfy.options.token = "tk_old";
    await until("the paused alert to be sent", () => outboxCounts(db).sent === 1 && sender.counters.paused === null, 10_000, 10);
    const again = await get(base, "/healthz");
    expect(again.status).toBe(200);
    expect(JSON.parse(again.text)).toMatchObject({ status: "ok", outbox: { paused: false } });
    expect((await get(base, "/metrics")).text).toContain("logtriage_outbox_paused 0\n");
  } finally {
    controller.abort();
    await running;
  }
});
