import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { startHttpServer, type HttpServer } from "../../src/http/server.ts";
import type { ApiDeps, ApiHealth } from "../../src/http/routes.ts";
import { createLog } from "../../src/log.ts";
import { Redactor } from "../../src/text/redact.ts";
import { collectMetrics } from "../../src/metrics/collect.ts";
import { renderExposition } from "../../src/metrics/exposition.ts";
import { parsePsi } from "../../src/parse/psi.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent, type CommitPolicy } from "../../src/store/events.ts";
import { enqueueAlert } from "../../src/store/outbox.ts";
import { writeSnapshot } from "../../src/store/snapshots.ts";
import type { ProbeStatus } from "../../src/monitors/probes.ts";
import { fixturePath } from "../_fixtures.ts";
import { PROMTOOL, promtoolCheckMetrics, promtoolMissing } from "../metrics/_promtool.ts";
import { failureSnapshot, unitFailure } from "../_builders.ts";

// The API served by the real Bun.serve on 127.0.0.1 (port 0: the kernel picks a free one),
// answering from a real SQLite store and real snapshot files in a temp dir.

const NOW_US = Date.UTC(2026, 10, 23, 9, 0, 0) * 1000;
const HOUR_US = 3_600_000_000;
const policy: CommitPolicy = { instanceId: "nas", cooldownMs: 5 * 60_000, aggregateThreshold: 3 };
const quietLog = createLog("error");

let dir: string;
let db: Database;
let health: ApiHealth;
const servers: HttpServer[] = [];

function deps(over: Partial<ApiDeps> = {}): ApiDeps {
  return {
    db,
    token: null,
    services: ["nextcloud", "gitea"],
    snapshotsDir: join(dir, "snapshots"),
    health: () => health,
    metrics: async () =>
      renderExposition(
        await collectMetrics(
          {
            db,
            version: "test",
            instanceId: "nas",
            source: () => ({ name: "journal", running: true, lagUs: 1500 }),
            readPsi: () => null,
            probes: null,
            units: null,
          },
          NOW_US,
        ),
      ),
    nowUs: () => NOW_US,
    ...over,
  };
}

function serve(over: Partial<ApiDeps> = {}): string {
  // Most tests here are about the routes; the token requirement has its own tests below.
  const server = startHttpServer({ listen: { host: "127.0.0.1", port: 0 }, openLoopback: true, deps: deps(over), log: quietLog });
  if (!server) throw new Error("the test server did not start");
  servers.push(server);
  return server.url;
}

