import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, ensureUserManager, isRoot, type Journald, type UserManager } from "./_system.ts";

// A real Prometheus (Debian's prometheus package) scrapes the compiled daemon's /metrics every
// second on loopback, and its query API must return the restart count of a real
// restart-looping systemd --user unit: the number systemctl itself reports.

/** The API needs a token on every TCP listener; Prometheus passes it from a file, as the docs show. */
const API_TOKEN = `tk-e2e-${process.pid}`;
const AUTH = { authorization: `Bearer ${API_TOKEN}` };
const PROMETHEUS = Bun.which("prometheus", { PATH: "/usr/bin:/bin:/usr/local/bin" });

/** A port nothing listens on now: the kernel's pick for a listener we close at once. */
function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port as number;
  probe.stop(true);
  return port;
}

function systemctlShow(manager: UserManager, unit: string, property: string): string {
  const r = Bun.spawnSync(["systemctl", "--user", "show", "-P", property, unit], { env: manager.env, stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().trim();
}

interface PromVector {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe.skipIf(!isRoot || !PROMETHEUS)("Prometheus scrapes the daemon's /metrics (real prometheus, real systemd --user)", () => {
  let journald: Journald;
  let manager: UserManager;
  let daemon: DaemonUnderTest;
  let prometheus: ReturnType<typeof Bun.spawn> | null = null;
  let prometheusLog = "";
  let work: string;
  let apiPort: number;
  let promPort: number;
  const unit = `lt-e2e-prom-${process.pid}.service`;

  beforeAll(async () => {
    journald = await ensureJournald();
    manager = await ensureUserManager();
    work = mkdtempSync(join(tmpdir(), "logtriage-e2e-prom-"));
    apiPort = freePort();
    promPort = freePort();
    // The loop ends by itself: restarts 200 ms apart until StartLimitBurst=5 refuses the next
    // start ("restart counter is at 5", then "Start request repeated too quickly"), and the unit stays loaded in "failed" with NRestarts fixed, so
    // the value Prometheus stored can be compared with systemctl's exactly.
    const run = Bun.spawnSync(
      [
        "systemd-run",
        "--user",
        `--unit=${unit}`,
        "-p",
        "Restart=always",
        "-p",
        "RestartSec=200ms",
        "-p",
        "StartLimitBurst=5",
        "-p",
        "StartLimitIntervalSec=60",
        "/bin/sh",
        "-c",
        "exit 3",
      ],
      { env: manager.env, stdout: "pipe", stderr: "pipe" },
    );
    if (run.exitCode !== 0) throw new Error(`systemd-run: ${run.stderr.toString()}`);
    // The daemon reaches the user manager as a user service would: through XDG_RUNTIME_DIR.
    daemon = await startDaemon(
      `
[instance]
id = "prom-e2e"

[http]
listen = "127.0.0.1:${apiPort}"
token = "${API_TOKEN}"

[metrics]
units = ["${unit}"]
`,
      [],
      ["env", `XDG_RUNTIME_DIR=${manager.env["XDG_RUNTIME_DIR"]}`],
    );
    await daemon.waitForOutput(/HTTP API on http:\/\/127\.0\.0\.1:\d+\//);
    writeFileSync(join(work, "api-token"), `${API_TOKEN}\n`, { mode: 0o600 });
    writeFileSync(
      join(work, "prometheus.yml"),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: logtriage
    static_configs:
      - targets: ["127.0.0.1:${apiPort}"]
    authorization:
      credentials_file: ${join(work, "api-token")}
`,
    );
    prometheus = Bun.spawn(
      [
        PROMETHEUS as string,
        `--config.file=${join(work, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(work, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        "--log.level=warn",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    void (async () => {
      for await (const chunk of prometheus.stderr as ReadableStream<Uint8Array>) prometheusLog += new TextDecoder().decode(chunk);
    })();
    await until(
      "prometheus to be ready",
      async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => null))?.ok === true,
      30_000,
      200,
    );
  });

  afterAll(async () => {
    if (prometheus) {
      prometheus.kill("SIGTERM");
      await prometheus.exited;
    }
    if (daemon && daemon.proc.exitCode === null) await daemon.stop();
    if (manager) {
      Bun.spawnSync(["systemctl", "--user", "stop", unit], { env: manager.env });
      Bun.spawnSync(["systemctl", "--user", "reset-failed", unit], { env: manager.env });
    }
    await manager?.stop();
    await journald?.stop();
    if (daemon) rmSync(daemon.box.home, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<PromVector["data"]["result"]> {
    const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await r.json()) as PromVector;
    if (body.status !== "success") throw new Error(`prometheus query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
  }

  test("the restart count Prometheus stored is systemctl's NRestarts for the looping unit", async () => {
    // systemd 252 keeps Result=exit-code after "Start request repeated too quickly"; the unit is failed.
    await until("the unit to hit its start limit", () => systemctlShow(manager, unit, "ActiveState") === "failed", 20_000, 100);
    const nRestarts = Number(systemctlShow(manager, unit, "NRestarts"));
    expect(nRestarts).toBeGreaterThanOrEqual(1);
    let value = Number.NaN;
    try {
      await until(
        "prometheus to hold the unit's final restart count",
        async () => {
          const [sample] = await query(`systemd_unit_restart_count_total{unit="${unit}"}`);
          value = sample ? Number(sample.value[1]) : Number.NaN;
          return value === nRestarts;
        },
        30_000,
        500,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}: last value ${value}, systemctl says ${nRestarts}; daemon output:\n${daemon.output()}\nprometheus:\n${prometheusLog}`,
      );
    }
    expect(value).toBe(nRestarts);
    // The same scrape carried the unit's state and exit status as systemd sees them.
    const [active] = await query(`systemd_unit_active{unit="${unit}"}`);
    expect(active?.metric["sub_state"]).toBe("failed");
    expect(active?.value[1]).toBe("0");
    const [exit] = await query(`systemd_unit_last_exit_status{unit="${unit}"}`);
    expect(exit?.value[1]).toBe("3");
    // The target is up and logtriage's own series are there.
    const [up] = await query(`up{job="logtriage"}`);
    expect(up?.value[1]).toBe("1");
    const sources = await query("logtriage_source_up");
    expect(sources[0]?.metric["source"]).toBe("journal");
  }, 90_000);

  test("the compiled daemon answers /healthz and /events on the same listener", async () => {
    expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(401);
    const health = await fetch(`http://127.0.0.1:${apiPort}/healthz`, { headers: AUTH });
    expect(health.status).toBe(200);
    expect(((await health.json()) as { source: { name: string } }).source.name).toBe("journal");
    const bad = await fetch(`http://127.0.0.1:${apiPort}/events?since=soon`, { headers: AUTH });
    expect(bad.status).toBe(400);
    const events = await fetch(`http://127.0.0.1:${apiPort}/events?tier=T3&since=1h`, { headers: AUTH });
    expect(events.status).toBe(200);
  });

  test("a second daemon on the same address: one error line naming it and [http] listen, and it keeps reading the journal", async () => {
    const second = await startDaemon(`[http]\nlisten = "127.0.0.1:${apiPort}"\ntoken = "${API_TOKEN}"\n`);
    try {
      await second.waitForOutput(/HTTP API not started/);
      await second.waitForOutput(/source journal/);
      const lines = second
        .output()
        .split("\n")
        .filter((l) => l.includes("HTTP API not started"));
      expect(lines.length).toBe(1);
      expect(lines[0]).toContain(`cannot listen on 127.0.0.1:${apiPort}: the address is in use`);
      expect(lines[0]).toContain("[http] listen");
      expect(second.output()).not.toMatch(/^\s+at /m);
      await Bun.sleep(500);
      expect(second.proc.exitCode).toBeNull();
    } finally {
      await second.stop();
      rmSync(second.box.home, { recursive: true, force: true });
    }
  });
});
