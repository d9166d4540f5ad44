import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  events,
  eventsHoldingCursor,
  markerConfig,
  startDaemonOnSystem,
  until,
  withDb,
  type DaemonOnSystem,
  type DaemonUnderTest,
} from "./_daemon.ts";
import { isRoot, logLine, type UserManager } from "./_system.ts";

// Many services restarted at once on the real system: four real user units restarted by one
// `systemctl --user restart` (as a package upgrade or a watchdog script does), then a manager
// reexec and a stop of the same units. The compiled daemon must store one mass-restart event in
// one incident of its own, nothing per unit, and nothing for the reexec or the stop.

describe.skipIf(!isRoot)("mass restart (root: real journald, real systemd --user)", () => {
  let system: DaemonOnSystem | undefined;
  let manager: UserManager;
  let daemon: DaemonUnderTest;
  const units = ["a", "b", "c", "d"].map((n) => `lt-e2e-mass-${n}-${process.pid}.service`);
  const systemctl = (...args: string[]) =>
    Bun.spawnSync(["systemctl", "--user", ...args], { env: manager.env, stdout: "pipe", stderr: "pipe" });

  async function marker(word: string): Promise<void> {
    // Everything written before the marker has been read once the marker is stored. Waited on
    // by its cursor: a second marker is an occurrence of the first one's event (one rule, one
    // unit: this test's own cgroup), so its summary never shows.
    const cursor = await logLine("lt-mass-e2e", `marker ${word}`);
    try {
      await until(`the marker ${word}`, () => eventsHoldingCursor(daemon.dbPath, cursor) > 0, 20_000);
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; events: ${events(daemon.dbPath)
          .map((e) => e.summary)
          .join(" | ")}; daemon output:\n${daemon.output()}`,
      );
    }
  }

  beforeAll(async () => {
    system = await startDaemonOnSystem(markerConfig("mass"));
    ({ manager, daemon } = system);
  });

  afterAll(async () => {
    if (system) for (const unit of units) systemctl("stop", unit);
    await system?.stop();
  });

  test("four units restarted by one systemctl restart: one mass-restart event and incident; a reexec and stopping them add nothing", async () => {
    for (const unit of units) {
      const started = Bun.spawnSync(["systemd-run", "--user", `--unit=${unit}`, "sleep", "infinity"], {
        env: manager.env,
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(started.exitCode).toBe(0);
    }
    const restart = systemctl("restart", ...units);
    expect(restart.stderr.toString()).toBe("");
    await marker("restarted");
    const mass = events(daemon.dbPath).filter((e) => e.rule === "mass-restart");
    expect(mass.map((e) => `${e.tier} ${e.unit}`)).toEqual(["T3 null"]);
    // The three restarts that made it a mass restart, in the order systemd ran the jobs.
    const named =
      /^Mass restart: 3 units restarted within 1 min: (.+) \(a package upgrade, a watchdog or a script restarting services\?\)$/
        .exec(mass[0]?.summary ?? "")?.[1]
        ?.split(", ") ?? [];
    expect(named).toHaveLength(3);
    for (const unit of named) expect(units).toContain(unit);
    expect(events(daemon.dbPath).filter((e) => e.unit !== null && units.includes(e.unit))).toEqual([]);
    const incidents =
      withDb(
        daemon.dbPath,
        (db) => db.query("SELECT fingerprint FROM incidents WHERE kind = 'restarts'").all() as { fingerprint: string }[],
      ) ?? [];
    expect(incidents.map((i) => i.fingerprint)).toEqual(["restarts:mass"]);

    // With a reexec of the manager between them, as a package upgrade does (the same lines,
    // captured: tests/fixtures/real/daemon-reexec-then-mass-stop.jsonl).
    expect(systemctl("daemon-reexec").exitCode).toBe(0);
    expect(systemctl("stop", ...units).exitCode).toBe(0);
    await marker("stopped");
    expect(
      events(daemon.dbPath)
        .filter((e) => e.rule === "mass-restart")
        .map((e) => e.occurrences),
    ).toEqual([1]);
    expect(events(daemon.dbPath).filter((e) => e.unit !== null && units.includes(e.unit))).toEqual([]);
    console.log(`figure: ${units.length} units restarted by one systemctl --user restart → ${mass.length} event: ${mass[0]?.summary}`);
  }, 90_000);
});
