import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { cli } from "../cli/_run.ts";
import { events, startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, isRoot, type Journald } from "./_system.ts";

// logtriage's own blindness on the real system: the compiled daemon follows a real journald
// that this test started; the test kills that journald (kill -9, by its pid) and starts a new
// one: the "blind" alert reaches the ntfy stand-in (it alerts whatever the tiers say), and
// "sees again" resolves that incident, updating the same notification in place. The two
// delays are printed: journald killed → "blind" alert, journald back → the update.

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

function journal(line: string): void {
  const p = Bun.spawnSync(["systemd-cat", "-t", "lt-blind-e2e", "-p", "err"], { stdin: new TextEncoder().encode(`${line}\n`) });
  if (p.exitCode !== 0) throw new Error(`systemd-cat: ${p.stderr.toString()}`);
}

describe.skipIf(!isRoot)("blindness end to end (root: a journald of the test's own, killed and restarted)", () => {
  let journald: Journald;
  let ntfy: NtfyStandIn;
  let daemon: DaemonUnderTest;

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
    journal("marker before");
    await until(
      "the marker before the kill to be stored",
      () => events(daemon.dbPath).some((e) => e.summary === "blind marker before"),
      20_000,
    );
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
    // Not asserted: that a line written to the new journald is then read. After a kill -9 the
    // restarted reader still missed it in most runs here (docs/watching.md, known gap).
    console.log(
      `figure: journald killed → blind alert at the stand-in ${blindAlertMs} ms; journald started → sees-again alert ${seesAgainMs} ms`,
    );
  }, 90_000);
});
