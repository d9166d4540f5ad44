import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { events, startDaemon, until, withDb, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, ensureUserManager, isRoot, type Journald, type UserManager } from "./_system.ts";

// A real crash handled by a real systemd-coredump: python3 dereferences NULL inside a transient
// user unit, so the journal gets all three lines about it — the kernel's segfault line, the
// coredump entry with its stack trace, and the manager's "Main process exited, code=dumped".
// The compiled daemon must make them one T2 event with the backtrace, and send one alert.
//
// Without systemd as PID 1 nobody listens on /run/systemd/coredump, where the kernel-invoked
// systemd-coredump hands the dump over; the test provides that socket activation as PID 1 would
// (tests/fixtures/real/README.md §6), and restores core_pattern and friends afterwards.

const SYSCTL = "/proc/sys";
const SETTINGS: Record<string, string> = {
  "kernel/core_pattern": "|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d",
  // The kernel waits for the handler before the process is reaped, so the unit's exit comes last.
  "kernel/core_pipe_limit": "16",
};
const COREDUMP_SOCKET = "/run/systemd/coredump";
const COREDUMP_DIR = "/var/lib/systemd/coredump";
const HAS_COREDUMP = existsSync("/lib/systemd/systemd-coredump") && Bun.which("systemd-socket-activate") !== null;

describe.skipIf(!isRoot || !HAS_COREDUMP)("crash end to end (root: real systemd-coredump, journald, systemd --user)", () => {
  let journald: Journald;
  let manager: UserManager;
  let ntfy: NtfyStandIn;
  let daemon: DaemonUnderTest | null = null;
  let activator: ReturnType<typeof Bun.spawn> | null = null;
  const saved = new Map<string, string>();
  const coresBefore = new Set(existsSync(COREDUMP_DIR) ? readdirSync(COREDUMP_DIR) : []);
  const unit = `lt-e2e-crash-${process.pid}.service`;

  beforeAll(async () => {
    journald = await ensureJournald();
    manager = await ensureUserManager();
    ntfy = await startNtfyStandIn({ rateLimit: null });
    for (const [key, value] of Object.entries(SETTINGS)) {
      saved.set(key, readFileSync(join(SYSCTL, key), "utf8").trim());
      writeFileSync(join(SYSCTL, key), value);
    }
    if (!existsSync(COREDUMP_SOCKET)) {
      activator = Bun.spawn(["systemd-socket-activate", "--seqpacket", "-a", "-l", COREDUMP_SOCKET, "/lib/systemd/systemd-coredump"], {
        stdout: "ignore",
        stderr: "ignore",
      });
      await until("the coredump socket", () => existsSync(COREDUMP_SOCKET));
    }
  });

  afterAll(async () => {
    // core_pattern first: whatever failed, the machine gets its own crash handling back.
    for (const [key, value] of saved) writeFileSync(join(SYSCTL, key), value);
    if (daemon && daemon.proc.exitCode === null) await daemon.crash();
    Bun.spawnSync(["systemctl", "--user", "stop", unit], { env: manager.env });
    Bun.spawnSync(["systemctl", "--user", "reset-failed", unit], { env: manager.env });
    if (activator) {
      activator.kill("SIGTERM");
      await activator.exited;
      rmSync(COREDUMP_SOCKET, { force: true });
    }
    if (existsSync(COREDUMP_DIR))
      for (const f of readdirSync(COREDUMP_DIR)) if (!coresBefore.has(f)) rmSync(join(COREDUMP_DIR, f), { force: true });
    await ntfy?.stop();
    await manager?.stop();
    await journald?.stop();
    if (daemon) rmSync(daemon.box.home, { recursive: true, force: true });
  });

  test("segfault line, coredump entry and unit exit: one T2 event with the backtrace, one alert", async () => {
    daemon = await startDaemon(`
[instance]
id = "crash-box"

[sources]
use = "journal"

[ntfy]
url = "${ntfy.url}/lt-crash"
`);
    await daemon.waitForOutput(/source journal/);
    await until("the daemon's journalctl", () => (daemon as DaemonUnderTest).journalctlPid() !== null);
    const run = Bun.spawnSync(["systemd-run", "--user", `--unit=${unit}`, "/usr/bin/python3", "-c", "import ctypes; ctypes.string_at(0)"], {
      env: manager.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(run.stderr.toString()).not.toContain("Failed");
    expect(run.exitCode).toBe(0);
    const dbPath = daemon.dbPath;

    const lines = () =>
      withDb(dbPath, (db) =>
        (db.query("SELECT lines_json FROM events WHERE tier = 'T2'").all() as { lines_json: string }[]).flatMap(
          (r) => JSON.parse(r.lines_json) as string[],
        ),
      ) ?? [];
    await until(
      "the unit's exit among the crash's lines",
      () => lines().some((l) => l.includes(`${unit}: Main process exited, code=dumped`)),
      20_000,
    );
    await until("the backtrace in the event", () => events(dbPath).some((e) => e.tier === "T2" && e.detail.includes("Backtrace")), 20_000);

    const t2 = events(dbPath).filter((e) => e.tier === "T2");
    expect(t2).toHaveLength(1);
    const event = t2[0] as (typeof t2)[number];
    expect(event.occurrences).toBe(1);
    expect(event.unit).toBe(unit);
    expect(lines().some((l) => /python3\[\d+\]: segfault at 0/.test(l))).toBe(true);
    expect(lines().some((l) => /of user 0 dumped core/.test(l))).toBe(true);
    expect(event.detail).toContain("Executable: /usr/bin/python3");
    expect(event.detail).toContain("Signal: SIGSEGV");
    expect(event.detail).toMatch(/#0 \S+ \(libc\.so\.6 \+ 0x[0-9a-f]+\)/);
    expect(event.detail).toMatch(/Phase: startup/);

    await until("the alert", () => ntfy.messages.length > 0, 10_000);
    // Room for a second alert to arrive if the merge had failed.
    await Bun.sleep(2000);
    expect(ntfy.messages).toHaveLength(1);
    expect(ntfy.messages[0]?.message).toContain("Signal: SIGSEGV");
    if (process.env["LT_PRINT"]) console.log(`${event.summary}\n${event.detail}`);
    expect((await daemon.stop()).code).toBe(0);
  }, 60_000);
});
