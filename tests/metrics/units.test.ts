import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createLog } from "../../src/log.ts";
import { renderExposition } from "../../src/metrics/exposition.ts";
import { parseShowTimestamp, parseSystemctlShow } from "../../src/parse/systemd-show.ts";
import { pickLoaded, secondsSinceActive, showArgv, UnitReader, unitFamilies } from "../../src/metrics/units.ts";
import type { Runner, RunOptions, RunResult } from "../../src/run.ts";
import { fixturePath } from "../_fixtures.ts";
import { PROMTOOL, promtoolCheckMetrics, promtoolMissing } from "./_promtool.ts";

// tests/fixtures/real/systemctl-show-user-units.txt: a real systemd 252 user manager's answer
// for a restart-looping service, a running one, a timer, the timer's service and a unit that
// does not exist (how it was captured: tests/fixtures/real/README.md).
const SHOW = readFileSync(fixturePath("real/systemctl-show-user-units.txt"), "utf8");
const UNITS = [
  "lt-capture-loop.service",
  "lt-capture-ok.service",
  "lt-capture-tick.timer",
  "lt-capture-tick.service",
  "no-such-unit.service",
];
// The capture was taken at about this time (InactiveEnterTimestamp of the loop is @1795394052).
const NOW_US = 1_795_394_060_000_000;

// "Failed to connect to bus" is what `systemctl show` (system manager) says on this VM, where
// systemd is not PID 1.
const NO_SYSTEM_BUS: RunResult = {
  exitCode: 1,
  stdout: "",
  stderr: "Failed to connect to bus: No such file or directory\n",
  timedOut: false,
};

class CapturedRunner implements Runner {
  readonly calls: string[][] = [];
  async run(argv: string[], _opts: RunOptions): Promise<RunResult> {
    this.calls.push(argv);
    return argv.includes("--user") ? { exitCode: 0, stdout: SHOW, stderr: "", timedOut: false } : NO_SYSTEM_BUS;
  }
}

const quietLog = createLog("error");

describe("systemctl show output", () => {
  const shows = parseSystemctlShow(SHOW, UNITS);

  test("each unit asked for has its block, whatever order systemd printed the properties in", () => {
    expect([...shows.keys()]).toEqual(UNITS);
    const loop = shows.get("lt-capture-loop.service");
    expect(loop).toEqual({
      id: "lt-capture-loop.service",
      loadState: "loaded",
      activeState: "activating",
      subState: "auto-restart",
      nRestarts: 167,
      execMainCode: 1,
      execMainStatus: 3,
      inactiveEnterUs: 1_795_394_052_000_000,
      lastTriggerUs: null,
    });
    expect(shows.get("no-such-unit.service")?.loadState).toBe("not-found");
  });

  test("a timer has LastTriggerUSec in UTC words and no NRestarts", () => {
    const timer = shows.get("lt-capture-tick.timer");
    expect(timer?.lastTriggerUs).toBe(Date.UTC(2026, 10, 23, 0, 34, 12) * 1000);
    expect(timer?.nRestarts).toBeNull();
  });

  test.each([
    ["@1795394052", 1_795_394_052_000_000],
    ["@1795394052.5", 1_795_394_052_500_000],
    ["Mon 2026-11-23 00:34:12 UTC", 1_795_394_052_000_000],
    ["", null],
    ["n/a", null],
    ["Mon 2026-11-23 01:34:12 CET", null],
  ])("timestamp %j → %p", (text, us) => {
    expect(parseShowTimestamp(text)).toBe(us);
  });

  test("blocks are paired by Id when systemctl printed fewer than were asked", () => {
    const firstTwo = SHOW.split("\n\n").slice(0, 2).join("\n\n");
    const shows2 = parseSystemctlShow(firstTwo, UNITS);
    expect([...shows2.keys()]).toEqual(["lt-capture-loop.service", "lt-capture-ok.service"]);
  });
});

