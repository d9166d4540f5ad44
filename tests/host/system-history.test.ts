import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FIXTURES } from "../_fixtures.ts";
import {
  SystemHistory,
  SystemSampler,
  systemHistoryCapacity,
  systemSummaryLine,
  type SystemReading,
} from "../../src/host/system-history.ts";

function reading(timeS: number, over: Partial<SystemReading> = {}): SystemReading {
  return {
    timeUs: timeS * 1_000_000,
    cpuPercent: 10,
    memUsedKb: 940,
    memTotalKb: 1000,
    swapUsedKb: 0,
    swapTotalKb: 0,
    disks: [
      { mount: "/", usedPercent: 40 },
      { mount: "/srv", usedPercent: 87.4 },
    ],
    load1: 4.24,
    load5: 2,
    load15: 1,
    ...over,
  };
}

describe("system history", () => {
  test("holds 10 readings of the slowest service at the fastest service's rate", () => {
    expect(systemHistoryCapacity([30_000])).toBe(11);
    expect(systemHistoryCapacity([1_000, 30_000])).toBe(301);
    expect(systemHistoryCapacity([1_000, 86_400_000])).toBe(3_000);
  });

  test("is bounded: the oldest reading goes", () => {
    const h = new SystemHistory(3);
    for (let t = 1; t <= 5; t++) h.push(reading(t));
    expect(h.size).toBe(3);
    expect(h.readingsFor(0, 10).map((r) => r.timeUs / 1e6)).toEqual([3, 4, 5]);
  });

  test("a service probed every 30 s gets readings 30 s apart from a buffer fed every second", () => {
    const h = new SystemHistory(400);
    for (let t = 0; t <= 330; t++) h.push(reading(t));
    const picked = h.readingsFor(30_000, 10, 320 * 1_000_000, 1_000);
    expect(picked.map((r) => r.timeUs / 1e6)).toEqual([50, 80, 110, 140, 170, 200, 230, 260, 290, 320]);
  });

  test("the alert's one line: RAM, the fullest disk, load", () => {
    expect(systemSummaryLine(reading(1))).toBe("RAM: 94% | disk: 87% | load: 4.2");
    expect(systemSummaryLine(reading(1, { swapUsedKb: 512, swapTotalKb: 1024 }))).toBe("RAM: 94% | disk: 87% | load: 4.2 | swap: 50%");
    expect(systemSummaryLine(reading(1, { memUsedKb: null, disks: [], load1: null }))).toBe("RAM: ? | disk: ? | load: ?");
    expect(systemSummaryLine(null)).toBe("no system reading yet");
  });

  test("a proc root without the files: every /proc field unknown, memory still there, nothing thrown", () => {
    const sampler = new SystemSampler({
      procRoot: join(FIXTURES, "real", "proc-tree-missing"),
      readMemory: () => ({ memTotalKb: 2000, memAvailableKb: 500, swapTotalKb: 100, swapFreeKb: 100 }),
      statfs: () => ({ blocks: 100, bfree: 10, bavail: 10 }),
    });
    const r = sampler.sample(5);
    expect(r).toMatchObject({ timeUs: 5, cpuPercent: null, load1: null, memUsedKb: 1500, memTotalKb: 2000, swapUsedKb: 0, disks: [] });
  });

  test("on this machine's /proc: real numbers", () => {
    const sampler = new SystemSampler({ readMemory: () => null });
    sampler.sample(1);
    const r = sampler.sample(2);
    expect(r.load1).toBeGreaterThanOrEqual(0);
    expect(r.cpuPercent === null || (r.cpuPercent >= 0 && r.cpuPercent <= 100)).toBe(true);
    expect(r.disks.map((d) => d.mount)).toContain("/");
  });
});
