import { describe, expect, test } from "bun:test";
import { parseDuration } from "../../src/config/duration.ts";
import { formatDuration } from "../../src/text/format.ts";

describe("parseDuration", () => {
  test.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["90d", 7_776_000_000],
    ["2w", 1_209_600_000],
    ["1h30m", 5_400_000],
    ["1d12h", 129_600_000],
    ["1m30s500ms", 90_500],
    ["1.5h", 5_400_000],
    ["0", 0],
    ["0s", 0],
    [" 5m ", 300_000],
  ])("%s → %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each([
    [""],
    ["   "],
    ["-5m"],
    ["5"],
    ["300"],
    ["5 minutes"],
    ["5 m"],
    ["5M"],
    ["5y"],
    ["m"],
    ["1h-30m"],
    ["1h 30m"],
    [".5h"],
    ["5m!"],
    ["1e3s"],
    ["99999999999999999999w"],
  ])("rejects %p", (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe("formatDuration", () => {
  test.each([
    [0, "0s"],
    [500, "500ms"],
    [30_000, "30s"],
    [300_000, "5m"],
    [5_400_000, "1h30m"],
    [7_776_000_000, "90d"],
    [90_500, "1m30s500ms"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test("round-trips through parseDuration", () => {
    for (const ms of [1, 999, 61_000, 3_723_004, 1_209_600_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
