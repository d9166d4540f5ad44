import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { cli } from "../cli/_run.ts";
import { events, eventsHoldingCursor, startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, isRoot, logLine, type Journald } from "./_system.ts";

// logtriage's own blindness on the real system: the compiled daemon follows a real journald
// that this test started; the test kills that journald (kill -9, by its pid) and starts a new
// one: the "blind" alert reaches the ntfy stand-in (it alerts whatever the tiers say), and
// "sees again" resolves that incident, updating the same notification in place. The two
// delays are printed: journald killed → "blind" alert, journald back → the update. A line
// logged before the kill and one logged after the new journald started are each stored once.

const TOPIC = "lt-e2e-blind";

function config(ntfyUrl: string): string {
  return `
[instance]
id = "e2e-blind"

[ntfy]
url = "${ntfyUrl}/${TOPIC}"
timeout = "2s"

[[rules.custom]]
name = "lt-blind-marker"
tier = "T5"
identifier = "lt-blind-e2e"
pattern = "marker (?<process>\\\\w+)"
summary = "blind marker {process}"
`;
}

const IDENTIFIER = "lt-blind-e2e";

describe.skipIf(!isRoot)("blindness end to end (root: a journald of the test's own, killed and restarted)", () => {
  let journald: Journald;
  let ntfy: NtfyStandIn;
  let daemon: DaemonUnderTest;
  let beforeCursor: string;

  beforeAll(async () => {
    journald = await ensureJournald();
    // Killing a journald this test did not start would take the machine's logging away.
    if (!journald.ours)
      throw new Error(
        "a journald is already running that this test did not start; it kills journald, so stop that one first (or run under flock /tmp/lt-e2e.lock with no other journald)",
      );
    ntfy = await startNtfyStandIn({ rateLimit: null });
    daemon = await startDaemon(config(ntfy.url));
    await daemon.waitForOutput(/source journal/);
    await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
    beforeCursor = await logLine(IDENTIFIER, "marker before", "err");
    await until("the marker before the kill to be stored", () => eventsHoldingCursor(daemon.dbPath, beforeCursor) > 0, 20_000);
  });

  afterAll(async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.stop();
    await ntfy?.stop();
    if (journald?.ours && journald.pid() === null) await journald.start();
    await journald?.stop();
    if (daemon) rmSync(daemon.box.home, { recursive: true, force: true });
  });

  test("journald killed → blind alert; journald back → sees-again alert with how long", async () => {
    const killedAt = Date.now();
    const pid = journald.pid();
    await journald.kill();
    await until("the blindness alert at the stand-in", () => ntfy.messages.some((m) => m.title.includes("logtriage is blind")), 20_000);
    const blindAlertMs = Date.now() - killedAt;
    const blind = ntfy.messages.find((m) => m.title.includes("logtriage is blind"));
    expect(blind?.title).toContain(`journald (pid ${pid}) stopped`);
    expect(blind?.message).toContain("Fix: start systemd-journald");
    expect(blind?.sequenceId).toMatch(/^logtriage-/);

    const status = JSON.parse(cli(daemon.box, ["status", "--json"]).stdout) as { blind: { subject: string; cause: string }[] };
    expect(status.blind.map((b) => b.subject)).toEqual(["journald"]);

    const restartedAt = Date.now();
    await journald.start();
    // One incident, one notification: "sees again" resolves it, updating the blind alert in place.
    const resolved = () => ntfy.messages.find((m) => m.sequenceId === blind?.sequenceId && m.title.includes("Resolved"));
    try {
      await until("the blind alert updated to resolved at the stand-in", () => resolved() !== undefined, 20_000);
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; messages: ${ntfy.messages.map((m) => m.title).join(" | ")}; daemon output:\n${daemon.output()}`,
      );
    }
    const seesAgainMs = Date.now() - restartedAt;
    const back = resolved();
    expect(back?.message).toMatch(/^Resolved after \d+/);
    expect(back?.message).toContain("sees again: journald is back after");
    expect(JSON.parse(cli(daemon.box, ["status", "--json"]).stdout).blind).toEqual([]);

    const stored = events(daemon.dbPath).filter((e) => e.rule === "logtriage-blind");
    expect(stored.map((e) => (JSON.parse(e.facts_json) as { blindness: { state: string } }).blindness.state)).toEqual([
      "blind",
      "sees-again",
    ]);
    // journald back means lines flow again: one logged now is read and stored, once, and the
    // reader resumed from its cursor without reading the line before the kill again. (Both
    // come from this test's cgroup, so the second may be stored as an occurrence of the first
    // event rather than as an event of its own: the cursors tell.)
    const afterLoggedAt = Date.now();
    const afterCursor = await logLine(IDENTIFIER, "marker after", "err");
    try {
      await until(
        "the marker logged after journald's return to be stored",
        () => eventsHoldingCursor(daemon.dbPath, afterCursor) > 0,
        20_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; daemon output:\n${daemon.output()}`);
    }
    const afterStoredMs = Date.now() - afterLoggedAt;
    expect([eventsHoldingCursor(daemon.dbPath, beforeCursor), eventsHoldingCursor(daemon.dbPath, afterCursor)]).toEqual([1, 1]);
    console.log(
      `figure: journald killed → blind alert at the stand-in ${blindAlertMs} ms; journald started → sees-again alert ${seesAgainMs} ms; ` +
        `a line logged after that → stored ${afterStoredMs} ms`,
    );
  }, 90_000);
});
