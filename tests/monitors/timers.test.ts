import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { type RunResult, type Runner } from "../../src/run.ts";
import { TimersMonitor, timerStaleness, timerStateKey } from "../../src/monitors/timers.ts";
import { openStore } from "../../src/store/db.ts";
import { loadMonitorState } from "../../src/store/monitor-state.ts";
import { FIXTURES } from "../_fixtures.ts";
import { missingTool } from "../_builders.ts";

// The timers monitor against a fake Runner that answers like this VM's real systemd 252: the
// user manager with the captured `systemctl show` output (tests/fixtures/real/README.md), the
// system manager with the real "Failed to connect to bus" of a machine without systemd as PID 1.

const real = (name: string) => readFileSync(join(FIXTURES, "real", name), "utf8");
const HOUR_US = 3_600_000_000;
// lt-cap-mono.timer last fired at 00:38:35 UTC (OnUnitActiveSec=1h); its service then exited 3.
const LAST_TRIGGER_US = Date.parse("2026-11-23T00:38:35Z") * 1000;

interface Logged {
  level: string;
  text: string;
}

let db: Database;
let logged: Logged[];
beforeEach(() => {
  db = openStore(":memory:");
  logged = [];
});
afterEach(() => db.close());

const log = {
  warn: (text: string) => logged.push({ level: "warn", text }),
  info: (text: string) => logged.push({ level: "info", text }),
  debug: (text: string) => logged.push({ level: "debug", text }),
} as never;

function ok(stdout: string): RunResult {
  return { exitCode: 0, stdout, stderr: "", timedOut: false };
}

/** Serves the captures; `services` replaces the services' show output (a recovered run). */
function systemd(services = real("systemctl-show-timer-services.txt"), calls: string[][] = []): Runner {
  return {
    run: async (argv) => {
      calls.push(argv);
      const user = argv.includes("--user");
      if (argv.includes("systemd-analyze")) return ok(real("systemd-analyze-calendar.txt"));
      if (!user) return { exitCode: 1, stdout: "", stderr: real("systemctl-no-system-manager.stderr.txt"), timedOut: false };
      if (argv.includes("list-units")) return ok(real("systemctl-list-timers.txt"));
      if (argv.some((a) => a.endsWith(".service"))) return ok(services);
      return ok(real("systemctl-show-timers.txt"));
    },
  };
}

function monitor(runner: Runner, nowUs: number, watch = ["lt-cap-mono.timer", "lt-cap-cal.timer"]) {
  return new TimersMonitor({ watch, all: false, pollIntervalMs: 1_000, db, runner, log, nowUs: () => nowUs });
}

const signal = new AbortController().signal;
const recovered = real("systemctl-show-timer-services.txt").replace(
  "Result=exit-code\nExecMainExitTimestamp=@1795394315\nExecMainCode=1\nExecMainStatus=3",
  "Result=success\nExecMainExitTimestamp=@1795394315\nExecMainCode=1\nExecMainStatus=0",
);

test("a failed last run: one 'timer failed' event naming the service and its exit code", async () => {
  const events = await monitor(systemd(), LAST_TRIGGER_US + 60_000_000).pollOnce(signal);
  expect(events.map((e) => e.summary)).toEqual(["Timer failed: lt-cap-mono.timer — lt-cap-mono.service failed on its last run (exit 3)"]);
  expect(events[0]).toMatchObject({
    tier: "T3",
    severity: "medium",
    rule: "timer-failed",
    unit: "lt-cap-mono.timer",
    timestampUs: 1795394315_000_000,
  });
  expect(events[0]!.facts).toMatchObject({
    kind: "unit",
    unit: "lt-cap-mono.service",
    result: "exit-code",
    exitCode: "exited",
    exitStatus: "3",
  });
  // the system manager is unreachable here: said once, not as a warning
  expect(logged.filter((l) => l.text.includes("system manager")).map((l) => l.level)).toEqual(["info"]);
});

test("not repeated on the next poll, nor after a restart (state in monitor_state)", async () => {
  const now = LAST_TRIGGER_US + 60_000_000;
  expect(await monitor(systemd(), now).pollOnce(signal)).toHaveLength(1);
  expect(await monitor(systemd(), now).pollOnce(signal)).toHaveLength(0);
  expect(loadMonitorState(db, timerStateKey("user", "lt-cap-mono.timer"))).toMatchObject({ stale: false });
});

test("a recovered run is forgotten, so the next failure alerts again", async () => {
  const now = LAST_TRIGGER_US + 60_000_000;
  expect(await monitor(systemd(), now).pollOnce(signal)).toHaveLength(1);
  expect(await monitor(systemd(recovered), now).pollOnce(signal)).toHaveLength(0);
  expect(loadMonitorState(db, timerStateKey("user", "lt-cap-mono.timer"))).toEqual({ stale: false, failed: null });
  expect((await monitor(systemd(), now).pollOnce(signal)).map((e) => e.rule)).toEqual(["timer-failed"]);
});

test("stale after more than 2× its interval without firing; a timer never fired is not stale", async () => {
  const m = monitor(systemd(recovered), LAST_TRIGGER_US + 2 * HOUR_US + 1);
  const events = await m.pollOnce(signal);
  expect(events.map((e) => e.summary)).toEqual([
    "Timer stale: lt-cap-mono.timer has not fired for 2 h 0 m (interval 1 h 0 m, OnUnitActiveSec/OnUnitInactiveSec)",
  ]);
  expect(events[0]).toMatchObject({
    tier: "T3",
    severity: "medium",
    rule: "timer-stale",
    unit: "lt-cap-mono.timer",
    facts: { kind: "plain" },
  });
  // still stale on the next poll: not repeated
  expect(await m.pollOnce(signal)).toHaveLength(0);
  expect(await monitor(systemd(recovered), LAST_TRIGGER_US + 2 * HOUR_US - 1).pollOnce(signal)).toHaveLength(0);
});

