import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, sandbox, type Sandbox } from "../cli/_run.ts";
import { until } from "./_daemon.ts";
import { ensureUserManager, isRoot, type UserManager } from "./_system.ts";

// The compiled daemon as a real systemd service (a transient user unit on a real
// `systemd --user`): Type=notify reaches active only through READY=1, STATUS= shows up in
// systemctl, the working set is locked (root: CAP_IPC_LOCK), and a wedged database
// (another process holding its write lock) stops the watchdog pings until systemd restarts it.

describe.skipIf(!isRoot)("daemon under systemd (root: real systemd --user manager)", () => {
  let manager: UserManager;
  let box: Sandbox;
  const unit = `lt-notify-${process.pid}.service`;

  const systemctl = (...args: string[]) =>
    Bun.spawnSync(["systemctl", "--user", ...args], { env: manager.env, stdout: "pipe", stderr: "pipe" });
  const show = (property: string) => systemctl("show", "-p", property, "--value", unit).stdout.toString().trim();

  beforeAll(async () => {
    manager = await ensureUserManager();
    box = sandbox();
    // /dev/kmsg: no journald needed for this test.
    writeFileSync(join(box.configDir, "config.toml"), `[sources]\nuse = "kmsg"\n`);
  });

  afterAll(async () => {
    if (manager) {
      systemctl("stop", unit);
      systemctl("reset-failed", unit);
      await manager.stop();
    }
    if (box) rmSync(box.home, { recursive: true, force: true });
  });

  test("Type=notify: systemd-run returns once READY=1 arrives; STATUS= and the memory lock are there", async () => {
    const started = Date.now();
    const run = Bun.spawnSync(
      [
        "systemd-run",
        "--user",
        `--unit=${unit}`,
        "-p",
        "Type=notify",
        "-p",
        "NotifyAccess=main",
        "-p",
        "WatchdogSec=4",
        "-p",
        "Restart=on-failure",
        "-p",
        "RestartSec=500ms",
        "-p",
        "TimeoutStartSec=20",
        ...Object.entries(box.env).flatMap(([k, v]) => ["--setenv", `${k}=${v}`]),
        BIN,
        "daemon",
      ],
      { env: manager.env, stdout: "pipe", stderr: "pipe" },
    );
    expect(run.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(show("ActiveState")).toBe("active");
    expect(show("SubState")).toBe("running");
    await until("a STATUS= line", () => show("StatusText").startsWith("kmsg: "), 10_000);
    const pid = Number(show("MainPID"));
    // The lock comes after the start-up trim (2 s in). Root has CAP_IPC_LOCK; a user manager
    // could not raise LimitMEMLOCK past its own 8 MB. VmLck counts the locked mappings'
    // virtual size (gigabytes of JSC reservations)...
    await until("mlockall", () => Number(/^VmLck:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) > 0, 10_000);
    await Bun.sleep(1000);
    // ...but MCL_ONFAULT faults nothing in: RSS stays the trimmed working set.
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    expect(rssKb).toBeLessThan(40_000);
  }, 60_000);

  test("a database nobody can write to withholds the watchdog ping; systemd restarts the daemon, which recovers", async () => {
    const firstPid = Number(show("MainPID"));
    expect(show("NRestarts")).toBe("0");
    const dbPath = join(box.dataDir, "events.db");
    mkdirSync(box.dataDir, { recursive: true });
    // Another process holds SQLite's write lock for 12 s: every heartbeat write fails.
    const holder = Bun.spawn(
      [
        "python3",
        "-c",
        `import sqlite3, time\nc = sqlite3.connect(${JSON.stringify(dbPath)}, isolation_level=None)\nc.execute("BEGIN EXCLUSIVE")\nprint("locked", flush=True)\ntime.sleep(12)`,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const reader = holder.stdout.getReader();
    await reader.read();
    await until("systemd to restart the daemon", () => Number(show("NRestarts")) >= 1, 30_000, 200);
    await holder.exited;
    await until("the restarted daemon to be active", () => show("ActiveState") === "active" && show("SubState") === "running", 30_000, 200);
    expect(Number(show("MainPID"))).not.toBe(firstPid);
    const log = Bun.spawnSync(["journalctl", "--user-unit", unit, "--no-pager", "-o", "cat"], { stdout: "pipe" }).stdout.toString();
    // Whether the journal has it depends on a journald running; systemd's own view is enough.
    if (log) expect(log).toMatch(/watchdog|not answering/i);
  }, 90_000);
});
