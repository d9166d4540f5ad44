import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Candidate, PressureFacts } from "../../src/event.ts";
import { describeCandidate } from "../../src/text/describe.ts";
import { parsePsi } from "../../src/parse/psi.ts";
import { MemoryHistory, type MemorySample } from "../../src/host/memory-history.ts";
import { sampleTopProcesses, TopProcessSampler } from "../../src/host/proc-sample.ts";
import { PressureEpisodes, PsiMonitor, readMemorySample, risingPressureCandidate } from "../../src/monitors/psi.ts";
import { fixturePath } from "../_fixtures.ts";

// Episodes are judged on the real PSI series captured while a cgroup thrashed its page cache
// (fixtures' README), continued by readings that fall back below the line.

const thresholds = { warnSomeAvg10: 50, warnFullAvg10: 10 };
const tmp = mkdtempSync(join(tmpdir(), "logtriage-psi-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function sample(i: number, some: number, full: number | null, extra: Partial<MemorySample> = {}): MemorySample {
  return {
    timeUs: 1_800_000_000_000_000 + i * 1_000_000,
    psi: { someAvg10: some, fullAvg10: full },
    memTotalKb: 24_000_000,
    memAvailableKb: 1_000_000,
    swapTotalKb: 0,
    swapFreeKb: 0,
    top: [],
    ...extra,
  };
}

/** The real thrash series (20 readings, 1 s apart), then the decay after it stopped. */
function realEpisode(): MemorySample[] {
  const rise = readFileSync(fixturePath("real/proc/pressure-memory-thrash-series.txt"), "utf8")
    .trim()
    .split("\n")
    .map((line, i) => {
      const psi = parsePsi(line.replace(" full", "\nfull"));
      if (!psi) throw new Error(`bad fixture line ${i}`);
      const top = [{ pid: 4242, comm: "python3", cmdline: "python3 -c …", rssKb: 60_000 + i * 100, owner: "lt_psi_cap" }];
      return sample(i, psi.some.avg10, psi.full?.avg10 ?? null, { memAvailableKb: 20_000_000 - i * 1000, top });
    });
  const fall = [9.1, 7.4, 6.0].map((full, i) => sample(20 + i, full, full, { memAvailableKb: 19_990_000 }));
  return [...rise, ...fall];
}

test("the real thrash episode: entered after two readings over full 10%, left after two below, one episode", () => {
  const episodes = new PressureEpisodes(thresholds);
  const ended: PressureFacts[] = [];
  for (const s of realEpisode()) {
    const done = episodes.push(s);
    if (done) ended.push(done);
  }
  expect(ended).toHaveLength(1);
  const e = ended[0] as PressureFacts;
  // Readings 11 and 12 (full 10.71%) are the first two over the line; 19 is the last.
  expect(e.startUs).toBe(sample(11, 0, 0).timeUs);
  expect(e.endUs).toBe(sample(19, 0, 0).timeUs);
  expect(e.peakSomeAvg10).toBe(13.28);
  expect(e.peakFullAvg10).toBe(13.01);
  expect(e.ended).toBe(true);
  expect(e.lowestMemAvailableKb).toBe(20_000_000 - 19 * 1000);
  expect(e.topAtPeak[0]?.comm).toBe("python3");
  expect(e.topAtPeak[0]?.owner).toBe("lt_psi_cap");
});

test("one reading over the line is a spike, not an episode; one below inside an episode does not end it", () => {
  const episodes = new PressureEpisodes(thresholds);
  expect([0, 60, 0, 0].map((v, i) => episodes.push(sample(i, v, 0)))).toEqual([null, null, null, null]);
  expect(episodes.active).toBe(false);
  const values = [60, 70, 40, 80, 40, 40];
  const results = values.map((v, i) => episodes.push(sample(10 + i, v, 0)));
  expect(results.slice(0, 5).every((r) => r === null)).toBe(true);
  expect(results[5]?.startUs).toBe(sample(10, 0, 0).timeUs);
  expect(results[5]?.endUs).toBe(sample(13, 0, 0).timeUs);
  expect(results[5]?.peakSomeAvg10).toBe(80);
});

test("an episode still rising after 10 s is told once while it lasts; one easing off or level by then is not", () => {
  const episodes = new PressureEpisodes(thresholds);
  const top = [{ pid: 7, comm: "firefox", cmdline: "firefox", rssKb: 9_542_000, owner: "app-firefox.scope" }];
  const told: (PressureFacts | null)[] = [];
  for (let i = 0; i < 16; i++) {
    const s = sample(i, 55 + i, 0, { top });
    episodes.push(s);
    told.push(episodes.rising(s));
  }
  // Entered at reading 1 (two over the line from reading 0); 10 s later is reading 10.
  expect(told.findIndex((t) => t !== null)).toBe(10);
  expect(told.filter((t) => t !== null)).toHaveLength(1);
  const rising = told[10] as PressureFacts;
  expect(rising.ended).toBe(false);
  expect(rising.endUs - rising.startUs).toBe(10_000_000);
  expect(risingPressureCandidate(rising).summary).toBe("Memory pressure rising for 10 s: some 65% / full 0% (largest: firefox 9.1 GB)");
  expect(risingPressureCandidate(rising).tier).toBe("T5");

  const easing = new PressureEpisodes(thresholds);
  const seen = [80, 80, 79, 78, 77, 76, 75, 74, 73, 72, 71, 71, 71, 70].map((v, i) => {
    const s = sample(i, v, 0);
    easing.push(s);
    return easing.rising(s);
  });
  expect(seen.every((t) => t === null)).toBe(true);
});

test("an episode still open at stop is closed as it stands and says so", () => {
  const episodes = new PressureEpisodes(thresholds);
  episodes.push(sample(0, 60, 0));
  episodes.push(sample(1, 65, 0));
  const open = episodes.finish();
  expect(open?.ended).toBe(false);
  expect(episodes.finish()).toBeNull();
});

test("the monitor: every reading in the history, 1 s readings while over the line, one T5 event per episode", async () => {
  const series = [sample(0, 0, 0), sample(1, 0, 0), ...realEpisode().slice(10), sample(30, 0, 0)];
  const memory = new MemoryHistory();
  const waits: number[] = [];
  const controller = new AbortController();
  let i = 0;
  const emitted: Candidate[] = [];
  const monitor = new PsiMonitor({
    memory,
    pollIntervalMs: 5_000,
    ...thresholds,
    log: { debug() {} },
    read: () => {
      const s = series[i++] as MemorySample;
      if (i === series.length) controller.abort();
      return s;
    },
    wait: async (ms) => {
      waits.push(ms);
    },
  });
  await monitor.run(controller.signal, (c) => emitted.push(c));
  expect(memory.size).toBe(series.length);
  expect(emitted).toHaveLength(1);
  const c = emitted[0] as Candidate;
  expect(c.tier).toBe("T5");
  expect(c.rule).toBe("psi-memory-pressure");
  expect(c.summary).toBe("Memory pressure: 8 s, peak some 13% / full 13% (largest: python3)");
  const detail = describeCandidate(c);
  expect(detail).toContain("Memory pressure lasted 8 s (11 readings).");
  expect(detail).toContain("Peak PSI: some avg10 13.3%, full avg10 13.0% (warning at some 50% / full 10%).");
  expect(detail).toContain("1. python3 (pid 4242, lt_psi_cap)");
  // Calm readings wait the poll interval; from the first reading over the line, 1 s.
  expect(waits.slice(0, 3)).toEqual([5_000, 5_000, 5_000]);
  expect(waits.slice(3, 10).every((ms) => ms === 1_000)).toBe(true);
  expect(waits[waits.length - 1]).toBe(5_000);
});

test("readMemorySample on the real /proc: PSI, MemAvailable and this test among the processes it can see", () => {
  const s = readMemorySample(Date.now() * 1000, new TopProcessSampler(5, 4));
  expect(s.memTotalKb).toBeGreaterThan(0);
  expect(s.memAvailableKb).toBeGreaterThan(0);
  expect(s.psi === null || s.psi.someAvg10 >= 0).toBe(true);
  expect(s.top.length).toBeGreaterThan(0);
  expect(s.top.length).toBeLessThanOrEqual(5);
  // Biggest first, each with a name.
  for (let k = 1; k < s.top.length; k++)
    expect((s.top[k - 1] as { rssKb: number }).rssKb).toBeGreaterThanOrEqual((s.top[k] as { rssKb: number }).rssKb);
  expect(s.top.every((p) => p.comm.length > 0)).toBe(true);
  // Large enough to rank: this bun process holds more than a few MB.
  const all = sampleTopProcesses(10_000, 4);
  const self = all.find((p) => p.pid === process.pid);
  expect(self?.rssKb).toBeGreaterThan(10_000);
});

test("sampleTopProcesses over a proc tree of real captures: the largest kept, vanished ones skipped", () => {
  const root = join(tmp, "proc");
  const make = (pid: number, statm: string, files = true) => {
    const dir = join(root, String(pid));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "statm"), statm);
    if (!files) return;
    writeFileSync(join(dir, "comm"), readFileSync(fixturePath("real/proc/pid-user-unit-comm.txt")));
    writeFileSync(join(dir, "cmdline"), readFileSync(fixturePath("real/proc/pid-user-unit-cmdline.bin")));
    writeFileSync(join(dir, "cgroup"), readFileSync(fixturePath("real/proc/pid-user-unit-cgroup.txt")));
  };
  make(100, readFileSync(fixturePath("real/proc/pid-user-unit-statm.txt"), "utf8"));
  make(200, "1000 10 5 1 0 5 0\n");
  make(300, "900000 500000 0 1 0 5 0\n", false); // its comm vanished between the two reads
  make(400, "1000 0 0 1 0 0 0\n"); // a kernel thread: no resident pages
  mkdirSync(join(root, "self"), { recursive: true });
  const top = sampleTopProcesses(2, 4, root);
  expect(top.map((p) => p.pid)).toEqual([100]);
  expect(top[0]).toEqual({
    pid: 100,
    comm: "python3",
    cmdline: "/usr/bin/python3 -c import time; b = bytearray(40*1024*1024…",
    rssKb: 12289 * 4,
    owner: "lt-capture-30761.service",
  });
  expect(sampleTopProcesses(5, 4, root).map((p) => p.pid)).toEqual([100, 200]);
});

