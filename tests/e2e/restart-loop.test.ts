import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { events, markerConfig, startDaemonOnSystem, until, type DaemonOnSystem, type DaemonUnderTest } from "./_daemon.ts";
import { isRoot, type UserManager } from "./_system.ts";

// A restart loop driven from outside, on the real system: a script restarts a real user unit
// with `systemctl --user restart` 10 times, each exit clean (SIGTERM on stop). systemd writes
// no "Scheduled restart job" and NRestarts stays 0 (systemd#29348); the compiled daemon must
// still raise one T3 event for it.

describe.skipIf(!isRoot)("restart loop driven by a script (root: real journald, real systemd --user)", () => {
  let system: DaemonOnSystem | undefined;
  let manager: UserManager;
  let daemon: DaemonUnderTest;
  const unit = `lt-e2e-extloop-${process.pid}.service`;

  beforeAll(async () => {
    system = await startDaemonOnSystem(markerConfig("loop"));
    ({ manager, daemon } = system);
  });

  afterAll(async () => {
    if (system) {
      Bun.spawnSync(["systemctl", "--user", "stop", unit], { env: manager.env });
      Bun.spawnSync(["systemctl", "--user", "reset-failed", unit], { env: manager.env });
    }
    await system?.stop();
  });

  test("10 restarts by systemctl within 2 minutes, clean exits: one unit-start-loop event", async () => {
    const started = Bun.spawnSync(["systemd-run", "--user", `--unit=${unit}`, "sleep", "infinity"], {
      env: manager.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(started.exitCode).toBe(0);
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) {
      const r = Bun.spawnSync(["systemctl", "--user", "restart", unit], { env: manager.env, stdout: "pipe", stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
      // systemd's default start limit (5 starts in 10 s) counts outside restarts too: a script
      // that restarts faster than that gets "start of the service was attempted too often".
      await Bun.sleep(2_500);
    }
    const loopMs = Date.now() - t0;
    expect(loopMs).toBeLessThan(120_000);
    const show = Bun.spawnSync(["systemctl", "--user", "show", unit, "-p", "NRestarts,Result"], {
      env: manager.env,
      stdout: "pipe",
    }).stdout.toString();
    expect(show).toContain("NRestarts=0");
    expect(show).toContain("Result=success");
    // Everything up to here has been read once the marker written after it is stored.
    Bun.spawnSync(["systemd-cat", "-t", "lt-loop-e2e"], { stdin: new TextEncoder().encode("marker done\n") });
    await until("the marker after the loop", () => events(daemon.dbPath).some((e) => e.summary === "loop marker done"), 20_000);
    const loop = events(daemon.dbPath).filter((e) => e.unit === unit);
    expect(loop.map((e) => e.rule)).toEqual(["unit-start-loop"]);
    expect(loop[0]?.tier).toBe("T3");
    console.log(
      `figure: ${unit} restarted 10 times by systemctl in ${(loopMs / 1000).toFixed(1)} s (NRestarts=0) → ${loop.length} event(s), ${loop[0]?.occurrences} occurrence(s): ${loop[0]?.summary}`,
    );
  }, 120_000);
});
