import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import type { ServiceProbeConfig } from "../../src/config/schema.ts";
import type { Candidate, ProbeFacts } from "../../src/event.ts";
import { createLog } from "../../src/log.ts";
import type { Runner, RunOptions } from "../../src/run.ts";
import { MemoryHistory } from "../../src/host/memory-history.ts";
import { checkOnce, classifyFetchError, ProbesMonitor } from "../../src/monitors/probes.ts";
import { formatElapsed } from "../../src/text/format.ts";
import { until } from "../_builders.ts";
import { openStore } from "../../src/store/db.ts";
import { listSnapshots, readSnapshot } from "../../src/store/snapshots.ts";
import { fixturePath } from "../_fixtures.ts";

// Probes against real local HTTP servers (Bun.serve on 127.0.0.1): the checks are real GETs,
// only the interval is short. Conditions are awaited, never timed.

let dir: string;
let db: Database;
const stops: (() => void)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-probes-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const log = createLog("error");
const noJournal: Runner = {
  run: () => Promise.reject(new Error("no journal in this test")),
};
const fixedMemory = () => ({ memTotalKb: 1000, memAvailableKb: 60, swapTotalKb: 0, swapFreeKb: 0 });

function service(url: string, over: Partial<ServiceProbeConfig> = {}): ServiceProbeConfig {
  return { healthUrl: url, unit: null, intervalMs: 40, timeoutMs: 2_000, expectStatus: 200, failuresBeforeAlert: 2, ...over };
}

type Mode = "ok" | "503";
function startServer(port = 0): { port: number; mode: { now: Mode }; stop: () => void } {
  const mode: { now: Mode } = { now: "ok" };
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: () => (mode.now === "ok" ? new Response("ok") : new Response("down", { status: 503 })),
  });
  const stop = () => server.stop(true);
  stops.push(stop);
  return { port: server.port as number, mode, stop };
}

function probeFacts(c: Candidate): ProbeFacts {
  if (c.facts.kind !== "probe") throw new Error(`not a probe event: ${c.facts.kind}`);
  return c.facts.probe;
}