test("TopProcessSampler: a process seen before is reused (same object while its RSS holds), a new one at the same pid is read afresh", () => {
  const root = join(tmp, "proc-reuse");
  const dir = join(root, "100");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "statm"), "1000 500 0 1 0 5 0\n");
  writeFileSync(join(dir, "comm"), "python3\n");
  writeFileSync(join(dir, "cmdline"), "python3\0hog.py\0");
  writeFileSync(join(dir, "cgroup"), "0::/app.slice/hog.service\n");
  const sampler = new TopProcessSampler(5, 4, root);
  const [first] = sampler.sample();
  const [again] = sampler.sample();
  expect(again).toBe(first as NonNullable<typeof first>);
  writeFileSync(join(dir, "statm"), "1000 600 0 1 0 5 0\n");
  writeFileSync(join(dir, "cmdline"), "changed\0");
  const [grown] = sampler.sample();
  expect(grown).toEqual({ pid: 100, comm: "python3", cmdline: "python3 hog.py", rssKb: 2400, owner: "hog.service" });
  // The pid was reused by another program: everything is read again.
  writeFileSync(join(dir, "comm"), "sleep\n");
  const [other] = sampler.sample();
  expect(other).toEqual({ pid: 100, comm: "sleep", cmdline: "changed", rssKb: 2400, owner: "hog.service" });
});
