import { expect, test } from "bun:test";
import { IdleFloor, parseMemoryReading, readMemory, settleAfterBursts, stormLeftMemory, trimAfterBurst } from "../../src/daemon/settle.ts";

test("after a burst and a quiet spell the memory is trimmed once; no burst trims nothing", async () => {
  let entries = 0;
  const trims: number[] = [];
  const timer = settleAfterBursts({
    entriesRead: () => entries,
    burstEntries: 1000,
    quietMs: 20,
    trickleRate: 0,
    minGapMs: 0,
    relockAfterMs: 0,
    onTrim: (_r, n) => trims.push(n),
  });
  try {
    entries = 500;
    await Bun.sleep(100);
    expect(trims).toEqual([]);
    entries = 5000;
    // The burst just happened: not quiet yet at the next look, quiet at the one after.
    const deadline = Date.now() + 2000;
    while (trims.length === 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(trims).toEqual([5000]);
    await Bun.sleep(100);
    expect(trims).toEqual([5000]);
  } finally {
    clearInterval(timer);
  }
});

test("the trim runs on the real libc: every mapping of the executable advised (Linux 5.4+)", async () => {
  const r = await trimAfterBurst(0);
  expect(r.error).toBeNull();
  expect(r.ranges).toBeGreaterThan(0);
});

test("the caches are released before the trim; a release that fails is reported, the trim still runs", async () => {
  let released = 0;
  const ok = await trimAfterBurst(0, () => released++);
  expect(released).toBe(1);
  expect(ok.error).toBeNull();
  const failed = await trimAfterBurst(0, () => {
    throw new Error("database is locked");
  });
  expect(failed.error).toBe("caches not released: database is locked");
  expect(failed.ranges).toBeGreaterThan(0);
});

test("parseMemoryReading takes VmRSS and RssAnon from /proc/PID/status; null when either is missing", () => {
  const status = "Name:\tlogtriage\nVmHWM:\t   70000 kB\nVmRSS:\t   35600 kB\nRssAnon:\t    9800 kB\nRssFile:\t   25800 kB\n";
  expect(parseMemoryReading(status)).toEqual({ rssKb: 35600, anonKb: 9800 });
  expect(parseMemoryReading("VmRSS:\t 100 kB\n")).toBeNull();
  expect(readMemory()?.rssKb).toBeGreaterThan(0);
});

test("a storm left memory when the heap stays above its idle floor by more than a tenth of idle RSS, and 2 MB", () => {
  const idle = { rssKb: 35_600, anonKb: 9_800 };
  // Measured after a 200,000-line storm and the trim's full collection: +6.3 MB of heap.
  expect(stormLeftMemory(idle, { rssKb: 38_000, anonKb: 16_100 })).toBe(true);
  // Within a tenth of idle RSS (3.56 MB): what a smaller burst leaves.
  expect(stormLeftMemory(idle, { rssKb: 45_000, anonKb: 13_000 })).toBe(false);
  // File pages (the binary's) do not count: they come and go on their own.
  expect(stormLeftMemory(idle, { rssKb: 60_000, anonKb: 10_000 })).toBe(false);
  // On a tiny idle figure, at least 2 MB.
  expect(stormLeftMemory({ rssKb: 10_000, anonKb: 2_000 }, { rssKb: 12_000, anonKb: 3_900 })).toBe(false);
  expect(stormLeftMemory({ rssKb: 10_000, anonKb: 2_000 }, { rssKb: 12_000, anonKb: 4_100 })).toBe(true);
});

test("the idle floor is the reading with the least heap", () => {
  const floor = new IdleFloor();
  expect(floor.get()).toBeNull();
  floor.observe({ rssKb: 36_000, anonKb: 10_000 });
  floor.observe(null);
  floor.observe({ rssKb: 70_000, anonKb: 31_000 });
  floor.observe({ rssKb: 35_000, anonKb: 9_500 });
  expect(floor.get()).toEqual({ rssKb: 35_000, anonKb: 9_500 });
});