function startMonitor(services: Record<string, ServiceProbeConfig>, options: { memory?: MemoryHistory; runner?: Runner } = {}) {
  const monitor = new ProbesMonitor({
    services,
    db,
    memory: options.memory ?? null,
    runner: options.runner ?? noJournal,
    log,
    snapshotsDir: join(dir, "snapshots"),
    readMemory: fixedMemory,
  });
  const emitted: Candidate[] = [];
  const abort = new AbortController();
  const done = monitor.run(abort.signal, (c) => emitted.push(c));
  stops.push(() => abort.abort());
  return {
    monitor,
    emitted,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

describe("health probes against a real local server", () => {
  test("200 → 503 → closed port → 200: one unhealthy event after 2 failures, a snapshot, then recovery with its duration", async () => {
    const server = startServer();
    const url = `http://127.0.0.1:${server.port}/health`;
    const { monitor, emitted, stop } = startMonitor({ web: service(url) });
    await until("a first good check", () => monitor.status().get("web")?.up === true);
    expect(emitted).toHaveLength(0);

    server.mode.now = "503";
    await until("the unhealthy event", () => emitted.length === 1);
    const down = emitted[0] as Candidate;
    expect(down.tier).toBe("T3");
    expect(down.rule).toBe("service-unhealthy");
    expect(down.summary).toStartWith("Service unhealthy: web — HTTP 503 (expected 200) (2 checks) · RAM: 94% | disk: ");
    const facts = probeFacts(down);
    expect(facts.snapshotPath).not.toBeNull();
    expect(monitor.status().get("web")).toMatchObject({ up: false, lastError: "HTTP 503 (expected 200)" });

    // Still down, now refusing connections: the same incident, no second event.
    server.stop();
    await until("a refused check", () => monitor.status().get("web")?.lastError === "connection refused");
    expect(emitted).toHaveLength(1);

    const again = startServer(server.port);
    expect(again.port).toBe(server.port);
    await until("the recovery", () => emitted.length === 2);
    const up = emitted[1] as Candidate;
    expect(up.rule).toBe("service-healthy");
    expect(up.summary).toMatch(/^Service healthy again: web after \d+ s$/);
    expect(probeFacts(up).snapshotPath).toBe(facts.snapshotPath);
    await stop();

    const [timestamp] = listSnapshots(join(dir, "snapshots"), "web");
    const snapshot = readSnapshot(join(dir, "snapshots"), "web", timestamp as string);
    expect(snapshot?.check).toMatchObject({ outcome: "status", status: 503, expectedStatus: 200 });
    expect(snapshot?.failedChecks.map((c) => c.status)).toEqual([503]);
    expect(snapshot?.readings.length).toBeGreaterThan(0);
    expect(snapshot?.readings.at(-1)?.memTotalKb).toBe(1000);
    expect(snapshot?.missing).toContain('no unit configured for web ([services.web] unit = "…"): no journal lines');
    expect(snapshot?.missing.some((m) => m.includes("[psi]) is off"))).toBe(true);
  });

  test("one failed check followed by a good one is not an incident", async () => {
    const server = startServer();
    const { monitor, emitted, stop } = startMonitor({ web: service(`http://127.0.0.1:${server.port}/`, { failuresBeforeAlert: 3 }) });
    await until("a good check", () => monitor.status().get("web")?.up === true);
    server.mode.now = "503";
    await until("a failed check", () => monitor.status().get("web")?.up === false);
    server.mode.now = "ok";
    await until("good again", () => monitor.status().get("web")?.up === true);
    await stop();
    expect(emitted).toHaveLength(0);
  });

  test("a service down when the daemon stopped is not announced again; its recovery is", async () => {
    const server = startServer();
    server.mode.now = "503";
    const services = { web: service(`http://127.0.0.1:${server.port}/`) };
    const first = startMonitor(services);
    await until("the unhealthy event", () => first.emitted.length === 1);
    await first.stop();

    const second = startMonitor(services);
    await until("several failed checks", () => second.monitor.status().get("web")?.up === false);
    await Bun.sleep(200);
    expect(second.emitted).toHaveLength(0);
    server.mode.now = "ok";
    await until("the recovery", () => second.emitted.length === 1);
    await second.stop();
    expect(second.emitted[0]?.rule).toBe("service-healthy");
    expect(probeFacts(second.emitted[0] as Candidate).downSinceUs).toBe(probeFacts(first.emitted[0] as Candidate).downSinceUs);
  });

  test("the snapshot carries the PSI history, the top consumers and the unit's journal (user manager when the system one has nothing)", async () => {
    const server = startServer();
    server.mode.now = "503";
    const memory = new MemoryHistory();
    const nowUs = Date.now() * 1000;
    memory.push({
      timeUs: nowUs - 2_000_000,
      psi: { someAvg10: 12.5, fullAvg10: 3.1 },
      memTotalKb: 1000,
      memAvailableKb: 60,
      swapTotalKb: 0,
      swapFreeKb: 0,
      top: [{ pid: 4242, comm: "python3", cmdline: "python3 hog.py", rssKb: 800, owner: "hog.service" }],
    });
    memory.push({
      timeUs: nowUs - 1_000_000,
      psi: { someAvg10: 40, fullAvg10: 20 },
      memTotalKb: 1000,
      memAvailableKb: 50,
      swapTotalKb: 0,
      swapFreeKb: 0,
      top: [],
    });
    // journalctl as it answered for the real user unit lt-ok.service (tests/fixtures/real/unit-success.jsonl).
    const unitLines = readFileSync(fixturePath("real/unit-success.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.includes('"lt-ok.service"'));
    const calls: string[][] = [];
    const runner: Runner = {
      run: (argv: string[], _opts: RunOptions) => {
        calls.push(argv);
        return Promise.resolve({
          exitCode: 0,
          stdout: argv.includes("--user-unit") ? unitLines.join("\n") + "\n" : "",
          stderr: "",
          timedOut: false,
        });
      },
    };
    const { emitted, stop } = startMonitor(
      { web: service(`http://127.0.0.1:${server.port}/`, { unit: "lt-ok.service" }) },
      { memory, runner },
    );
    await until("the unhealthy event", () => emitted.length === 1);
    await stop();
    expect(calls.map((a) => a.slice(0, 3))).toEqual([
      ["journalctl", "--unit", "lt-ok.service"],
      ["journalctl", "--user-unit", "lt-ok.service"],
    ]);
    const snapshot = readSnapshot(join(dir, "snapshots"), "web", listSnapshots(join(dir, "snapshots"), "web")[0] as string);
    expect(snapshot?.psi.map((p) => p.someAvg10)).toEqual([12.5, 40]);
    expect(snapshot?.topConsumers[0]).toMatchObject({ pid: 4242, comm: "python3", rssKb: 800 });
    expect(snapshot?.journal?.scope).toBe("user");
    expect(snapshot?.journal?.lines.map((l) => l.message)).toEqual([
      "Starting lt-ok.service - logtriage test oneshot that succeeds...",
      "Finished lt-ok.service - logtriage test oneshot that succeeds.",
    ]);
    expect(snapshot?.missing).toEqual([]);
  });
});

describe("a failed check names its kind", () => {
  test("connection refused, DNS, timeout (real sockets)", async () => {
    const server = startServer();
    const port = server.port;
    server.stop();
    expect(await checkOnce(service(`http://127.0.0.1:${port}/`), new AbortController().signal)).toMatchObject({
      outcome: "refused",
      error: "connection refused",
      status: null,
    });
    expect((await checkOnce(service("http://no-such-host.invalid/"), new AbortController().signal)).outcome).toBe("dns");
    const slow = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async () => {
        await Bun.sleep(2_000);
        return new Response("late");
      },
    });
    stops.push(() => slow.stop(true));
    expect(await checkOnce(service(`http://127.0.0.1:${slow.port}/`, { timeoutMs: 100 }), new AbortController().signal)).toMatchObject({
      outcome: "timeout",
      error: "timeout: no answer within 100 ms",
    });
  });

  test("TLS: a self-signed certificate, and plain HTTP on an https URL", async () => {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    const made = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        keyPath,
        "-out",
        certPath,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
      ],
      { stderr: "pipe" },
    );
    if (made.exitCode !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr.toString()}`);
    const tls = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: Bun.file(certPath), key: Bun.file(keyPath) },
      fetch: () => new Response("ok"),
    });
    stops.push(() => tls.stop(true));
    expect(await checkOnce(service(`https://127.0.0.1:${tls.port}/`), new AbortController().signal)).toMatchObject({
      outcome: "tls",
      error: "TLS error: its certificate is self-signed",
    });
    const plain = startServer();
    expect((await checkOnce(service(`https://127.0.0.1:${plain.port}/`), new AbortController().signal)).error).toStartWith(
      "TLS error: the TLS handshake failed",
    );
  });

  test.each([
    [{ name: "TimeoutError" }, "timeout"],
    [{ code: "ECONNREFUSED" }, "refused"],
    [{ code: "ENOTFOUND" }, "dns"],
    [{ code: "CERT_HAS_EXPIRED" }, "tls"],
    [{ code: "ERR_TLS_CERT_ALTNAME_INVALID" }, "tls"],
    [{ code: "ECONNRESET" }, "reset"],
    [{ code: "EHOSTUNREACH", message: "no route" }, "other"],
  ])("%p → %s", (error, outcome) => {
    expect(classifyFetchError(error, 1_000).outcome).toBe(outcome as ReturnType<typeof classifyFetchError>["outcome"]);
  });

  test.each([
    [8_000, "8 s"],
    [252_000, "4 m 12 s"],
    [3_780_000, "1 h 3 m"],
  ])("%d ms lasted %s", (ms, words) => {
    expect(formatElapsed(ms)).toBe(words);
  });
});