async function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string; type: string | null }> {
  const r = await fetch(new URL(path, base), { headers });
  const text = await r.text();
  const type = r.headers.get("content-type");
  return { status: r.status, text, type, body: type?.startsWith("application/json") ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-http-"));
  db = openStore(join(dir, "events.db"));
  health = { sourceName: "journal", sourceRunning: true, sourceError: null, dbWritable: true };
  commitEvent(db, unitFailure({ timestampUs: NOW_US - HOUR_US }), policy);
  commitEvent(db, unitFailure({ timestampUs: NOW_US - HOUR_US + 1_000_000 }), policy); // a second occurrence of the same
  commitEvent(
    db,
    unitFailure({
      tier: "T1",
      rule: "oom-kill",
      unit: null,
      process: "python3",
      pid: 4215,
      summary: "OOM kill: python3",
      timestampUs: NOW_US - 2 * HOUR_US,
    }),
    policy,
  );
  commitEvent(
    db,
    unitFailure({ tier: "T2", rule: "segfault", unit: null, process: "old", summary: "old crash", timestampUs: NOW_US - 48 * HOUR_US }),
    policy,
  );
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("GET /events", () => {
  test("the last 24 h by default, newest first, as JSON", async () => {
    const base = serve();
    const r = await get(base, "/events");
    expect(r.status).toBe(200);
    const events = r.body["events"] as { tier: string; summary: string; occurrences: number; time: string }[];
    expect(events.map((e) => e.tier)).toEqual(["T3", "T1"]);
    expect(events[0]?.occurrences).toBe(2);
    expect(events[0]?.time).toBe("2026-11-23T08:00:00.000Z");
  });

  test.each([
    ["/events?tier=T1", ["T1"]],
    ["/events?tier=t1,T3", ["T3", "T1"]],
    ["/events?since=72h", ["T3", "T1", "T2"]],
    ["/events?since=90m", ["T3"]],
    ["/events?since=2026-11-21T00:00:00Z&tier=T2", ["T2"]],
    ["/events?since=2026-11-23", ["T3", "T1"]],
    ["/events?since=72h&limit=1", ["T3"]],
  ])("%s → %p", async (path, tiers) => {
    const r = await get(serve(), path);
    expect(r.status).toBe(200);
    expect((r.body["events"] as { tier: string }[]).map((e) => e.tier)).toEqual(tiers);
  });

  test.each([
    ["/events?tier=T9", /tier="T9": expected tiers T1 to T5/],
    ["/events?tier=", /expected tiers T1 to T5/],
    ["/events?since=yesterday", /since="yesterday" is neither a duration like 24h/],
    ["/events?since=2026-13-45T99:00:00Z", /is neither a duration/],
    ["/events?limit=0", /limit="0": expected a whole number 1 to 1000/],
    ["/events?limit=abc", /limit="abc"/],
    ["/events?tiers=T1", /unknown parameter "tiers"/],
  ])("%s → 400 saying what is wrong", async (path, message) => {
    const r = await get(serve(), path);
    expect(r.status).toBe(400);
    expect(String(r.body["error"])).toMatch(message);
  });
});

describe("GET /failure-context", () => {
  test("/last is the newest snapshot; /list its last 10 timestamps, newest first", async () => {
    const t0 = Date.UTC(2026, 1, 18, 3, 12, 45, 123) * 1000;
    for (let i = 0; i < 12; i++)
      writeSnapshot(join(dir, "snapshots"), "nextcloud", failureSnapshot(t0 + i * 60_000_000, { summary: `failure ${i}` }));
    const base = serve();
    const last = await get(base, "/failure-context/nextcloud/last");
    expect(last.status).toBe(200);
    expect(last.body["summary"]).toBe("failure 11");
    const list = await get(base, "/failure-context/nextcloud/list");
    const failures = list.body["failures"] as { timestamp: string; time: string }[];
    expect(failures.length).toBe(10);
    expect(failures[0]).toEqual({ timestamp: "2026-02-18T03-23-45.123Z", time: "2026-02-18T03:23:45.123Z" });
    expect(failures[9]?.timestamp).toBe("2026-02-18T03-14-45.123Z");
  });

  test("a configured service without failures: /list is empty, /last is 404 saying so", async () => {
    const base = serve();
    expect((await get(base, "/failure-context/gitea/list")).body["failures"]).toEqual([]);
    const last = await get(base, "/failure-context/gitea/last");
    expect(last.status).toBe(404);
    expect(last.body["error"]).toBe("gitea has no failure snapshot yet");
  });

  test("dot segments never leave the API: the URL is normalized first, so it is just an unknown path", async () => {
    for (const name of ["..", "%2e%2e"]) expect((await get(serve(), `/failure-context/${name}/last`)).status).toBe(404);
  });

  test.each(["nope", "a%2F..%2F..%2Fetc", "%E0%A4%A"])("unknown service %j → 404 naming the configured ones", async (name) => {
    const r = await get(serve(), `/failure-context/${name}/last`);
    expect(r.status).toBe(404);
    expect(String(r.body["error"])).toMatch(/configured services: nextcloud, gitea|not valid URL text/);
  });

  test("no [services] configured: the 404 says where to configure them", async () => {
    const r = await get(serve({ services: [] }), "/failure-context/nextcloud/list");
    expect(r.status).toBe(404);
    expect(String(r.body["error"])).toContain("[services.NAME]");
  });

  test("a snapshot file that is not one → 500 naming the file, and the server goes on", async () => {
    mkdirSync(join(dir, "snapshots", "nextcloud"), { recursive: true });
    writeFileSync(join(dir, "snapshots", "nextcloud", "2026-02-18T03-12-45.123Z.json"), "{ not json");
    const base = serve();
    const r = await get(base, "/failure-context/nextcloud/last");
    expect(r.status).toBe(500);
    expect(String(r.body["error"])).toContain("2026-02-18T03-12-45.123Z.json is not JSON");
    expect((await get(base, "/healthz")).status).toBe(200);
  });
});

describe("GET /healthz", () => {
  test("200 while the source reads and the database takes writes", async () => {
    const r = await get(serve(), "/healthz");
    expect(r.status).toBe(200);
    expect(r.body["status"]).toBe("ok");
  });

  test("503 when the source is down, with its error; 503 when the database refuses writes", async () => {
    const base = serve();
    health = { sourceName: "journal", sourceRunning: false, sourceError: "journalctl exited with status 1", dbWritable: true };
    const down = await get(base, "/healthz");
    expect(down.status).toBe(503);
    expect(down.body["source"]).toEqual({ name: "journal", running: false, error: "journalctl exited with status 1" });
    health = { sourceName: "journal", sourceRunning: true, sourceError: null, dbWritable: false };
    expect((await get(base, "/healthz")).status).toBe(503);
  });
});

describe("routing and auth", () => {
  test("unknown paths are 404 JSON listing the endpoints; writes are 405", async () => {
    const base = serve();
    const r = await get(base, "/nope");
    expect(r.status).toBe(404);
    expect(r.type).toStartWith("application/json");
    expect(String(r.body["error"])).toContain("/failure-context/SERVICE/last");
    const post = await fetch(new URL("/events", base), { method: "POST", body: "x" });
    expect(post.status).toBe(405);
  });

  test("with a token: no header, a wrong token or another scheme → 401; the right bearer token → 200", async () => {
    const base = serve({ token: "s3cret-token" });
    expect((await get(base, "/healthz")).status).toBe(401);
    expect((await get(base, "/healthz", { authorization: "Bearer s3cret-tokeN" })).status).toBe(401);
    expect((await get(base, "/healthz", { authorization: "Bearer s3cret-token-longer" })).status).toBe(401);
    expect((await get(base, "/healthz", { authorization: "Basic czNjcmV0LXRva2Vu" })).status).toBe(401);
    const unauthorized = await get(base, "/metrics");
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.text).not.toContain("logtriage_events_total");
    expect((await get(base, "/healthz", { authorization: "Bearer s3cret-token" })).status).toBe(200);
    expect((await get(base, "/metrics", { authorization: "bearer s3cret-token" })).status).toBe(200);
  });

  test("an address in use: null and one error line naming it and [http] listen; the first server still answers", async () => {
    const base = serve();
    const port = Number(new URL(base).port);
    const lines: string[] = [];
    const log = createLog("error");
    log.setReporters([{ log: (o) => lines.push(o.args.join(" ")) }]);
    expect(startHttpServer({ listen: { host: "127.0.0.1", port }, openLoopback: true, deps: deps(), log })).toBeNull();
    expect(lines).toEqual([
      `HTTP API not started: cannot listen on 127.0.0.1:${port}: the address is in use (another logtriage or program listens there). Change [http] listen in the config; the daemon goes on without the API`,
    ]);
    expect((await get(base, "/healthz")).status).toBe(200);
  });
});

describe("no one in by default", () => {
  test("a TCP listener without a token does not start unless open loopback was asked for, and never on another address", () => {
    const lines: string[] = [];
    const log = createLog("error");
    log.setReporters([{ log: (o) => lines.push(o.args.join(" ")) }]);
    expect(startHttpServer({ listen: { host: "127.0.0.1", port: 0 }, deps: deps(), log })).toBeNull();
    expect(startHttpServer({ listen: { host: "0.0.0.0", port: 0 }, openLoopback: true, deps: deps(), log })).toBeNull();
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toContain("no [http] token is set");
  });

  test("with a token, every route but none answers without it: 401 on /metrics, /events, /healthz", async () => {
    const server = startHttpServer({ listen: { host: "127.0.0.1", port: 0 }, deps: deps({ token: "tk-local" }), log: quietLog });
    if (!server) throw new Error("the test server did not start");
    servers.push(server);
    for (const path of ["/metrics", "/events", "/healthz", "/failure-context/nextcloud"]) {
      expect({ path, status: (await get(server.url, path)).status }).toEqual({ path, status: 401 });
      expect({ path, status: (await get(server.url, path, { authorization: "Bearer tk-local" })).status }).not.toEqual({
        path,
        status: 401,
      });
    }
  });

  test("on a Unix socket: the file is 0600 from the start, answers through it, and is removed on stop", async () => {
    const socket = join(dir, "api.sock");
    writeFileSync(join(dir, "marker"), "");
    const server = startHttpServer({ listen: { unix: socket }, deps: deps(), log: quietLog });
    if (!server) throw new Error("the socket server did not start");
    expect(server.url).toBe(`unix:${socket}`);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const r = await fetch("http://localhost/healthz", { unix: socket });
    expect(r.status).toBe(200);
    await server.stop();
    expect(existsSync(socket)).toBe(false);
  });

  test.skipIf(process.getuid?.() !== 0)("on a Unix socket, another user cannot connect", async () => {
    const socket = join(dir, "api.sock");
    chmodSync(dir, 0o755); // the directory is not what protects it: the socket's mode is
    const server = startHttpServer({ listen: { unix: socket }, deps: deps(), log: quietLog });
    if (!server) throw new Error("the socket server did not start");
    servers.push(server);
    // Asynchronous: this process is the server and must go on answering while curl runs.
    const curl = async (...prefix: string[]) => {
      const p = Bun.spawn(
        [...prefix, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", socket, "http://localhost/healthz"],
        { stderr: "pipe", stdout: "pipe" },
      );
      await p.exited;
      return await new Response(p.stdout).text();
    };
    const nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    expect(await curl(...nobody)).toBe("000");
    expect(await curl()).toBe("200");
    // The control: the same socket opened up lets nobody in, so it was the mode that kept it out.
    chmodSync(socket, 0o666);
    expect(await curl(...nobody)).toBe("200");
  });
});

describe("secrets in answers", () => {
  test("/events passes the redaction: a secret in an event's text does not leave through the API", async () => {
    commitEvent(
      db,
      unitFailure({ summary: "app failed: DB_PASSWORD=hunter2 via http://admin:pw@db:5432/x", unit: "secret-app.service" }),
      policy,
    );
    const r = await get(serve({ redactor: new Redactor() }), "/events?since=2d");
    expect(r.status).toBe(200);
    expect(r.text).not.toContain("hunter2");
    expect(r.text).not.toContain("admin:pw");
    expect(r.text).toContain("DB_PASSWORD=REDACTED");
  });
});

describe("GET /metrics", () => {
  test("events by instance and tier sum occurrences; every tier of this instance is listed; outbox, source, build info", async () => {
    const event = commitEvent(
      db,
      unitFailure({ tier: "T4", rule: "io-error", unit: null, process: null, summary: "I/O error", timestampUs: NOW_US }),
      { ...policy, instanceId: "other-host" },
    );
    enqueueAlert(db, event.id, { title: "I/O error", message: "I/O error", priority: 4, tags: [], click: null }, NOW_US);
    const r = await get(serve(), "/metrics");
    const text = r.text;
    expect(r.status).toBe(200);
    expect(r.type).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(text).toContain('logtriage_events_total{instance="nas",tier="T3"} 2\n');
    expect(text).toContain('logtriage_events_total{instance="nas",tier="T1"} 1\n');
    expect(text).toContain('logtriage_events_total{instance="nas",tier="T5"} 0\n');
    expect(text).toContain('logtriage_events_total{instance="other-host",tier="T4"} 1\n');
    expect(text).toContain(`logtriage_last_event_timestamp_seconds{instance="nas",tier="T3"} ${(NOW_US - HOUR_US + 1_000_000) / 1e6}\n`);
    expect(text).toContain("logtriage_outbox_pending 1\n");
    expect(text).toContain('logtriage_source_up{source="journal"} 1\n');
    expect(text).toContain('logtriage_source_lag_seconds{source="journal"} 0.0015\n');
    expect(text.match(/^# TYPE logtriage_events_total counter$/gm)?.length).toBe(1);
    if (!PROMTOOL) return promtoolMissing("/metrics");
    const check = promtoolCheckMetrics(text);
    expect(check.output).toBe("");
    expect(check.code).toBe(0);
  });

  test("PSI from a real /proc/pressure/memory capture and probe status per service", async () => {
    const psi = parsePsi(
      readFileSync(fixturePath("real/proc/pressure-memory-thrash-series.txt"), "utf8").split("\n")[6]?.replace(" full", "\nfull") ?? "",
    );
    if (!psi) throw new Error("fixture line did not parse");
    const probes = new Map<string, ProbeStatus>([
      ["nextcloud", { up: false, latencyMs: 2000, lastCheckUs: NOW_US, lastError: "timeout" }],
      ["gitea", { up: true, latencyMs: 12.5, lastCheckUs: NOW_US, lastError: null }],
      ["new", { up: null, latencyMs: null, lastCheckUs: null, lastError: null }],
    ]);
    const families = await collectMetrics(
      {
        db,
        version: "test",
        instanceId: "nas",
        source: () => ({ name: null, running: false, lagUs: null }),
        readPsi: () => psi,
        probes: () => probes,
        units: null,
      },
      NOW_US,
    );
    const out = renderExposition(families);
    expect(out).toContain(`logtriage_psi_memory_some_avg10 ${psi.some.avg10}\n`);
    expect(out).toContain(`logtriage_psi_memory_full_avg10 ${psi.full?.avg10}\n`);
    expect(out).toContain('logtriage_probe_up{service="nextcloud"} 0\n');
    expect(out).toContain('logtriage_probe_up{service="gitea"} 1\n');
    expect(out).toContain('logtriage_probe_latency_seconds{service="gitea"} 0.0125\n');
    expect(out).not.toContain('service="new"');
    expect(out).toContain('logtriage_source_up{source="none"} 0\n');
    expect(out).not.toMatch(/^logtriage_source_lag_seconds/m);
  });
});
