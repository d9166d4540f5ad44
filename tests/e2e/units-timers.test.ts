import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { events, startDaemon, until, withDb, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, ensureUserManager, isRoot, type Journald, type UserManager } from "./_system.ts";

// Failed units and timers end to end, on a real journald and a real `systemd --user` with the
// compiled daemon: (a) a user service that prints three lines and exits 3 → its T3 event's
// detail holds those lines, read back from the real journal by the unit enricher; (b) a real
// timer (unit files in the user manager's runtime dir) whose service fails → one "timer failed"
// T3 event from the timers monitor, polled every second; (c) a user service killed by a real
// memcg OOM kill → its failure event names the stored OOM event; (d) a user service that fails,
// then is started by hand and runs → its incident is resolved from the journal's "Started"
// line (checked with `systemctl --user`), and the ntfy stand-in receives the resolved update
// under the alert's sequence id. The daemon is started without XDG_RUNTIME_DIR, as a system
// service would be: the monitor and the incident step must still find the user manager.

const RUNTIME_UNITS = "/run/user/0/systemd/user";

describe.skipIf(!isRoot)("failed units and timers end to end (root: real journald, real systemd --user)", () => {
  let journald: Journald | null = null;
  let manager: UserManager;
  let daemon: DaemonUnderTest;
  const service = `lt-e2e-lines-${process.pid}.service`;
  const tick = `lt-e2e-tick-${process.pid}`;
  const hog = `lt-e2e-oomsvc-${process.pid}.service`;
  const recovers = `lt-e2e-recover-${process.pid}.service`;
  const recoverFlag = `/tmp/lt-e2e-recover-${process.pid}.ok`;
  let ntfy: NtfyStandIn;
  const systemctl = (...args: string[]) =>
    Bun.spawnSync(["systemctl", "--user", ...args], { env: manager.env, stdout: "pipe", stderr: "pipe" });

  beforeAll(async () => {
    journald = await ensureJournald();
    manager = await ensureUserManager();
    mkdirSync(RUNTIME_UNITS, { recursive: true });
    writeFileSync(
      join(RUNTIME_UNITS, `${tick}.service`),
      // The pause: journald names a stdout line's unit from the writer's cgroup, and a process
      // that exits within a moment of printing can lose that (docs/root-causes.md).
      "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo rotating logs; echo no space left >&2; sleep 0.5; exit 3'\n",
    );
    // Fires once, 1 s after it is started, and then every hour (not again during the test).
    writeFileSync(join(RUNTIME_UNITS, `${tick}.timer`), "[Timer]\nOnActiveSec=1s\nOnUnitActiveSec=1h\nAccuracySec=1ms\n");
    // Fails (no Restart=) until its flag file exists, then stays up.
    rmSync(recoverFlag, { force: true });
    writeFileSync(
      join(RUNTIME_UNITS, recovers),
      `[Unit]\nDescription=logtriage test service that recovers\n[Service]\nExecStart=/bin/sh -c '[ -e ${recoverFlag} ] && exec sleep 3600; echo "config missing" >&2; sleep 0.5; exit 2'\n`,
    );
    ntfy = await startNtfyStandIn({ rateLimit: null });
    expect(systemctl("daemon-reload").exitCode).toBe(0);
    daemon = await startDaemon(`
[instance]
id = "e2e-units"

[timers]
watch = ["${tick}.timer"]
poll_interval = "1s"

[ntfy]
url = "${ntfy.url}/lt-units"
`);
    await daemon.waitForOutput(/source journal/);
  });

  afterAll(async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.stop();
    await ntfy?.stop();
    if (!manager) return;
    systemctl("stop", service, hog, recovers, `${tick}.timer`, `${tick}.service`);
    systemctl("reset-failed", service, hog, recovers, `${tick}.timer`, `${tick}.service`);
    rmSync(join(RUNTIME_UNITS, recovers), { force: true });
    rmSync(recoverFlag, { force: true });
    rmSync(join(RUNTIME_UNITS, `${tick}.service`), { force: true });
    rmSync(join(RUNTIME_UNITS, `${tick}.timer`), { force: true });
    systemctl("daemon-reload");
    // Stop what this file started (each only if it did), as the other end-to-end files do.
    await manager.stop();
    await journald?.stop();
  });

  test("a user service that exits 3: its event carries its own last lines from the journal", async () => {
    const run = Bun.spawnSync(
      [
        "systemd-run",
        "--user",
        `--unit=${service}`,
        "/bin/sh",
        "-c",
        // The short pause before exiting is journald's due: it names a stdout line's unit from
        // the writer's cgroup, which it cannot read once a very short-lived process is gone
        // (the lines then carry no _SYSTEMD_USER_UNIT, seen on systemd 252 under load).
        "echo starting backup; echo copying /srv/data; echo 'error: disk full' >&2; sleep 0.5; exit 3",
      ],
      { env: manager.env, stdout: "pipe", stderr: "pipe" },
    );
    if (run.exitCode !== 0) throw new Error(`systemd-run: ${run.stderr.toString()}`);
    await until(
      "the unit's failure event, enriched",
      () => events(daemon.dbPath).some((e) => e.tier === "T3" && e.unit === service && e.detail.includes("Last lines before the failure:")),
      20_000,
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}; events: ${JSON.stringify(events(daemon.dbPath).map((e) => [e.rule, e.unit, e.summary, e.detail]))}`,
      );
    });
    const event = events(daemon.dbPath).find((e) => e.tier === "T3" && e.unit === service) as NonNullable<
      ReturnType<typeof events>[number]
    >;
    const lines = event.detail.split("\n");
    const at = lines.indexOf("Last lines before the failure:");
    expect(lines.slice(at + 1, at + 4).map((l) => l.replace(/^ {2}\d\d:\d\d:\d\d /, ""))).toEqual([
      "starting backup",
      "copying /srv/data",
      "error: disk full",
    ]);
    expect(event.detail).toContain("status=3");
  }, 30_000);

  test("a real timer whose service fails: one 'timer failed' event, not repeated by later polls", async () => {
    expect(systemctl("start", `${tick}.timer`).exitCode).toBe(0);
    await until("the timer-failed event", () => events(daemon.dbPath).some((e) => e.rule === "timer-failed"), 20_000);
    // Several more polls of the same failed run.
    await Bun.sleep(3_000);
    const failed = events(daemon.dbPath).filter((e) => e.rule === "timer-failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]?.tier).toBe("T3");
    expect(failed[0]?.unit).toBe(`${tick}.timer`);
    expect(failed[0]?.summary).toBe(`Timer failed: ${tick}.timer — ${tick}.service failed on its last run (exit 3)`);
    // The unit enricher adds the service's own lines to the timer's event too.
    expect(failed[0]?.detail).toContain("no space left");
  }, 40_000);

  test("a user service OOM-killed in its own memory cgroup: its failure names the OOM event", async () => {
    // cgroup v1: the user manager creates /sys/fs/cgroup/memory/app.slice/UNIT with the limit; the
    // kernel kills the main process (SIGKILL) and systemd reports result 'signal'.
    const script = "import sys\nprint('allocating', flush=True)\na = []\nwhile True: a.append(bytearray(1 << 20))";
    const run = Bun.spawnSync(["systemd-run", "--user", `--unit=${hog}`, "-p", "MemoryLimit=48M", "python3", "-c", script], {
      env: manager.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (run.exitCode !== 0) throw new Error(`systemd-run: ${run.stderr.toString()}`);
    await until(
      "the unit's failure event, enriched",
      () => events(daemon.dbPath).some((e) => e.tier === "T3" && e.unit === hog && e.detail.includes("Last lines before the failure:")),
      30_000,
    );
    const oom = events(daemon.dbPath).find((e) => e.tier === "T1");
    const failed = events(daemon.dbPath).find((e) => e.tier === "T3" && e.unit === hog);
    expect(oom).toBeDefined();
    expect(failed?.detail).toContain(`killed by the OOM killer, see event ${oom?.id}`);
    expect(failed?.summary).toBe(`Service failed: ${hog} — killed by the OOM killer`);
    expect(failed?.detail).toMatch(/\n  \d\d:\d\d:\d\d allocating\n/);
  }, 40_000);

  test("a user service that failed, started again by hand and running: its incident resolves at once, the phone's notification updated in place", async () => {
    const incidentOf = () =>
      withDb(
        daemon.dbPath,
        (db) =>
          db.query("SELECT id, state, resolution FROM incidents WHERE fingerprint = ?").get(`unit:${recovers}`) as {
            id: string;
            state: string;
            resolution: string | null;
          } | null,
      ) ?? null;
    const posts = () => ntfy.messages.filter((m) => m.tags.includes(recovers) || m.title.includes(recovers));
    // A simple service's start job is done once it is forked: the failure follows.
    expect(systemctl("start", recovers).exitCode).toBe(0);
    await until("the failure's alert", () => posts().length > 0, 30_000);
    const inc = incidentOf();
    expect(inc?.state).toBe("open");
    const eventsBefore = events(daemon.dbPath).filter((e) => e.unit === recovers).length;

    writeFileSync(recoverFlag, "");
    const startedMs = Date.now();
    expect(systemctl("start", recovers).exitCode).toBe(0);
    await until("the resolved post", () => posts().some((m) => m.title.includes("Resolved")), 20_000).catch((error: Error) => {
      throw new Error(`${error.message}; posts: ${JSON.stringify(posts().map((m) => m.title))}; incident: ${JSON.stringify(incidentOf())}`);
    });
    console.log(`FIGURE unit started again → resolved post received: ${Date.now() - startedMs} ms`);
    const resolved = posts().at(-1)!;
    expect(resolved.sequenceId).toBe(`logtriage-${inc!.id}`);
    expect(posts().every((m) => m.sequenceId === `logtriage-${inc!.id}`)).toBe(true);
    expect(resolved.message).toMatch(/^Resolved after \d+ s: active again\n/);
    expect(incidentOf()).toEqual({ id: inc!.id, state: "resolved", resolution: "active again" });
    // The Started line told the incident step; it is no event of its own.
    expect(events(daemon.dbPath).filter((e) => e.unit === recovers)).toHaveLength(eventsBefore);
  }, 60_000);
});
