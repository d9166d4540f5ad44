import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { events, startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, ensureUserManager, isRoot, type Journald, type UserManager } from "./_system.ts";
import type { FailureSnapshot } from "../../src/store/snapshots.ts";

// Health probes end to end: a local HTTP service, run as a real `systemd --user` unit, logs lines,
// turns 503, then stops listening, while a memory hog runs. The compiled daemon probes it
// every second: exactly one 'service unhealthy' event, one failure snapshot with 10 readings
// and the unit's real journal lines; when the service answers again, the recovery event.

// The service: answers 200 or 503 as its state file says; "exit" closes the socket and ends
// the process cleanly (status 0: no unit-failure event of its own).
const SERVER = `
import http.server, sys, os
port, state = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        mode = open(state).read().strip()
        if mode == "exit":
            print("shutting down: no longer listening", flush=True)
            os._exit(0)
        code = 200 if mode == "ok" else 503
        print(f"health check answered {code}", flush=True)
        self.send_response(code); self.end_headers(); self.wfile.write(b"state")
    def log_message(self, *args): pass
print(f"lt-probe service listening on {port}", flush=True)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
`;

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port as number;
  s.stop(true);
  return port;
}

describe.skipIf(!isRoot)("health probes end to end (root: real journald, a real systemd --user unit)", () => {
  let journald: Journald | null = null;
  let manager: UserManager;
  let daemon: DaemonUnderTest;
  let work: string;
  let hog: ReturnType<typeof Bun.spawn> | null = null;
  const unit = `lt-probe-${process.pid}.service`;
  const port = freePort();
  const apiPort = freePort();

  beforeAll(async () => {
    journald = await ensureJournald();
    manager = await ensureUserManager();
    work = mkdtempSync(join(tmpdir(), "logtriage-e2e-probes-"));
    writeFileSync(join(work, "server.py"), SERVER);
    writeFileSync(join(work, "state"), "ok");
    const run = Bun.spawnSync(
      ["systemd-run", "--user", `--unit=${unit}`, "python3", join(work, "server.py"), String(port), join(work, "state")],
      { env: manager.env, stdout: "pipe", stderr: "pipe" },
    );
    if (run.exitCode !== 0) throw new Error(`systemd-run: ${run.stderr.toString()}`);
    await until("the service to answer", async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null))?.status === 200, 15_000);
    daemon = await startDaemon(`
[instance]
id = "e2e-probes"

[services.x]
health_url = "http://127.0.0.1:${port}/health"
unit = "${unit}"
interval = "1s"
timeout = "500ms"
failures_before_alert = 2

[http]
listen = "127.0.0.1:${apiPort}"
allow_unauthenticated_loopback = true
`);
  });

  afterAll(async () => {
    hog?.kill("SIGKILL");
    if (daemon && daemon.proc.exitCode === null) await daemon.stop();
    Bun.spawnSync(["systemctl", "--user", "stop", unit], { env: manager.env });
    Bun.spawnSync(["systemctl", "--user", "reset-failed", unit], { env: manager.env });
    if (work) rmSync(work, { recursive: true, force: true });
    // Stop what this file started (each only if it did).
    await manager.stop();
    await journald?.stop();
  });

  test("503 then a closed port under a memory hog: one unhealthy event, one snapshot with 10 readings and the unit's journal; then recovery", async () => {
    // 10 readings at 1 s, then a hog holding 512 MiB (no OOM: the VM has room), then the failure.
    await Bun.sleep(11_000);
    hog = Bun.spawn(
      [
        "python3",
        "-c",
        "import time\nb = bytearray(512 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('held', flush=True)\ntime.sleep(120)",
      ],
      { stdout: "pipe" },
    );
    await until(
      "the hog to hold its memory",
      () =>
        readFileSync(`/proc/${hog?.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1] !== undefined &&
        Number(readFileSync(`/proc/${hog?.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1]) > 500_000,
      15_000,
    );
    await Bun.sleep(1_500);
    writeFileSync(join(work, "state"), "503");
    await until("the unhealthy event", () => events(daemon.dbPath).some((e) => e.rule === "service-unhealthy"), 15_000);
    writeFileSync(join(work, "state"), "exit");
    await until("the service to stop listening", async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null)) === null, 15_000);
    // Several refused checks: still the same incident.
    await Bun.sleep(3_000);

    const unhealthy = events(daemon.dbPath).filter((e) => e.rule === "service-unhealthy");
    expect(unhealthy).toHaveLength(1);
    const event = unhealthy[0] as (typeof unhealthy)[number];
    expect(event.tier).toBe("T3");
    expect(event.unit).toBe(unit);
    expect(event.summary).toMatch(
      /^Service unhealthy: x — HTTP 503 \(expected 200\) \(2 checks\) · RAM: \d+% \| disk: \d+% \| load: \d+\.\d/,
    );

    const dir = join(daemon.box.dataDir, "snapshots", "x");
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const facts = JSON.parse(event.facts_json) as { probe: { snapshotPath: string } };
    expect(facts.probe.snapshotPath).toBe(join(dir, files[0] as string));
    expect(event.detail).toContain(`Failure snapshot: ${facts.probe.snapshotPath}`);
    const snapshot = JSON.parse(readFileSync(join(dir, files[0] as string), "utf8")) as FailureSnapshot;
    expect(snapshot.readings).toHaveLength(10);
    expect(snapshot.check).toMatchObject({ outcome: "status", status: 503 });
    // The hog shows in the last reading's RAM, which the first (before it) did not have.
    const first = snapshot.readings[0]?.memUsedKb ?? 0;
    const last = snapshot.readings.at(-1)?.memUsedKb ?? 0;
    expect(last - first).toBeGreaterThan(400_000);
    expect(snapshot.readings.at(-1)?.disks.map((d) => d.mount)).toContain("/");
    // The local API serves the same snapshot, and lists it.
    const api = `http://127.0.0.1:${apiPort}/failure-context/x`;
    expect(await (await fetch(`${api}/last`)).json()).toEqual(snapshot);
    const list = (await (await fetch(`${api}/list`)).json()) as { failures: { timestamp: string }[] };
    expect(list.failures.map((f) => `${f.timestamp}.json`)).toEqual(files);

    // The unit's own lines, from the real journal.
    const messages = snapshot.journal?.lines.map((l) => l.message) ?? [];
    expect(messages).toContain(`lt-probe service listening on ${port}`);
    expect(messages).toContain("health check answered 503");

    // Back: the service is started again and answers 200.
    writeFileSync(join(work, "state"), "ok");
    Bun.spawnSync(["systemctl", "--user", "reset-failed", unit], { env: manager.env });
    const rerun = Bun.spawnSync(
      ["systemd-run", "--user", `--unit=${unit}`, "python3", join(work, "server.py"), String(port), join(work, "state")],
      { env: manager.env, stdout: "pipe", stderr: "pipe" },
    );
    expect(rerun.exitCode).toBe(0);
    await until("the recovery event", () => events(daemon.dbPath).some((e) => e.rule === "service-healthy"), 15_000);
    const healthy = events(daemon.dbPath).filter((e) => e.rule === "service-healthy");
    expect(healthy).toHaveLength(1);
    expect(healthy[0]?.summary).toMatch(/^Service healthy again: x after \d+ s$/);
    expect(events(daemon.dbPath).filter((e) => e.rule === "service-unhealthy")).toHaveLength(1);
  }, 90_000);
});
