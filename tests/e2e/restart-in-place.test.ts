import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventsHoldingCursor, startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, isRoot, logLine, type Journald } from "./_system.ts";

// Restart in place on a real journald: SIGHUP stops the compiled daemon cleanly and execs it
// again with the same pid, the configuration read anew. Every line logged before, during and
// after is stored exactly once, no descriptor is carried into the fresh image, and a
// configuration that does not load is refused while the daemon runs on.

const ID = `lt-reexec-${process.pid}`;

function rulesToml(patterns: string[]): string {
  return patterns
    .map((p) => `[[rules.custom]]\nname = "lt-reexec-${p}"\ntier = "T4"\nidentifier = "${ID}"\npattern = "^${p}"\n`)
    .join("\n");
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

describe.skipIf(!isRoot)("restart in place (root: real journald)", () => {
  let journald: Journald;
  let daemon: DaemonUnderTest | null = null;
  beforeAll(async () => {
    journald = await ensureJournald();
  });
  afterAll(async () => {
    if (daemon) {
      await daemon.stop();
      rmSync(daemon.box.home, { recursive: true, force: true });
    }
    await journald?.stop();
  });

  test("SIGHUP: same pid, the new configuration, every line stored once, no descriptor carried over", async () => {
    daemon = await startDaemon(rulesToml(["boom"]));
    const d = daemon;
    const configPath = join(d.box.configDir, "config.toml");
    const pid = d.proc.pid;
    await until("the daemon's journalctl", () => d.journalctlPid() !== null);
    const start = await logLine(ID, "boom before", "err");
    await until("the first line stored", () => eventsHoldingCursor(d.dbPath, start) === 1);
    const fdsAtStart = fds(pid);

    writeFileSync(configPath, rulesToml(["boom", "bang"]));
    process.kill(pid, "SIGHUP");
    // Logged while the daemon stops and starts again: read by one image or the other, once.
    const during = await logLine(ID, "boom during", "err");
    await d.waitForOutput(/restarted in place: SIGHUP: reloading the configuration/);
    expect(d.proc.exitCode).toBeNull();
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain("daemon");
    const after = await logLine(ID, "bang after", "err");
    await until("the lines around the restart stored", () => eventsHoldingCursor(d.dbPath, after) === 1, 20_000);
    await until("the line logged during the restart stored", () => eventsHoldingCursor(d.dbPath, during) === 1);
    expect(eventsHoldingCursor(d.dbPath, start)).toBe(1);
    expect(eventsHoldingCursor(d.dbPath, during)).toBe(1);
    // The fresh image opens what it needs anew; a descriptor carried over would add to these
    // for good (a moment's extra one, a monitor's pipe, goes away).
    await until(`no more descriptors than the first image had (${fdsAtStart})`, () => fds(pid) <= fdsAtStart);

    // A configuration that does not load: refused, the daemon runs on as it was.
    writeFileSync(configPath, "[rules\nbroken =");
    process.kill(pid, "SIGHUP");
    await d.waitForOutput(/SIGHUP: configuration not reloaded, running on with the one loaded at start: .*config\.toml/);
    const still = await logLine(ID, "bang still", "err");
    await until("a line after the refused reload stored", () => eventsHoldingCursor(d.dbPath, still) === 1);
    expect(d.proc.exitCode).toBeNull();
    expect(d.output().match(/restarted in place/g)?.length).toBe(1);

    const stopped = await d.stop();
    expect(stopped.code).toBe(0);
    daemon = null;
    rmSync(d.box.home, { recursive: true, force: true });
  }, 90_000);
});
