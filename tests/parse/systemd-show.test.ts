import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCalendarIntervals, parseServiceShow, parseTimerList, parseTimerShow, parseTimespan } from "../../src/parse/systemd-show.ts";
import { FIXTURES } from "../_fixtures.ts";

// Real captures from a systemd 252 user manager on this VM (tests/fixtures/real/README.md).
const real = (name: string) => readFileSync(join(FIXTURES, "real", name), "utf8");

describe("parseTimerShow", () => {
  const timers = parseTimerShow(real("systemctl-show-timers.txt"));

  test("one timer per block, in the order asked", () => {
    expect(timers.map((t) => t.id)).toEqual(["lt-cap-mono.timer", "lt-cap-cal.timer", "lt-nothere.timer"]);
  });

  test("a monotonic timer: its unit, last trigger and the repeating OnUnitActiveSec (OnActiveSec does not repeat)", () => {
    const t = timers[0]!;
    expect(t.loaded).toBe(true);
    expect(t.unit).toBe("lt-cap-mono.service");
    expect(t.lastTriggerUs).toBe(Date.parse("2026-11-23T00:38:35Z") * 1000);
    expect(t.repeatUs).toEqual([3_600_000_000]);
    expect(t.calendars).toEqual([]);
  });

  test("a calendar timer keeps its normalized spec; not yet fired, no last trigger", () => {
    expect(timers[1]!.calendars).toEqual(["*-*-* 03:30:00"]);
    expect(timers[1]!.lastTriggerUs).toBeNull();
    expect(timers[1]!.repeatUs).toEqual([]);
  });

  test("a timer no manager knows is not loaded and never fired", () => {
    expect(timers[2]!.loaded).toBe(false);
    expect(timers[2]!.lastTriggerUs).toBeNull();
  });
});

test("parseServiceShow: the failed run's result, exit status and when it ended", () => {
  const [mono, cal] = parseServiceShow(real("systemctl-show-timer-services.txt"));
  expect(mono).toEqual({
    id: "lt-cap-mono.service",
    result: "exit-code",
    execMainCode: 1,
    execMainStatus: 3,
    inactiveEnterUs: 1795394315_000_000,
  });
  expect(cal).toEqual({ id: "lt-cap-cal.service", result: "success", execMainCode: 0, execMainStatus: 0, inactiveEnterUs: null });
});

test("parseCalendarIntervals: the gap between the next two elapses, per spec", () => {
  expect(parseCalendarIntervals(real("systemd-analyze-calendar.txt"))).toEqual([86_400_000_000, 7 * 86_400_000_000]);
  expect(parseCalendarIntervals("Failed to parse calendar specification 'nope': Invalid argument\n")).toEqual([null]);
});

test("parseTimerList: names from list-units", () => {
  expect(parseTimerList(real("systemctl-list-timers.txt"))).toEqual([
    "lt-cap-cal.timer",
    "lt-cap-mono.timer",
    "lt-capture-backup.timer",
    "lt-capture-daily.timer",
    "lt-capture-ok.timer",
  ]);
  expect(parseTimerList("")).toEqual([]);
});

test("parseTimespan: systemd's printed spans", () => {
  expect(parseTimespan("1h")).toBe(3_600_000_000);
  expect(parseTimespan("1d 2h 30min")).toBe((26 * 60 + 30) * 60_000_000);
  expect(parseTimespan("24.632751s")).toBe(24_632_751);
  expect(parseTimespan("soon")).toBeNull();
  expect(parseTimespan("")).toBeNull();
});