test("the interval of a calendar spec comes from systemd-analyze, asked once per spec", async () => {
  const calls: string[][] = [];
  const m = monitor(systemd(recovered, calls), LAST_TRIGGER_US);
  const [, cal] = (await import("../../src/parse/systemd-show.ts")).parseTimerShow(real("systemctl-show-timers.txt"));
  expect(await m.intervalOf(cal!, signal)).toEqual({ us: 24 * HOUR_US, how: "OnCalendar=*-*-* 03:30:00" });
  await m.intervalOf(cal!, signal);
  expect(calls.filter((a) => a.includes("systemd-analyze"))).toHaveLength(1);
});

test("a watched timer no manager knows: one warning naming it and the fix", async () => {
  const m = monitor(systemd(), LAST_TRIGGER_US, ["lt-cap-mono.timer", "lt-nothere.timer"]);
  await m.pollOnce(signal);
  await m.pollOnce(signal);
  const warnings = logged.filter((l) => l.level === "warn");
  expect(warnings).toHaveLength(1);
  expect(warnings[0]!.text).toContain("lt-nothere.timer");
  expect(warnings[0]!.text).toContain("systemctl list-timers --all");
});

test("systemctl missing: one warning, no events, the poll does not throw", async () => {
  const missing = missingTool;
  const m = monitor(missing, LAST_TRIGGER_US);
  expect(await m.pollOnce(signal)).toEqual([]);
  expect(await m.pollOnce(signal)).toEqual([]);
  expect(logged.filter((l) => l.level === "warn")).toHaveLength(1);
});

test("all = true lists the user manager's timers", async () => {
  const calls: string[][] = [];
  const m = new TimersMonitor({
    watch: [],
    all: true,
    pollIntervalMs: 1_000,
    db,
    runner: systemd(undefined, calls),
    log,
    nowUs: () => LAST_TRIGGER_US,
  });
  await m.pollOnce(signal);
  const show = calls.find((a) => a.includes("--user") && a.includes("show") && a.some((x) => x.endsWith(".timer")));
  expect(show?.slice(show.indexOf("--") + 1)).toEqual([
    "lt-cap-cal.timer",
    "lt-cap-mono.timer",
    "lt-capture-backup.timer",
    "lt-capture-daily.timer",
    "lt-capture-ok.timer",
  ]);
});

describe("timerStaleness: from the schedule, after a reboot too", () => {
  const hourly = { us: HOUR_US, how: "OnUnitActiveSec=1h" };
  const now = Date.parse("2026-12-06T12:00:00Z") * 1000;
  test.each([
    ["fired 30 min ago", { lastTriggerUs: now - HOUR_US / 2, nextElapseUs: null, activeEnterUs: null }, now - 10 * HOUR_US, null],
    [
      "last fired 3 h ago",
      { lastTriggerUs: now - 3 * HOUR_US, nextElapseUs: null, activeEnterUs: null },
      now - 10 * HOUR_US,
      "has not fired for 3 h 0 m",
    ],
    [
      "no Persistent=: never fired since a boot 3 h ago",
      { lastTriggerUs: null, nextElapseUs: null, activeEnterUs: null },
      now - 3 * HOUR_US,
      "has not fired since the machine booted 3 h 0 m ago",
    ],
    [
      "Persistent=: last fired before a boot 1 h ago, 3 h ago",
      { lastTriggerUs: now - 3 * HOUR_US, nextElapseUs: null, activeEnterUs: null },
      now - HOUR_US,
      "has not fired for 3 h 0 m",
    ],
    [
      "started 1 h ago on a machine up for days, not fired yet: not yet stale",
      { lastTriggerUs: null, nextElapseUs: null, activeEnterUs: now - HOUR_US },
      now - 100 * HOUR_US,
      null,
    ],
    [
      "started 3 h ago, never fired",
      { lastTriggerUs: null, nextElapseUs: null, activeEnterUs: now - 3 * HOUR_US },
      now - 100 * HOUR_US,
      "has not fired since it was started 3 h 0 m ago",
    ],
    [
      "fresh boot 1 h ago, not fired yet: not yet stale",
      { lastTriggerUs: null, nextElapseUs: null, activeEnterUs: null },
      now - HOUR_US,
      null,
    ],
    [
      "due 20 min ago and did not fire",
      { lastTriggerUs: now - 80 * 60_000_000, nextElapseUs: now - 20 * 60_000_000, activeEnterUs: null },
      now - 10 * HOUR_US,
      "was due 20 m 0 s ago and did not fire",
    ],
    [
      "due 2 min ago: within AccuracySec and slack",
      { lastTriggerUs: now - 62 * 60_000_000, nextElapseUs: now - 2 * 60_000_000, activeEnterUs: null },
      now - 10 * HOUR_US,
      null,
    ],
  ] as const)("%s", (_name, timer, bootUs, why) => {
    const stale = timerStaleness(timer, hourly, now, bootUs);
    if (why === null) expect(stale).toBeNull();
    else expect(stale?.why).toBe(why);
  });
});