describe("unit metrics", () => {
  const readings = pickLoaded(UNITS, new Map(), parseSystemctlShow(SHOW, UNITS));

  test("a unit neither manager loads has no series", () => {
    expect(readings.has("no-such-unit.service")).toBe(false);
    expect(readings.get("lt-capture-loop.service")?.manager).toBe("user");
  });

  test("the four metrics of a restart loop: not active, 167 restarts, exit 3, seconds since it last failed", () => {
    const text = renderExposition(unitFamilies(readings, NOW_US));
    expect(text).toContain('systemd_unit_active{unit="lt-capture-loop.service",sub_state="auto-restart"} 0\n');
    expect(text).toContain('systemd_unit_restart_count_total{unit="lt-capture-loop.service"} 167\n');
    expect(text).toContain('systemd_unit_last_exit_status{unit="lt-capture-loop.service"} 3\n');
    expect(text).toContain('systemd_unit_seconds_since_active{unit="lt-capture-loop.service"} 8\n');
    expect(text).toContain('systemd_unit_active{unit="lt-capture-ok.service",sub_state="running"} 1\n');
    expect(text).toContain('systemd_service_restart_total{name="lt-capture-loop.service"} 167\n');
    expect(text).toContain('systemd_unit_state{name="lt-capture-loop.service",state="activating",type="service"} 1\n');
    // A service that never ran has no exit status to report.
    expect(text).not.toContain('systemd_unit_last_exit_status{unit="lt-capture-ok.service"}');
  });

  test("a timer's seconds since active count from its last trigger, so a timer that stops firing grows", () => {
    const timer = readings.get("lt-capture-tick.timer")?.show;
    if (!timer) throw new Error("timer missing from the capture");
    expect(secondsSinceActive(timer, NOW_US)).toBe(8);
    expect(secondsSinceActive(timer, NOW_US + 3_600_000_000)).toBe(3608);
  });

  test("the rendered unit metrics pass promtool check metrics", () => {
    if (!PROMTOOL) return promtoolMissing("unit metrics");
    const r = promtoolCheckMetrics(renderExposition(unitFamilies(readings, NOW_US)));
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("UnitReader", () => {
  test("asks each manager once for all units, under TZ=UTC with unix timestamps", async () => {
    const runner = new CapturedRunner();
    const reader = new UnitReader({ units: UNITS, runner, log: quietLog });
    const readings = await reader.read(1_000);
    expect(readings.get("lt-capture-loop.service")?.show.nRestarts).toBe(167);
    expect(runner.calls).toEqual([showArgv("system", UNITS), showArgv("user", UNITS)]);
    // The user manager is found under /run/user/UID when the daemon has no XDG_RUNTIME_DIR.
    const userArgv = (runner.calls[1] ?? []).filter((a) => !a.startsWith("XDG_RUNTIME_DIR="));
    expect(userArgv.slice(0, 5)).toEqual(["env", "TZ=UTC", "systemctl", "--user", "show"]);
    if (!process.env["XDG_RUNTIME_DIR"]) expect(runner.calls[1]).toContain(`XDG_RUNTIME_DIR=/run/user/${process.getuid?.() ?? 0}`);
  });

  test("scrapes inside the cache window share one read; after it, systemctl runs again", async () => {
    const runner = new CapturedRunner();
    const reader = new UnitReader({ units: UNITS, runner, log: quietLog, cacheMs: 5_000 });
    await Promise.all([reader.read(1_000), reader.read(1_000), reader.read(3_000), reader.read(5_999)]);
    expect(runner.calls.length).toBe(2);
    await reader.read(6_000);
    expect(runner.calls.length).toBe(4);
  });

  test("no systemctl at all: no unit series, no throw", async () => {
    const missing: Runner = {
      run: async (argv) => {
        throw new Error(`cannot run ${argv[0]}: ENOENT`);
      },
    };
    const reader = new UnitReader({ units: UNITS, runner: missing, log: quietLog });
    expect((await reader.read(0)).size).toBe(0);
  });
});
